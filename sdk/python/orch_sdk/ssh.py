"""SSH sessions opened by the host on the pack's behalf (the `ssh` import): commands, interactive
shells for network-device CLIs, and SFTP.

The host checks the pack's ssh grant, verifies the host key, and logs in with a vault credential
the pack names but never sees. Every session is closed when the invocation ends.

    from orch_sdk.ssh import Session

    session = Session.connect("R1")                      # an inventory device, by name
    out = session.exec("uptime", timeout=10)
    shell = session.shell()
    shell.read_until(r"R1[>#]\\s*$")                      # the login banner and prompt
    shell.elevate("enable", r"R1#\\s*$", credential="r1-enable")
    config = shell.command("show running-config", r"R1#\\s*$")
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Union

from . import backend
from .errors import HostError

#: `Shell.elevate` methods: which command the host types.
ELEVATIONS = ("enable", "super", "su", "sudo")


@dataclasses.dataclass(frozen=True)
class Target:
    """What to connect to: an inventory device by name (`Target.inventory("R1")`, or just
    `"R1"`), or an address (`Target.address("10.0.0.1", 22)`)."""

    inventory_name: Optional[str] = None
    host: Optional[str] = None
    port: int = 22

    @classmethod
    def inventory(cls, name: str) -> "Target":
        return cls(inventory_name=name)

    @classmethod
    def address(cls, host: str, port: int = 22) -> "Target":
        return cls(host=host, port=port)

    def __str__(self) -> str:
        # How tests and messages name a target: the inventory name, or `host:port`.
        return self.inventory_name if self.inventory_name is not None else f"{self.host}:{self.port}"


@dataclasses.dataclass
class ExecOutput:
    """What a command produced; `exit_status` is None when a signal ended it."""

    stdout: str
    stderr: str
    exit_status: Optional[int]

    @property
    def ok(self) -> bool:
        """Whether the command exited with status 0."""
        return self.exit_status == 0


def _ms(seconds: Optional[float]) -> Optional[int]:
    return None if seconds is None else max(0, min(int(seconds * 1000), 2**32 - 1))


class Session:
    """An authenticated SSH connection; open it with `Session.connect`."""

    def __init__(self, inner: Any, target: Target) -> None:
        self._inner = inner
        self.target = target

    @classmethod
    def connect(
        cls,
        target: Union[Target, str],
        credential: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> "Session":
        """Connects and logs in. A string target is an inventory device's name. Raises
        HostError `denied` without a grant, `host_key` for an unknown or changed host key,
        `auth_failed` when the server refuses the credential."""
        if isinstance(target, str):
            target = Target.inventory(target)
        host = backend.current(f"ssh connect to {target}")
        return cls(host.ssh_connect(target, credential, _ms(timeout)), target)

    def exec(self, command: str, timeout: Optional[float] = 60) -> ExecOutput:
        """Runs `command` and waits for it to end (timeout in seconds)."""
        stdout, stderr, status = self._inner.exec(command, _ms(timeout))
        return ExecOutput(stdout, stderr, status)

    def shell(
        self, term: Optional[str] = None, width: Optional[int] = None, height: Optional[int] = None
    ) -> "Shell":
        """Opens an interactive shell on a pseudo-terminal (default `vt100`, 511x24)."""
        return Shell(self._inner.shell(term, width, height))

    def sftp_get(self, path: str, max_bytes: Optional[int] = None) -> bytes:
        """Reads a remote file by SFTP (at most `max_bytes`, default and maximum 16 MiB)."""
        return bytes(self._inner.sftp_get(path, max_bytes))

    def sftp_put(self, path: str, data: Union[bytes, str], mode: Optional[int] = None) -> None:
        """Writes a remote file by SFTP, replacing it; `mode` sets its permissions (0o644)."""
        self._inner.sftp_put(path, data.encode() if isinstance(data, str) else data, mode)


class Shell:
    """An interactive shell of a session. See ssh.wit for how secrets are typed (`elevate`,
    `send_secret`): only on a shell the pack has not typed into."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def send(self, text: str) -> None:
        """Sends `text` as typed (add `\\n` to end a line)."""
        self._inner.send(text)

    def send_line(self, line: str) -> None:
        """Sends `line` and a newline."""
        self._inner.send(line + "\n")

    def elevate(
        self,
        method: str,
        privileged_prompt: str,
        credential: Optional[str] = None,
        prompt: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> str:
        """Reaches a privileged mode, the host typing the command of `method` (`enable`,
        `super`, `su` or `sudo`) and, at a password prompt, the password of `credential`.
        Returns what was read through `privileged_prompt` (a regular expression)."""
        if method not in ELEVATIONS:
            raise HostError("invalid", f"unknown elevation {method!r}; use one of {', '.join(ELEVATIONS)}")
        return self._inner.elevate(method, credential, privileged_prompt, prompt, _ms(timeout))

    def send_secret(self, credential: str) -> None:
        """Types the secret of `credential` and a newline, answering a password prompt the
        device shows on its own."""
        self._inner.send_secret(credential)

    def read_until(self, pattern: str, timeout: float = 15) -> str:
        """Reads until the output matches the regular expression `pattern`; returns everything
        read, the match included. Raises HostError `timeout` naming the tail."""
        return self._inner.read_until(pattern, _ms(timeout) or 0)

    def read(self, timeout: float = 1) -> str:
        """Returns what arrived within `timeout` seconds (possibly nothing)."""
        return self._inner.read(_ms(timeout) or 0)

    def command(self, command: str, prompt: str, timeout: float = 30) -> str:
        """Runs one CLI command: sends it, reads until `prompt` matches, and returns the output
        without the echoed command line and the prompt line, with `\\r\\n` as `\\n`."""
        self.send_line(command)
        return command_output(self.read_until(prompt, timeout), command)


def command_output(raw: str, command: str) -> str:
    """The output of `command` in `raw` (what `read_until` returned after sending it): without
    the echoed command line, without the last line (the prompt)."""
    lines = [line[:-1] if line.endswith("\r") else line for line in raw.split("\n")]
    lines.pop()  # `read_until` stops at the prompt's match: the last line is the prompt
    if lines and lines[0].rstrip().endswith(command.strip()):
        lines.pop(0)
    return "\n".join(lines)
