"""A fakenos NOS plugin whose running configuration really changes: a Cisco IOS or Arista EOS
device for orch's tests and demo (drift, push, revert).

fakenos's stock platforms answer canned text. This plugin keeps a per-device running config in
the fakenos process (a restart resets it to the initial config) and implements the CLI a
network-automation client drives: user, enable (optionally behind `Password:`) and config modes,
`terminal length 0`, `show version`, `show running-config` (the CURRENT config), `configure
terminal`, config lines (top-level lines replace or append, `no X` removes X, section commands
such as `interface NAME` open a section whose lines belong to it), `exit`, `end`,
`write memory`, `do COMMAND`.

How fakenos loads it: a host of the fakenos inventory names this file as its NOS plugin and
gives its own settings file (fakenos's `configuration_file`, passed to the device class)::

    hosts:
      R1:
        port: 6001
        platform: cisco_ios                 # fakenos checks it; this plugin reads its own below
        nos: {plugin: /path/to/configurable_nos.py}
        configuration_file: /path/to/R1.yaml

and `R1.yaml` holds::

    platform: cisco_ios                     # or arista_eos
    enable_password: s3cret-enable          # optional: `enable` then asks `Password:`
    config: |                               # the initial running config, inline ...
      hostname R1
      interface Loopback0
       ip address 10.0.0.1 255.255.255.255
    # config_file: /path/to/R1.cfg          # ... or from a file

fakenos matches commands by their exact text and its fall-back answer cannot be computed, so
free-form config lines need one more hook: loading this module wraps fakenos's `CMDShell.default`
(and `preloop`, `stop`) once; the wrapper hands every line to the device when the session's
device is one of ours (duck-typed by its `orch_handle_line` method) and leaves other platforms
untouched.

Limits, on purpose: one try for the enable password; `no X` removes the line equal to X (or the
only line starting with `X `) and is silent when there is none, like IOS; the top-level keywords
accepted are a fixed list (anything else is `% Invalid input`), lines inside a section are
accepted when they start with a lowercase word; indentation typed in config mode is ignored (the
mode decides where a line belongs, as on a real device).
"""

import copy
import re
import threading
import time
from typing import List, Optional

import yaml
from fakenos.plugins.shell.cmd_shell import CMDShell

NAME: str = "orch_configurable"
INITIAL_PROMPT: str = "{base_prompt}>"
ENABLE_PROMPT: str = "{base_prompt}#"
CONFIG_PROMPT: str = "{base_prompt}(config)#"
DEVICE_NAME: str = "ConfigurableDevice"

# Every line goes through the hook below, so fakenos's command table only needs to validate.
commands: dict = {}

PLATFORMS = ("cisco_ios", "arista_eos")

# Lines opening a section; the value is the IOS prompt suffix (EOS names the interface instead).
SECTIONS = {
    "interface ": "config-if",
    "router ": "config-router",
    "line ": "config-line",
    "vlan ": "config-vlan",
    "ip access-list ": "config-acl",
    "route-map ": "config-route-map",
    "class-map ": "config-cmap",
    "policy-map ": "config-pmap",
    "management ": "config-mgmt",
    "vrf definition ": "config-vrf",
    "ip vrf ": "config-vrf",
}

# First words accepted at the top level of config mode.
TOP_LEVEL_WORDS = {
    "aaa", "access-list", "alias", "archive", "banner", "boot", "cdp", "class-map", "clock",
    "control-plane", "crypto", "daemon", "dns", "enable", "errdisable", "event-handler",
    "hostname", "interface", "ip", "ipv6", "lldp", "line", "logging", "mac", "management",
    "monitor", "ntp", "policy-map", "radius-server", "route-map", "router", "service",
    "snmp-server", "spanning-tree", "system", "tacacs-server", "transceiver", "username",
    "version", "vlan", "vrf", "vtp",
}

