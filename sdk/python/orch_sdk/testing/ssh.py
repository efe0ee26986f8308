"""The test host's SSH: rules for connecting (`on_connect`), exec (`on_exec`), lines typed into
shells (`on_line`) and elevation (`on_elevate`); remote files for SFTP; and the record of what
the action sent (`connections`, `commands`, `secrets`).

A shell behaves like a device's CLI on a pseudo-terminal: it opens showing the prompt, and a
typed line comes back echoed, followed by the rule's output and the prompt again, so
`Shell.command` and `Shell.read_until` work as against a device. Patterns are Python regular
expressions here; the host uses Rust's `regex`, which agrees on the common syntax (no
look-around or backreferences there).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, Optional, Tuple

from ..errors import HostError
from ..ssh import Target
from .unscripted import unscripted

#: The prompt a shell shows when no `TestSsh.prompt` was set.
DEFAULT_PROMPT = "device#"

_ELEVATION_COMMANDS = {"enable": "enable", "super": "super", "su": "su -", "sudo": "sudo -i"}


@dataclasses.dataclass
class SshConnection:
    """A session the action opened: its target and the credential it named."""

    target: Target
    credential: Optional[str]


@dataclasses.dataclass
class SentSecret:
    """A secret the host typed for the action: the credential, and the elevation method
    (None for `send_secret`)."""

    credential: Optional[str]
    elevation: Optional[str]


class _Rule:
    def __init__(self, rules: List["_Rule"], key: str, target: Optional[str]) -> None:
        self._rules = rules
        self.key = key
        self.target_name = target
        self.prompt_after: Optional[str] = None
        self.answer: Any = None  # (stdout, stderr, exit status) or HostError

    def target(self, target: str) -> "_Rule":
        """Only for sessions to `target` (an inventory name, or `host:port`)."""
        self.target_name = target
        return self

    def fail(self, code: str, message: str) -> None:
        """Fails the call as the host would (`timeout`, `auth_failed`, ...)."""
        self.answer = HostError(code, message)
        self._rules.append(self)

    def _matches(self, key: str, target: str) -> bool:
        return self.key == key and self.target_name in (None, target)

    def _output(self) -> Tuple[str, str, Optional[int]]:
        if isinstance(self.answer, HostError):
            raise HostError(self.answer.code, self.answer.message)
        return self.answer


class ExecRule(_Rule):
    """The answer to a command run with `Session.exec`."""

    def reply(self, stdout: str, stderr: str = "", exit_status: Optional[int] = 0) -> None:
        self.answer = (stdout, stderr, exit_status)
        self._rules.append(self)


class LineRule(_Rule):
    """The answer to a line typed into a shell."""

    def prompt(self, prompt: str) -> "LineRule":
        """The prompt the shell shows from then on (`R1(config)#`)."""
        self.prompt_after = prompt
        return self

    def reply(self, output: str = "") -> None:
        self.answer = (output, "", 0)
        self._rules.append(self)


class ElevateRule(_Rule):
    """The answer to `Shell.elevate`: what the device prints and its privileged prompt."""

    def reply(self, output: str, privileged_prompt: str) -> None:
        self.answer = (output, "", 0)
        self.prompt_after = privileged_prompt
        self._rules.append(self)


class TestSsh:
    """The SSH side of a `TestHost`."""

    __test__ = False

    def __init__(self) -> None:
        self._prompt = DEFAULT_PROMPT
        self._connects: List[_Rule] = []
        self._execs: List[_Rule] = []
        self._lines: List[_Rule] = []
        self._elevations: List[_Rule] = []
        self._files: Dict[str, bytes] = {}
        self._connections: List[SshConnection] = []
        self._commands: List[str] = []
        self._secrets: List[SentSecret] = []

    def prompt(self, prompt: str) -> "TestSsh":
        """The prompt shells show when they open (default `device#`)."""
        self._prompt = prompt
        return self

    def on_connect(self, target: str) -> _Rule:
        """A rule for connecting to `target`; connections succeed unless one says `fail`."""
        return _Rule(self._connects, target, None)

    def on_exec(self, command: str, target: Optional[str] = None) -> ExecRule:
        """A rule for `command` run with exec (on any target, or on `target`)."""
        return ExecRule(self._execs, command, target)

    def on_line(self, line: str, target: Optional[str] = None) -> LineRule:
        """A rule for `line` typed into a shell."""
        return LineRule(self._lines, line, target)

    def on_elevate(self, method: str, target: Optional[str] = None) -> ElevateRule:
        """A rule for `Shell.elevate` with `method` (`enable`, `super`, `su`, `sudo`)."""
        return ElevateRule(self._elevations, method, target)

    def file(self, path: str, contents: Any) -> "TestSsh":
        """A remote file for `sftp_get`."""
        self._files[path] = contents.encode() if isinstance(contents, str) else bytes(contents)
        return self

    def file_contents(self, path: str) -> Optional[bytes]:
        """A remote file, as the action left it (after `sftp_put`)."""
        return self._files.get(path)

    @property
    def connections(self) -> List[SshConnection]:
        return list(self._connections)

    @property
    def commands(self) -> List[str]:
        """Every command run with exec and line typed into a shell, in order."""
        return list(self._commands)

    @property
    def secrets(self) -> List[SentSecret]:
        return list(self._secrets)

    def _connect(self, target: Target, credential: Optional[str]) -> "_Session":
        name = str(target)
        self._connections.append(SshConnection(target, credential))
        for rule in self._connects:
            if rule.key == name:
                rule._output()
        return _Session(self, name)

    def _find(self, rules: List[_Rule], key: str, target: str, call: str, fix: str) -> _Rule:
        for rule in rules:
            if rule._matches(key, target):
                return rule
        raise unscripted(call, fix)


class _Session:
    def __init__(self, ssh: TestSsh, target: str) -> None:
        self._ssh = ssh
        self._target = target

    def exec(self, command: str, timeout_ms: Optional[int]) -> Tuple[str, str, Optional[int]]:
        self._ssh._commands.append(command)
        rule = self._ssh._find(
            self._ssh._execs, command, self._target,
            f"the command {command!r} run on {self._target}",
            f"host.ssh.on_exec({command!r}).reply(...)",
        )
        return rule._output()

    def shell(self, term: Optional[str], width: Optional[int], height: Optional[int]) -> "_Shell":
        return _Shell(self._ssh, self._target)

    def sftp_get(self, path: str, max_bytes: Optional[int]) -> bytes:
        data = self._ssh._files.get(path)
        if data is None:
            raise HostError(
                "not_found",
                f"no remote file {path!r} on {self._target} in the test host; add one with "
                f"host.ssh.file({path!r}, ...)",
            )
        if max_bytes is not None and len(data) > max_bytes:
            raise HostError("too_large", f"remote file {path!r} is {len(data)} bytes, over the cap of {max_bytes}")
        return data

    def sftp_put(self, path: str, data: bytes, mode: Optional[int]) -> None:
        self._ssh._files[path] = bytes(data)


class _Shell:
    def __init__(self, ssh: TestSsh, target: str) -> None:
        self._ssh = ssh
        self._target = target
        self._prompt = ssh._prompt
        self._unread = ssh._prompt
        # Whether the pack typed anything: the host then refuses to type secrets.
        self._typed = False

    def send(self, text: str) -> None:
        self._typed = True
        for line in text.splitlines(keepends=True):
            line = line.rstrip("\r\n")
            self._ssh._commands.append(line)
            rule = self._ssh._find(
                self._ssh._lines, line, self._target,
                f"the line {line!r} typed into a shell of {self._target}",
                f"host.ssh.on_line({line!r}).reply(...)",
            )
            output, _, _ = rule._output()
            self._print(f"{line}\r\n", output, rule.prompt_after)

    def elevate(self, method: str, credential: Optional[str], privileged_prompt: str,
                prompt: Optional[str], timeout_ms: Optional[int]) -> str:
        self._refuse_after_typing("elevate")
        self._ssh._secrets.append(SentSecret(credential, method))
        rule = self._ssh._find(
            self._ssh._elevations, method, self._target,
            f"elevation by {method} on {self._target}",
            f"host.ssh.on_elevate({method!r}).reply(...)",
        )
        output, _, _ = rule._output()
        self._print(f"{_ELEVATION_COMMANDS[method]}\r\n", output, rule.prompt_after)
        return self.read_until(privileged_prompt, 0)

    def send_secret(self, credential: str) -> None:
        self._refuse_after_typing("send_secret")
        self._ssh._secrets.append(SentSecret(credential, None))
        self._unread += "***\r\n"

    def read_until(self, pattern: str, timeout_ms: int) -> str:
        try:
            regex = re.compile(pattern)
        except re.error as err:
            raise HostError("invalid", f"invalid pattern {pattern!r}: {err}") from None
        found = regex.search(self._unread)
        if found is None:
            raise HostError(
                "timeout",
                f"the test host's shell of {self._target} never printed {pattern!r}; it printed "
                f"{self._unread[-80:]!r} (script the line's output or the prompt with host.ssh)",
            )
        read, self._unread = self._unread[: found.end()], self._unread[found.end():]
        return read

    def read(self, timeout_ms: int) -> str:
        read, self._unread = self._unread, ""
        return read

    def _print(self, echo: str, output: str, prompt: Optional[str]) -> None:
        if prompt is not None:
            self._prompt = prompt
        self._unread += echo
        if output:
            self._unread += output if output.endswith("\n") else output + "\r\n"
        self._unread += self._prompt

    def _refuse_after_typing(self, what: str) -> None:
        if self._typed:
            raise HostError(
                "denied",
                f"{what} is refused on a shell the pack has typed into; open a new shell and "
                "call it before sending anything",
            )