# Lines of which a device keeps only one: a new one replaces the old (longest prefix wins).
SINGLE_VALUED = (
    "hostname ", "ip domain-name ", "ip domain name ", "enable secret ", "enable password ",
    "clock timezone ", "banner motd ", "logging buffered ", "spanning-tree mode ",
    "ip default-gateway ", "version ", "snmp-server location ", "snmp-server contact ",
    "ntp source ",
    # inside sections
    "description ", "ip address ", "mtu ", "speed ", "duplex ", "bandwidth ",
    "switchport mode ", "switchport access vlan ", "encapsulation ", "vrf forwarding ",
    "ip vrf forwarding ", "channel-group ", "router-id ", "load-interval ", "exec-timeout ",
    "transport input ",
)

IOS_INVALID = "% Invalid input detected at '^' marker."
EOS_INVALID = "% Invalid input"


class Block:
    """A top-level config line and the lines of its section."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.children: List[str] = []


def parse_config(text: str) -> List[Block]:
    """Blocks of a config text: indented lines belong to the line above; `end` and blank lines
    are dropped (the device prints `end` itself)."""
    blocks: List[Block] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        if not line.strip() or line.strip() == "end":
            continue
        if line[0] in " \t" and blocks:
            blocks[-1].children.append(line.strip())
        else:
            blocks.append(Block(line.strip()))
    return blocks


def single_valued_key(line: str) -> Optional[str]:
    """The longest single-valued prefix `line` starts with (`ip address ... secondary` is not)."""
    if line.endswith(" secondary"):
        return None
    keys = [key for key in SINGLE_VALUED if line.startswith(key)]
    return max(keys, key=len) if keys else None


def remove_line(lines: List[str], target: str) -> bool:
    """Removes `target` from `lines`, or the only line starting with `target `."""
    if target in lines:
        lines.remove(target)
        return True
    starts = [line for line in lines if line.startswith(target + " ")]
    if len(starts) == 1:
        lines.remove(starts[0])
        return True
    return False


def add_line(lines: List[str], line: str) -> None:
    """Adds `line` to `lines`: nothing if present, in place of a single-valued line, else at the
    end; a stored `no LINE` (a default turned off) is dropped, as the device turns it back on."""
    if ("no " + line) in lines:
        lines.remove("no " + line)
        return
    if line in lines:
        return
    key = single_valued_key(line)
    if key is not None:
        for index, existing in enumerate(lines):
            if existing.startswith(key):
                lines[index] = line
                return
    lines.append(line)


def section_of(line: str) -> Optional[str]:
    """The section prefix `line` opens, if any."""
    for prefix in SECTIONS:
        if line.startswith(prefix) and len(line) > len(prefix):
            return prefix
    return None


class ConfigurableDevice:
    """One device's state, shared by all its sessions: platform, enable secret, running and
    startup configs."""

    def __init__(self, configuration_file: Optional[str] = None) -> None:
        settings: dict = {}
        if configuration_file:
            with open(configuration_file, "r", encoding="utf-8") as f:
                settings = yaml.safe_load(f) or {}
        self.platform: str = settings.get("platform", "cisco_ios")
        if self.platform not in PLATFORMS:
            raise ValueError(f"platform {self.platform!r} is not one of {PLATFORMS}")
        self.enable_password: Optional[str] = settings.get("enable_password")
        text = settings.get("config")
        if text is None and settings.get("config_file"):
            with open(settings["config_file"], "r", encoding="utf-8") as f:
                text = f.read()
        self.running: List[Block] = parse_config(text or "")
        self.startup: List[Block] = copy.deepcopy(self.running)
        self.lock = threading.Lock()
        self.booted = time.time()

    # ---- views -------------------------------------------------------------------------

    def hostname(self, default: str) -> str:
        """The configured hostname, or `default` (the fakenos host name)."""
        for block in self.running:
            if block.line.startswith("hostname "):
                return block.line.split(None, 1)[1]
        return default

    def render(self, blocks: List[Block], hostname: str) -> str:
        """`show running-config` as the platform prints it."""
        indent = " " if self.platform == "cisco_ios" else "   "
        body = []
        for block in blocks:
            body.append(block.line)
            body.extend(indent + child for child in block.children)
        body.append("end")
        text = "\n".join(body)
        if self.platform == "cisco_ios":
            size = len(text.encode("utf-8")) + 1
            return f"Building configuration...\n\nCurrent configuration : {size} bytes\n{text}"
        return (
            "! Command: show running-config\n"
            f"! device: {hostname} (cEOSLab, EOS-4.30.0F)\n{text}"
        )

    def show_version(self, hostname: str) -> str:
        uptime = int(time.time() - self.booted)
        if self.platform == "cisco_ios":
            return (
                "Cisco IOS Software, IOSv Software (VIOS-ADVENTERPRISEK9-M), Version 15.9(3)M4, "
                "RELEASE SOFTWARE (fc3)\n"
                "Technical Support: http://www.cisco.com/techsupport\n"
                f"{hostname} uptime is {uptime // 60} minutes\n"
                "System image file is \"flash0:/vios-adventerprisek9-m\"\n"
                "cisco IOSv (revision 1.0) with 460137K/62464K bytes of memory.\n"
                "Configuration register is 0x0"
            )
        return (
            "Arista cEOSLab\n"
            "Hardware version:\n"
            "Serial number: ORCHTEST0001\n"
            "Software image version: 4.30.0F\n"
            "Architecture: x86_64\n"
            f"Uptime: {uptime // 60} minutes"
        )

    # ---- the CLI -----------------------------------------------------------------------

    def orch_handle_line(self, shell: CMDShell, line: str) -> bool:
        """Handles one line typed in `shell`; True ends the session."""
        if getattr(shell, "_orch_stopping", False):
            return True
        with self.lock:
            session = Session.of(shell, self)
            out = session.handle(line.strip())
        if out is True:
            return True
        if out:
            shell.writeline(out)
        shell.prompt = session.prompt()
        return False


class Session:
    """What one SSH session is doing: its mode and open section."""

    def __init__(self, shell: CMDShell, device: ConfigurableDevice) -> None:
        self.shell = shell
        self.device = device
        self.hostname = device.hostname(shell.base_prompt)
        self.mode = "user"  # user | password | enable | config | section
        self.section: Optional[Block] = None
        self.section_prefix = ""

    @classmethod
    def of(cls, shell: CMDShell, device: ConfigurableDevice) -> "Session":
        session = getattr(shell, "_orch_session", None)
        if session is None:
            session = cls(shell, device)
            shell._orch_session = session  # pylint: disable=protected-access
        return session

    @property
    def ios(self) -> bool:
        return self.device.platform == "cisco_ios"

    def prompt(self) -> str:
        h = self.hostname
        if self.mode == "user":
            return f"{h}>"
        if self.mode == "password":
            return "Password: "
        if self.mode == "enable":
            return f"{h}#"
        if self.mode == "config":
            return f"{h}(config)#"
        if self.ios or self.section is None or self.section_prefix != "interface ":
            return f"{h}({SECTIONS.get(self.section_prefix, 'config-sub')})#"
        name = self.section.line[len("interface "):].replace(" ", "")
        match = re.match(r"([A-Za-z-]+)(.*)", name)
        short = (match.group(1)[:2] + match.group(2)) if match else name
        return f"{h}(config-if-{short})#"

    def invalid(self) -> str:
        if self.ios:
            return " " * len(self.prompt()) + "^\n" + IOS_INVALID
        return EOS_INVALID

    def handle(self, line: str):
        if self.mode == "password":
            return self.password(line)
        if self.mode in ("config", "section"):
            return self.config(line)
        return self.exec(line)

    def password(self, line: str):
        if self.device.enable_password is not None and line == self.device.enable_password:
            self.mode = "enable"
            return None
        self.mode = "user"
        return "% Bad secrets" if self.ios else "% Access denied"

    def exec(self, line: str):
        enabled = self.mode == "enable"
        if line in ("exit", "logout", "quit"):
            return True
        if line == "":
            return None
        if line in ("enable", "en"):
            if not enabled:
                self.mode = "password" if self.device.enable_password else "enable"
            return None
        if line == "disable":
            self.mode = "user"
            return None
        terminal = re.fullmatch(r"terminal (length|width|pager) (\d+)", line)
        if terminal:
            # EOS confirms what it set (netmiko's arista_eos driver waits for these lines); IOS
            # says nothing.
            if self.device.platform == "arista_eos":
                setting, value = terminal.groups()
                if setting == "width":
                    return f"Width set to {value} columns."
                if value == "0":
                    return "Pagination disabled."
            return None
        if line == "show version":
            return self.device.show_version(self.hostname)
        if line == "show clock":
            return time.strftime("*%H:%M:%S.000 UTC %a %b %d %Y", time.gmtime())
        privileged = line in (
            "show running-config", "show run", "show startup-config", "configure terminal",
            "conf t", "configure", "write memory", "write", "wr",
            "copy running-config startup-config",
        )
        if privileged and not enabled:
            return self.invalid() if self.ios else "% Invalid input (privileged mode required)"
        if line in ("show running-config", "show run"):
            return self.device.render(self.device.running, self.hostname)
        if line == "show startup-config":
            return self.device.render(self.device.startup, self.hostname)
        if line in ("configure terminal", "conf t", "configure"):
            self.mode = "config"
            if self.ios:
                return "Enter configuration commands, one per line.  End with CNTL/Z."
            return None
        if line in ("write memory", "write", "wr", "copy running-config startup-config"):
            self.device.startup = copy.deepcopy(self.device.running)
            return "Building configuration...\n[OK]" if self.ios else "Copy completed successfully."
        return self.invalid()

    def config(self, line: str):
        running = self.device.running
        if line == "" or line.startswith("!"):
            return None
        if line == "end":
            self.leave_section()
            self.mode = "enable"
            return None
        if line == "exit":
            if self.mode == "section":
                self.leave_section()
            else:
                self.mode = "enable"
            return None
        if line.startswith("do "):
            saved = self.mode
            self.mode = "enable"
            out = self.exec(line[3:].strip())
            self.mode = saved
            return None if out is True else out
        if line.startswith("no "):
            target = line[3:].strip()
            if section_of(target) is not None or self.mode == "config":
                self.leave_section()
                headers = [block.line for block in running]
                if remove_line(headers, target):
                    self.device.running = [b for b in running if b.line in headers]
                    self.sync_hostname()
                return None
            assert self.section is not None
            remove_line(self.section.children, target)
            return None
        prefix = section_of(line)
        if prefix is not None:
            block = next((b for b in running if b.line == line), None)
            if block is None:
                block = Block(line)
                running.append(block)
            self.mode, self.section, self.section_prefix = "section", block, prefix
            return None
        if self.mode == "section":
            assert self.section is not None
            if not re.match(r"[a-z]", line):
                return self.invalid()
            add_line(self.section.children, line)
            return None
        if line.split()[0] not in TOP_LEVEL_WORDS:
            return self.invalid()
        headers = [block.line for block in running]
        add_line(headers, line)
        by_line = {block.line: block for block in running}
        self.device.running = [by_line.get(header) or Block(header) for header in headers]
        self.sync_hostname()
        return None

    def leave_section(self) -> None:
        if self.mode == "section":
            self.mode = "config"
        self.section, self.section_prefix = None, ""

    def sync_hostname(self) -> None:
        self.hostname = self.device.hostname(self.shell.base_prompt)


def _install_hook() -> None:
    """Routes every line of a session on one of our devices to the device (once per process)."""
    if getattr(CMDShell, "_orch_hooked", False):
        return
    original_default = CMDShell.default
    original_preloop = CMDShell.preloop
    original_stop = CMDShell.stop

    def default(self, line):
        handler = getattr(getattr(self.nos, "device", None), "orch_handle_line", None)
        if handler is None:
            return original_default(self, line)
        return handler(self, line)

    def preloop(self):
        device = getattr(self.nos, "device", None)
        if getattr(device, "orch_handle_line", None) is not None:
            # The first prompt shows the configured hostname, as on a device.
            with device.lock:
                self.prompt = Session.of(self, device).prompt()
        return original_preloop(self)

    def stop(self):
        # fakenos stops a dead session's shell by typing `exit`, which in config mode would only
        # leave the mode: mark it so the device ends the session instead.
        self._orch_stopping = True  # pylint: disable=protected-access
        return original_stop(self)

    CMDShell.default = default
    CMDShell.preloop = preloop
    CMDShell.stop = stop
    CMDShell._orch_hooked = True  # pylint: disable=protected-access


_install_hook()
