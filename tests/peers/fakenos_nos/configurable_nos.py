"""A fakenos NOS plugin whose running configuration really changes, for orch's tests, demo and
benchmarks: Cisco IOS, Arista EOS, Cisco NX-OS, Cisco IOS XR, Cisco ASA, Huawei VRP and Juniper
Junos devices, each with the dialogue a network-automation client meets on the real platform.

fakenos's stock platforms answer canned text. This plugin keeps a per-device running config in
the fakenos process (a restart resets it to the initial config) and implements, per platform:

- cisco_ios, arista_eos: user, enable (optionally behind `Password:`) and config modes,
  `terminal length 0`, `show version`, `show running-config`, `configure terminal`, config lines
  (sections nest: `router bgp` → `address-family`; `no X` removes X), `exit`, `end`,
  `write memory`, `do COMMAND`, banners typed between delimiters.
- cisco_nxos: logs in at `N1#`, `show running-config` with NX-OS's `!Command:`/`!Time:` header
  and two-space indentation, `% Invalid command at '^' marker.`, `copy running-config
  startup-config`.
- cisco_xr: `RP/0/RP0/CPU0:X1#` prompts, a timestamp line before each show output, a candidate
  config: lines go live only at `commit` (`commit confirmed SECONDS` rolls back unless confirmed
  by `commit`), `abort`, `end` asking about uncommitted changes, route policies ending in
  `end-policy`.
- cisco_asa: `enable` always asks `Password:`, `terminal pager 0`, `show curpriv`, `show
  running-config` from `: Saved` to `: end`, `ERROR: % Invalid input detected at '^' marker.`,
  ACLs as ordered top-level lines, `clear configure access-list NAME`.
- huawei_vrp: `<HW1>` user view, `system-view` to `[HW1]` and `[HW1-GigabitEthernet0/0/1]`,
  `screen-length 0 temporary`, `display current-configuration` with `#` separators and
  `return`, `undo X`, `quit`, `return`, `save` asking `[Y/N]`, `super` behind a password when
  one is set (without it, `system-view` is refused), `Error: Unrecognized command found at '^'
  position.`.
- juniper_junos: `admin@J1>` operational mode, `configure` → `[edit]` / `admin@J1#`, `set` and
  `delete` on a candidate, `commit`, `commit confirmed MINUTES` (rolled back unless confirmed),
  `commit check`, `rollback 0`, `show | compare`, `exit configuration-mode` (asking about
  uncommitted changes), `show configuration` in braces and `show configuration | display set`,
  `unknown command.` / `syntax error.` under a `^` marker, `set cli screen-length 0` and friends.

How fakenos loads it: a host of the fakenos inventory names this file as its NOS plugin and
gives its own settings file (fakenos's `configuration_file`, passed to the device class)::

    hosts:
      R1:
        port: 6001
        platform: cisco_ios                 # fakenos checks it; this plugin reads its own below
        nos: {plugin: /path/to/configurable_nos.py}
        configuration_file: /path/to/R1.yaml

and `R1.yaml` holds::

    platform: cisco_ios                     # any of PLATFORMS below
    enable_password: s3cret-enable          # optional: `enable` (VRP: `super`) asks `Password:`
    fast: false                             # optional: no 10 ms sleep per typed byte (benchmarks)
    config: |                               # the initial running config, inline ...
      hostname R1
      interface Loopback0
       ip address 10.0.0.1 255.255.255.255
    # config_file: /path/to/R1.cfg          # ... or from a file

Every platform also answers what `netdev.facts` reads, from the device's state
(`device_facts.py`): its version command, its interfaces command (the running config's
interfaces, shut ones administratively down) and, where the version lacks them, the inventory
and uptime commands (IOS XR `admin show inventory`, VRP `display sn license`, Junos `show
chassis hardware` and `show system uptime`). Optional settings `model`, `os_version` and
`serial` override the per-platform defaults (the serial defaults to one derived from the host
name).

Junos configs are given in either display (braces or set commands); the device keeps set
commands and prints the braces display from them.

fakenos matches commands by their exact text and its fall-back answer cannot be computed, so
free-form config lines need one more hook: loading this module wraps fakenos's `CMDShell.default`
(and `preloop`, `stop`) once; the wrapper hands every line to the device when the session's
device is one of ours (duck-typed by its `orch_handle_line` method) and leaves other platforms
untouched.

Limits, on purpose: one try for an enable password; `no X` removes the line equal to X (or the
only line starting with `X `) and is silent when there is none, like IOS; the top-level keywords
accepted are a fixed list per platform (anything else is the platform's invalid-input error),
lines inside a section are accepted when they start with a lowercase word or a digit; Junos's
structure (which words open a level) comes from a small table of statement names, enough for the
configs the tests use.
"""

import copy
import datetime
import os
import re
import shlex
import sys
import threading
import time
from typing import List, Optional

import yaml
from fakenos.plugins.shell.cmd_shell import CMDShell

# fakenos loads this file by path, not as a package: its sibling modules are found from here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import device_facts  # noqa: E402  pylint: disable=wrong-import-position

NAME: str = "orch_configurable"
INITIAL_PROMPT: str = "{base_prompt}>"
ENABLE_PROMPT: str = "{base_prompt}#"
CONFIG_PROMPT: str = "{base_prompt}(config)#"
DEVICE_NAME: str = "ConfigurableDevice"

# Every line goes through the hook below, so fakenos's command table only needs to validate.
commands: dict = {}

PLATFORMS = (
    "cisco_ios", "arista_eos", "cisco_nxos", "cisco_xr", "cisco_asa", "huawei_vrp",
    "juniper_junos",
)
IOS_LIKE = ("cisco_ios", "arista_eos", "cisco_nxos", "cisco_xr", "cisco_asa")

INDENT = {"cisco_ios": " ", "arista_eos": "   ", "cisco_nxos": "  ", "cisco_xr": " ",
          "cisco_asa": " ", "huawei_vrp": " "}

# Lines opening a section, by the section they are typed in ("" = the top level); the value is
# the IOS-style prompt suffix.
SECTIONS = {
    "": {
        "interface ": "config-if", "router ": "config-router", "line ": "config-line",
        "vlan ": "config-vlan", "ip access-list ": "config-acl", "ipv6 access-list ": "config-acl",
        "ipv4 access-list ": "config-ipv4-acl", "route-map ": "config-route-map",
        "class-map ": "config-cmap", "policy-map ": "config-pmap", "management ": "config-mgmt",
        "vrf definition ": "config-vrf", "ip vrf ": "config-vrf", "vrf context ": "config-vrf",
        "vrf ": "config-vrf", "route-policy ": "config-rpl", "prefix-set ": "config-pfx",
        "object ": "config-network-object", "object-group ": "config-network-object-group",
        "ntp": "config-ntp",
        # VRP
        "ospf ": "ospf", "bgp ": "bgp", "acl ": "acl", "aaa": "aaa", "user-interface ": "ui",
        "ip vpn-instance ": "vpn-instance", "isis ": "isis",
    },
    "router bgp ": {"address-family ": "config-router-af", "neighbor ": "config-bgp-nbr",
                    "vrf ": "config-bgp-vrf"},
    "router ospf ": {"area ": "config-ospf-ar"},
    "neighbor ": {"address-family ": "config-bgp-nbr-af"},
    "area ": {"interface ": "config-ospf-ar-if"},
    "ospf ": {"area ": "ospf-area"},
    "bgp ": {"ipv4-family ": "bgp-af"},
}
# Sections ended by a line of their own at the top level (IOS XR).
SECTION_ENDS = {"route-policy ": "end-policy", "prefix-set ": "end-set"}

TOP_LEVEL_WORDS = {
    "aaa", "access-list", "alias", "archive", "banner", "boot", "cdp", "class-map", "clock",
    "control-plane", "crypto", "daemon", "dns", "domain", "enable", "errdisable", "event-handler",
    "feature", "hostname", "interface", "ip", "ipv4", "ipv6", "lldp", "line", "logging", "mac",
    "management", "monitor", "ntp", "policy-map", "radius-server", "route-map", "route-policy",
    "prefix-set", "router", "service", "snmp-server", "spanning-tree", "ssh", "system",
    "tacacs-server", "telnet", "transceiver", "username", "version", "vlan", "vrf", "vtp",
    "object", "object-group", "nat", "http", "names", "dns-guard", "same-security-traffic",
    "terminal", "no",
    # VRP
    "sysname", "ntp-service", "info-center", "snmp-agent", "ospf", "bgp", "acl", "user-interface",
    "isis", "stp", "undo", "header", "ssh", "stelnet", "lldp", "dns", "ip", "vlan", "local-user",
}

# Lines of which a device keeps only one: a new one replaces the old (longest prefix wins).
SINGLE_VALUED = (
    "hostname ", "ip domain-name ", "ip domain name ", "domain name ", "domain-name ",
    "enable secret ", "enable password ", "clock timezone ", "banner motd ", "banner login ",
    "banner exec ", "logging buffered ", "spanning-tree mode ", "ip default-gateway ", "version ",
    "snmp-server location ", "snmp-server contact ", "ntp source ", "sysname ",
    "snmp-agent sys-info location ", "snmp-agent sys-info contact ",
    # inside sections
    "description ", "ip address ", "ipv4 address ", "mtu ", "speed ", "duplex ", "bandwidth ",
    "switchport mode ", "switchport access vlan ", "encapsulation ", "vrf forwarding ",
    "ip vrf forwarding ", "channel-group ", "router-id ", "bgp router-id ", "load-interval ",
    "exec-timeout ", "transport input ", "nameif ", "security-level ", "router id ",
    "remote-as ", "idle-timeout ", "ssh timeout ", "snmp-agent sys-info location ",
)

# Top-level settings on by default: their negation is what the config shows.
DEFAULT_ON = {"ip domain lookup", "ip domain-lookup", "cdp run", "service pad"}
# Top-level settings the config shows either way (`ip http server` / `no ip http server`):
# typing one form replaces the other in place.
ALWAYS_SHOWN = {"ip http server", "ip http secure-server"}

# Junos: statements that open a level, and those that open one with a name (`unit 0`).
JUNOS_CONTAINERS = {
    "system", "services", "ntp", "syslog", "login", "interfaces", "protocols", "ospf", "bgp",
    "lldp", "routing-options", "static", "snmp", "policy-options", "firewall", "from", "then",
    "security", "vlans", "chassis", "forwarding-options", "class-of-service", "name-server",
    "ssh", "netconf", "root-authentication", "authentication",
}
JUNOS_NAMED = {
    "family", "unit", "area", "group", "term", "filter", "policy-statement", "community",
    "prefix-list", "user", "route", "host", "neighbor", "interface", "file", "trap-group",
    "client", "vlan",
}
JUNOS_SINGLE = ("host-name ", "domain-name ", "time-zone ", "description ", "mtu ",
                "router-id ", "autonomous-system ", "location ", "contact ")


class Node:
    """A config line and the lines of its section."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.children: List["Node"] = []


def parse_config(text: str, keep_bang: bool = False) -> List[Node]:
    """Nodes of an indented config text: a line belongs to the nearest line above it indented
    less; comments, `end`, `return`, `#` separators and blank lines are dropped; a banner's
    lines (`banner motd ^C` … `^C`) stay one node; XR's `end-policy`/`end-set` close the
    section above."""
    roots: List[Node] = []
    stack: List[tuple] = []  # (indent, node)
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        raw = lines[i].rstrip()
        i += 1
        stripped = raw.strip()
        if not stripped or stripped in ("end", "return", ": end", "exit-address-family"):
            continue
        indent = len(raw) - len(raw.lstrip())
        if keep_bang and stripped == "!" and indent == 0:
            stack.clear()
            roots.append(Node("!"))
            continue
        if stripped.startswith(("!", "#", ":")):
            continue
        if indent == 0 and stripped in ("end-policy", "end-set"):
            if stack:
                stack[0][1].children.append(Node(stripped))
            elif roots:
                roots[-1].children.append(Node(stripped))
            continue
        node = Node(stripped)
        banner = re.match(r"banner \S+ \^C(.*)$", stripped)
        if banner and "^C" not in banner.group(1):
            body = [stripped]
            while i < len(lines):
                body.append(lines[i].rstrip())
                i += 1
                if "^C" in body[-1]:
                    break
            node.line = "\n".join(body)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if stack:
            stack[-1][1].children.append(node)
        else:
            roots.append(node)
        stack.append((indent, node))
    return roots


def single_valued_key(line: str, keys=SINGLE_VALUED) -> Optional[str]:
    """The longest single-valued prefix `line` starts with (`… secondary` is not)."""
    if line.endswith(" secondary") or line.endswith(" sub"):
        return None
    found = [key for key in keys if line.startswith(key)]
    if not found and re.match(r"\d+ ", line):
        return line.split(" ", 1)[0] + " "
    if not found and re.match(r"rule \d+ ", line):
        return " ".join(line.split(" ", 2)[:2]) + " "
    return max(found, key=len) if found else None


def sequence_number(line: str) -> Optional[int]:
    """The number of a numbered entry (`10 permit …`, `rule 5 permit …`), else None."""
    found = re.match(r"(?:rule )?(\d+) ", line)
    return int(found.group(1)) if found else None


def remove_line(nodes: List[Node], target: str) -> bool:
    """Removes the node `target`, or the only node starting with `target `."""
    for node in nodes:
        if node.line == target or node.line.split("\n", 1)[0].startswith(target + " ^C"):
            nodes.remove(node)
            return True
    starts = [n for n in nodes if n.line.startswith(target + " ")]
    if len(starts) == 1:
        nodes.remove(starts[0])
        return True
    return False


def add_line(nodes: List[Node], line: str, negation: str = "no") -> Node:
    """Adds `line`: nothing if present, in place of a single-valued line, else at the end; a
    stored negation of it (a default turned off) is dropped, as the device turns it back on."""
    for index, node in enumerate(nodes):
        if node.line == f"{negation} {line}":
            if line in ALWAYS_SHOWN:
                nodes[index] = Node(line)
                return nodes[index]
            nodes.remove(node)
            return node
        if node.line == line:
            return node
    if line.startswith(f"{negation} "):
        positive = line[len(negation) + 1:]
        for index, node in enumerate(nodes):
            if node.line == positive:
                if positive in ALWAYS_SHOWN:
                    nodes[index] = Node(line)
                    return nodes[index]
                nodes.remove(node)
                break
    key = single_valued_key(line)
    if key is not None:
        for index, existing in enumerate(nodes):
            if existing.line.startswith(key):
                nodes[index] = Node(line)
                return nodes[index]
    node = Node(line)
    number = sequence_number(line)
    if number is not None:
        # Numbered entries (ACL sequence numbers, VRP `rule N`) are kept in number order, as
        # the devices show them whatever order they were typed in.
        for index, existing in enumerate(nodes):
            other = sequence_number(existing.line)
            if other is not None and other > number:
                nodes.insert(index, node)
                return node
    if line.startswith("access-list "):
        # An ACL's entries stay together, a new one after the last.
        group = " ".join(line.split()[:2]) + " "
        last = max((i for i, n in enumerate(nodes) if n.line.startswith(group)), default=None)
        if last is not None:
            nodes.insert(last + 1, node)
            return node
    nodes.append(node)
    return node


def opens_section(parent: str, line: str) -> Optional[str]:
    """The prompt suffix of the section `line` opens inside section `parent` ("" = top)."""
    for key, openers in SECTIONS.items():
        if key and not parent.startswith(key):
            continue
        if not key and parent:
            continue
        for prefix, suffix in openers.items():
            if prefix == "neighbor " and len(line.split()) != 2:
                # NX-OS and XR open a neighbor section with `neighbor 192.0.2.2`; IOS's
                # `neighbor 192.0.2.2 remote-as 65002` is a line of the BGP section.
                continue
            if prefix == "route-map " and re.fullmatch(r"route-map \S+ (?:in|out)", line):
                # A neighbor's policy (NX-OS address family), not a global route map.
                continue
            if prefix.endswith(" "):
                if line.startswith(prefix) and len(line) > len(prefix):
                    return suffix
            elif line == prefix:
                return suffix
    return None


def junos_statements(words: List[str]) -> List[str]:
    """A set command's path as Junos statements: levels, then the leaf statement."""
    out: List[str] = []
    i = 0
    parent = None
    while i < len(words):
        word = words[i]
        rest = len(words) - i
        if word in JUNOS_NAMED and rest > 2:
            out.append(f"{word} {words[i + 1]}")
            parent = word
            i += 2
        elif (word in JUNOS_CONTAINERS or parent == "interfaces") and rest > 1:
            out.append(word)
            parent = word
            i += 1
        else:
            out.append(" ".join(words[i:]))
            break
    return out


def render_junos(set_lines: List[str]) -> str:
    """The braces display of set commands (their order of first appearance kept)."""
    tree: dict = {}
    order_key = "\0order"
    for line in set_lines:
        words = shlex.split(line[len("set "):], posix=False)
        path = junos_statements(words)
        level = tree
        for statement in path[:-1]:
            level.setdefault(order_key, [])
            if statement not in level:
                level[statement] = {}
                level[order_key].append(statement)
            level = level[statement]
        level.setdefault(order_key, [])
        leaf = path[-1]
        if (leaf, None) not in level.get("\0leaves", []):
            level.setdefault("\0leaves", []).append((leaf, None))
            level[order_key].append(("\0leaf", leaf))

    out: List[str] = []

    def emit(level: dict, depth: int) -> None:
        pad = "    " * depth
        for item in level.get(order_key, []):
            if isinstance(item, tuple):
                out.append(f"{pad}{item[1]};")
            else:
                out.append(f"{pad}{item} {{")
                emit(level[item], depth + 1)
                out.append(f"{pad}}}")

    emit(tree, 0)
    return "\n".join(out)


def junos_set_lines(text: str) -> List[str]:
    """Set commands of a Junos config given in either display."""
    lines: List[str] = []
    path: List[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line or line.startswith(("#", "/*")):
            continue
        if line.startswith("set "):
            lines.append(line)
        elif line == "}":
            path.pop()
        elif line.endswith("{"):
            path.append(line[:-1].strip())
        elif line.endswith(";"):
            leaf = line[:-1].strip()
            prefix = " ".join(["set"] + path)
            listed = re.match(r"^(.*?)\s*\[\s*(.*?)\s*\]$", leaf)
            if listed:
                for value in listed.group(2).split():
                    lines.append(f"{prefix} {listed.group(1)} {value}".replace("  ", " "))
            else:
                lines.append(f"{prefix} {leaf}")
    return lines


class ConfigurableDevice:
    """One device's state, shared by all its sessions: platform, enable secret, running and
    startup configs, and a pending confirmed commit."""

    def __init__(self, configuration_file: Optional[str] = None) -> None:
        settings: dict = {}
        if configuration_file:
            with open(configuration_file, "r", encoding="utf-8") as f:
                settings = yaml.safe_load(f) or {}
        self.platform: str = settings.get("platform", "cisco_ios")
        if self.platform not in PLATFORMS:
            raise ValueError(f"platform {self.platform!r} is not one of {PLATFORMS}")
        self.enable_password: Optional[str] = settings.get("enable_password")
        if self.platform == "cisco_asa" and self.enable_password is None:
            self.enable_password = ""
        text = settings.get("config")
        if text is None and settings.get("config_file"):
            with open(settings["config_file"], "r", encoding="utf-8") as f:
                text = f.read()
        if self.platform == "juniper_junos":
            self.running = junos_set_lines(text or "")
        else:
            self.running = parse_config(
                text or "", keep_bang=self.platform in ("cisco_ios", "arista_eos", "cisco_asa")
            )
        self.startup = copy.deepcopy(self.running)
        # What `show version` and friends say (model, OS version, serial; see device_facts).
        self.settings = settings
        self.name = (os.path.splitext(os.path.basename(configuration_file))[0]
                     if configuration_file else self.platform)
        self.lock = threading.Lock()
        self.booted = time.time()
        self.changed = datetime.datetime.now(datetime.timezone.utc)
        self.rollback_timer: Optional[threading.Timer] = None
        if settings.get("fast"):
            _no_sleep_per_byte()

    # ---- views -------------------------------------------------------------------------

    def hostname(self, default: str) -> str:
        """The configured hostname, or `default` (the fakenos host name)."""
        if self.platform == "juniper_junos":
            for line in self.running:
                if line.startswith("set system host-name "):
                    return line.split()[-1]
            return default
        word = "sysname " if self.platform == "huawei_vrp" else "hostname "
        for node in self.running:
            if node.line.startswith(word):
                return node.line.split(None, 1)[1]
        return default

    def body(self, nodes: List[Node], separator: Optional[str] = None) -> List[str]:
        indent = INDENT[self.platform]
        out: List[str] = []

        def emit(node: Node, depth: int) -> None:
            out.append(indent * depth + node.line)
            for child in node.children:
                if child.line in ("end-policy", "end-set"):
                    out.append(child.line)
                else:
                    emit(child, depth + 1)
            if self.platform == "cisco_xr" and node.children and depth == 0:
                out.append("!")

        for node in nodes:
            emit(node, 0)
            if separator is not None:
                out.append(separator)
        return out

    def render(self, nodes, hostname: str) -> str:
        """`show running-config` (or its platform's equivalent) as the platform prints it."""
        now = datetime.datetime.now(datetime.timezone.utc)
        changed = self.changed.strftime("%a %b %d %H:%M:%S %Y")
        p = self.platform
        if p == "juniper_junos":
            stamp = self.changed.strftime("%Y-%m-%d %H:%M:%S UTC")
            return f"## Last commit: {stamp} by admin\n" + render_junos(nodes)
        if p == "huawei_vrp":
            lines = ["!Software Version V800R021C10SPC100",
                     f"!Last configuration was updated at {self.changed:%Y-%m-%d %H:%M:%S}+00:00",
                     "#"] + self.body(nodes, "#") + ["return"]
            return "\n".join(lines)
        text = "\n".join(self.body(nodes))
        if p == "cisco_ios":
            text += "\nend"
            size = len(text.encode("utf-8")) + 1
            return f"Building configuration...\n\nCurrent configuration : {size} bytes\n{text}"
        if p == "arista_eos":
            return (f"! Command: show running-config\n! device: {hostname} (cEOSLab, EOS-4.30.0F)\n"
                    f"{text}\nend")
        if p == "cisco_nxos":
            return (f"\n!Command: show running-config\n!Running configuration last done at: {changed}\n"
                    f"!Time: {now:%a %b %d %H:%M:%S %Y}\n\n{text}")
        if p == "cisco_xr":
            return ("Building configuration...\n"
                    f"!! IOS XR Configuration 7.3.2\n!! Last configuration change at {changed} by admin\n!\n"
                    f"{text}\nend")
        # cisco_asa
        return (": Saved\n\n:\n: Serial Number: JAD0000ORCH\n"
                ": Hardware:   ASA5506, 4096 MB RAM, CPU Atom C2000 series 1250 MHz, 1 CPU (4 cores)\n"
                f":\n{text}\n: end")

    def facts_output(self, command: str, hostname: str) -> Optional[str]:
        """`show version`, the interfaces command and the inventory/uptime commands facts
        read, from this device's state (see device_facts); None for other commands."""
        return device_facts.command_output(self.platform, command, hostname, self.name,
                                           self.settings, self.running, self.booted,
                                           time.time())

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

    def schedule_rollback(self, seconds: float, previous) -> None:
        """A confirmed commit: `previous` comes back unless `confirm` is called in time."""
        self.cancel_rollback()

        def roll_back() -> None:
            with self.lock:
                self.running = previous
                self.rollback_timer = None
                self.changed = datetime.datetime.now(datetime.timezone.utc)

        self.rollback_timer = threading.Timer(seconds, roll_back)
        self.rollback_timer.daemon = True
        self.rollback_timer.start()

    def cancel_rollback(self) -> bool:
        if self.rollback_timer is None:
            return False
        self.rollback_timer.cancel()
        self.rollback_timer = None
        return True


class Session:
    """What one SSH session is doing: its mode, open sections and candidate config."""

    def __init__(self, shell: CMDShell, device: ConfigurableDevice) -> None:
        self.shell = shell
        self.device = device
        self.hostname = device.hostname(shell.base_prompt)
        p = device.platform
        # user | password | enable | config | banner | confirm-exit | confirm-save
        self.mode = "enable" if p in ("cisco_nxos", "cisco_xr", "juniper_junos") else "user"
        self.privileged = p != "huawei_vrp" or device.enable_password is None
        self.path: List[Node] = []  # open sections, outermost first
        self.candidate = None  # XR and Junos: the config being edited
        self.banner: Optional[tuple] = None  # (delimiter, lines)
        self.after_password = "enable"

    @classmethod
    def of(cls, shell: CMDShell, device: ConfigurableDevice) -> "Session":
        session = getattr(shell, "_orch_session", None)
        if session is None:
            session = cls(shell, device)
            shell._orch_session = session  # pylint: disable=protected-access
        return session

    @property
    def p(self) -> str:
        return self.device.platform

    def config_nodes(self) -> List[Node]:
        return self.candidate if self.candidate is not None else self.device.running

    def prompt(self) -> str:
        h = self.hostname
        p = self.p
        mode = self.mode
        if mode == "password":
            return "Password:" if p == "huawei_vrp" else "Password: "
        if mode == "banner":
            return ""
        if mode == "confirm-exit":
            return ""
        if mode == "confirm-save":
            return ""
        if p == "juniper_junos":
            if mode == "config":
                return f"\r\n[edit]\r\nadmin@{h}# "
            return f"admin@{h}> "
        if p == "huawei_vrp":
            if mode == "config":
                if not self.path:
                    return f"[{h}]"
                return f"[{h}-{self.vrp_view()}]"
            return f"<{h}>"
        base = f"RP/0/RP0/CPU0:{h}" if p == "cisco_xr" else h
        if mode == "user":
            return f"{base}>"
        if mode == "enable":
            return f"{base}#"
        if not self.path:
            return f"{base}(config)#"
        parent = self.path[-2].line if len(self.path) > 1 else ""
        suffix = opens_section(parent, self.path[-1].line) or "config-sub"
        if p == "arista_eos" and self.path[-1].line.startswith("interface "):
            name = self.path[-1].line[len("interface "):].replace(" ", "")
            match = re.match(r"([A-Za-z-]+)(.*)", name)
            short = (match.group(1)[:2] + match.group(2)) if match else name
            suffix = f"config-if-{short}"
        return f"{base}({suffix})#"

    def vrp_view(self) -> str:
        parts = []
        for node in self.path:
            words = node.line.split()
            if words[0] == "interface":
                parts.append(words[1])
            else:
                parts.append("-".join(words))
        return "-".join(parts)

    def invalid(self, line: str = "") -> str:
        p = self.p
        caret = " " * (len(self.prompt().split("\n")[-1]) + 1) + "^"
        if p == "cisco_ios":
            return caret + "\n% Invalid input detected at '^' marker."
        if p == "cisco_nxos":
            return caret + "\n% Invalid command at '^' marker."
        if p == "cisco_xr":
            return caret + "\n% Invalid input detected at '^' marker."
        if p == "cisco_asa":
            return caret + "\nERROR: % Invalid input detected at '^' marker."
        if p == "huawei_vrp":
            return caret + "\nError: Unrecognized command found at '^' position."
        if p == "juniper_junos":
            if self.mode == "config":
                return caret + "\nsyntax error."
            return caret + "\nunknown command."
        return "% Invalid input"

    def handle(self, line: str):
        if self.mode == "password":
            return self.password(line)
        if self.mode == "banner":
            return self.banner_line(line)
        if self.mode == "confirm-exit":
            return self.confirm_exit(line)
        if self.mode == "confirm-save":
            self.mode = "enable" if self.p != "huawei_vrp" else "user"
            if line.lower() in ("y", "yes"):
                self.device.startup = copy.deepcopy(self.device.running)
                return "Info: Save the configuration successfully."
            return "Info: The configuration was not saved."
        if self.p == "juniper_junos":
            return self.junos(line)
        if self.mode == "config":
            return self.config(line)
        return self.exec(line)

    def password(self, line: str):
        target = self.after_password
        if line == "" and self.device.enable_password:
            # A stray line end (a client sending CR LF), not an attempt.
            return None
        if self.device.enable_password is not None and line == self.device.enable_password:
            if target == "super":
                self.privileged = True
                self.mode = "user"
                return ("Now user privilege is 3 level, and only those commands whose level is "
                        "equal to or less than this level can be used.")
            self.mode = "enable"
            return None
        self.mode = "user"
        if self.p == "huawei_vrp":
            return "Error: Failed to verify the password."
        return "% Bad secrets" if self.p == "cisco_ios" else "% Access denied"

    # ---- operational / exec mode -------------------------------------------------------

    def exec(self, line: str):
        p = self.p
        enabled = self.mode == "enable"
        if line in ("exit", "logout", "quit"):
            return True
        if line == "":
            return None
        if p == "huawei_vrp":
            return self.vrp_user(line)
        if line in ("enable", "en"):
            if not enabled:
                if self.device.enable_password:
                    self.mode, self.after_password = "password", "enable"
                elif p == "cisco_asa":
                    self.mode, self.after_password = "password", "enable"
                else:
                    self.mode = "enable"
            return None
        if line == "disable":
            self.mode = "user"
            return None
        terminal = re.fullmatch(r"terminal (length|width|pager) (\d+)", line)
        if terminal:
            setting, value = terminal.groups()
            if p == "cisco_asa" and setting == "length":
                return self.invalid()
            if p != "cisco_asa" and setting == "pager":
                return self.invalid()
            # EOS confirms what it set (netmiko's arista_eos driver waits for these lines).
            if p == "arista_eos":
                if setting == "width":
                    return f"Width set to {value} columns."
                if value == "0":
                    return "Pagination disabled."
            return None
        stamp = self.xr_stamp()
        facts = self.device.facts_output(line, self.hostname)
        if facts is not None:
            return stamp + facts
        if line == "show clock":
            return time.strftime("*%H:%M:%S.000 UTC %a %b %d %Y", time.gmtime())
        if line == "show curpriv" and p == "cisco_asa":
            level = 15 if enabled else 1
            return (f"Username : enable_{level}\nCurrent privilege level : {level}\n"
                    f"Current Mode/s : {'P_PRIV' if enabled else 'P_UNPR'}")
        privileged = line in (
            "show running-config", "show run", "show startup-config", "configure terminal",
            "conf t", "configure", "write memory", "write", "wr",
            "copy running-config startup-config",
        )
        if privileged and not enabled:
            if p == "arista_eos":
                return "% Invalid input (privileged mode required)"
            return self.invalid()
        if line in ("show running-config", "show run"):
            return stamp + self.device.render(self.device.running, self.hostname)
        if line == "show startup-config":
            return stamp + self.device.render(self.device.startup, self.hostname)
        if line in ("configure terminal", "conf t", "configure"):
            self.mode = "config"
            self.path = []
            if p == "cisco_xr":
                self.candidate = copy.deepcopy(self.device.running)
                return None
            if p in ("cisco_ios", "cisco_nxos"):
                return "Enter configuration commands, one per line.  End with CNTL/Z."
            return None
        if line in ("write memory", "write", "wr") and p in ("cisco_ios", "arista_eos", "cisco_asa"):
            self.device.startup = copy.deepcopy(self.device.running)
            if p == "cisco_ios":
                return "Building configuration...\n[OK]"
            if p == "cisco_asa":
                return "Building configuration...\nCryptochecksum: 1a2b3c4d 5e6f7a8b 9c0d1e2f 3a4b5c6d \n\n[OK]"
            return "Copy completed successfully."
        if line == "copy running-config startup-config" and p != "cisco_xr":
            self.device.startup = copy.deepcopy(self.device.running)
            if p == "cisco_nxos":
                return ("[########################################] 100%\n"
                        "Copy complete, now saving to disk (please wait)...\nCopy complete.")
            return "Copy completed successfully." if p == "arista_eos" else "[OK]"
        return self.invalid()

    def xr_stamp(self) -> str:
        if self.p != "cisco_xr":
            return ""
        return datetime.datetime.now(datetime.timezone.utc).strftime("%a %b %d %H:%M:%S.000 UTC\n")

    def vrp_user(self, line: str):
        if line == "screen-length 0 temporary":
            return "Info: The configuration takes effect on the current user terminal interface only."
        if line == "super":
            if self.device.enable_password is None or self.privileged:
                return "Now user privilege is 3 level, and only those commands whose level is equal to or less than this level can be used."
            self.mode, self.after_password = "password", "super"
            return None
        facts = self.device.facts_output(line, self.hostname)
        if facts is not None:
            return facts
        if not self.privileged and line in ("system-view", "display current-configuration", "save"):
            return self.invalid()
        if line == "display current-configuration":
            return self.device.render(self.device.running, self.hostname)
        if line == "display saved-configuration":
            return self.device.render(self.device.startup, self.hostname)
        if line == "system-view":
            self.mode = "config"
            self.path = []
            return "Enter system view, return user view with return command."
        if line == "save":
            self.mode = "confirm-save"
            self.shell.prompt = ""
            return "Warning: The current configuration will be written to the device. Continue? [Y/N]:"
        return self.invalid()

    # ---- config mode (indented platforms) ----------------------------------------------

    def container(self) -> List[Node]:
        return self.path[-1].children if self.path else self.config_nodes()

    def leave_config(self):
        self.mode = "enable" if self.p != "huawei_vrp" else "user"
        self.path = []
        self.candidate = None

    def config(self, line: str):
        p = self.p
        negation = "undo" if p == "huawei_vrp" else "no"
        exit_word = "quit" if p == "huawei_vrp" else "exit"
        end_word = "return" if p == "huawei_vrp" else "end"
        if line == "" or line.startswith("!") or (p == "huawei_vrp" and line.startswith("#")):
            return None
        if p == "cisco_xr":
            handled = self.xr_config(line)
            if handled is not False:
                return handled
        if line == end_word:
            self.leave_config()
            return None
        if line == exit_word:
            if self.path:
                self.path.pop()
            elif p == "cisco_xr":
                return self.xr_config("end")
            else:
                self.leave_config()
            return None
        if line.startswith("do ") and p in IOS_LIKE:
            saved, saved_path = self.mode, self.path
            self.mode = "enable"
            out = self.exec(line[3:].strip())
            self.mode, self.path = saved, saved_path
            return None if out is True else out
        if p == "cisco_asa" and re.fullmatch(r"terminal width \d+", line):
            return None
        if p == "cisco_asa" and line.startswith("clear configure "):
            target = line[len("clear configure "):]
            nodes = self.config_nodes()
            nodes[:] = [n for n in nodes if not (n.line + " ").startswith(target + " ")]
            return None
        banner = re.match(r"banner (motd|login|exec) (.)(.*)$", line) if p in ("cisco_ios", "arista_eos") else None
        if banner and not self.path:
            delimiter, rest = banner.group(2), banner.group(3)
            kind = banner.group(1)
            if delimiter in rest:
                text = rest.split(delimiter, 1)[0]
                self.store_banner(kind, [text])
                return None
            self.mode = "banner"
            self.banner = (kind, delimiter, [rest] if rest else [])
            return "Enter TEXT message.  End with the character '%s'." % delimiter
        if line.startswith(negation + " "):
            target = line[len(negation) + 1:].strip()
            if target.startswith("banner ") and not self.path:
                nodes = self.config_nodes()
                nodes[:] = [n for n in nodes if not n.line.startswith(target + " ^C")]
                return None
            if not self.path and (target in DEFAULT_ON or target in ALWAYS_SHOWN):
                add_line(self.config_nodes(), line, negation)
                return self.changed()
            if remove_line(self.container(), target):
                return self.changed()
            if self.path and remove_line(self.config_nodes(), target):
                self.path = []
                return self.changed()
            if self.path or opens_section("", target) or target.split()[0] in TOP_LEVEL_WORDS:
                return self.changed() if p != "huawei_vrp" else None
            return self.invalid()
        parent = self.path[-1].line if self.path else ""
        suffix = opens_section(parent, line)
        if suffix is None and self.path and opens_section("", line):
            self.path = []
            parent, suffix = "", opens_section("", line)
        if suffix is not None:
            container = self.container()
            node = next((n for n in container if n.line == line), None)
            if node is None:
                node = Node(line)
                container.append(node)
            elif p == "cisco_xr" and any(line.startswith(s) for s in SECTION_ENDS):
                # Entered again, a route policy or a set is replaced whole.
                node.children = []
            self.path.append(node)
            return self.changed()
        end = next((e for s, e in SECTION_ENDS.items() if self.path and self.path[0].line.startswith(s)), None)
        if end is not None and line == end:
            if not any(c.line == end for c in self.path[0].children):
                self.path[0].children.append(Node(end))
            self.path = []
            return None
        if self.path:
            if not re.match(r"[a-z0-9]", line):
                return self.invalid()
            section = self.path[0]
            if any(section.line.startswith(s) for s in SECTION_ENDS) and len(self.path) == 1:
                # A policy body keeps its lines in order, before its end line.
                ends = [c for c in section.children if c.line in SECTION_ENDS.values()]
                section.children = [c for c in section.children if c not in ends]
                section.children.append(Node(line))
                section.children.extend(ends)
                return None
            add_line(self.path[-1].children, line, negation)
            return self.changed()
        if line.split()[0] not in TOP_LEVEL_WORDS:
            return self.invalid()
        add_line(self.config_nodes(), line, negation)
        self.hostname = self.device.hostname(self.shell.base_prompt) if self.candidate is None else self.hostname
        return self.changed()

    def changed(self):
        if self.candidate is None:
            self.device.changed = datetime.datetime.now(datetime.timezone.utc)
            self.hostname = self.device.hostname(self.shell.base_prompt)
        return None

    def store_banner(self, kind: str, lines: List[str]) -> None:
        text = "\n".join([f"banner {kind} ^C" + (lines[0] if lines else "")] + lines[1:]) + "^C"
        if len(lines) > 1 or not lines:
            text = "\n".join([f"banner {kind} ^C"] + lines + ["^C"])
        nodes = self.config_nodes()
        for index, node in enumerate(nodes):
            if node.line.startswith(f"banner {kind} "):
                nodes[index] = Node(text)
                return
        nodes.append(Node(text))
        self.changed()

    def banner_line(self, line: str):
        kind, delimiter, lines = self.banner
        if delimiter in line:
            before = line.split(delimiter, 1)[0]
            if before:
                lines.append(before)
            self.mode = "config"
            self.banner = None
            self.store_banner(kind, lines)
            return None
        lines.append(line)
        return None

    def xr_config(self, line: str):
        """IOS XR's commit model; False: not a commit command."""
        if line == "commit" or line.startswith("commit "):
            words = line.split()
            if self.device.cancel_rollback() and line == "commit" and self.candidate is not None \
                    and self.candidate_is_running():
                return None
            previous = copy.deepcopy(self.device.running)
            self.device.running = copy.deepcopy(self.candidate)
            self.device.changed = datetime.datetime.now(datetime.timezone.utc)
            self.hostname = self.device.hostname(self.shell.base_prompt)
            if len(words) >= 3 and words[1] == "confirmed":
                seconds = int(words[2])
                self.device.schedule_rollback(seconds, previous)
            return None
        if line == "abort":
            self.leave_config()
            return None
        if line == "end" or (line == "exit" and not self.path):
            if self.candidate is not None and not self.candidate_is_running():
                self.mode = "confirm-exit"
                self.shell.prompt = ""
                return "Uncommitted changes found, commit them before exiting(yes/no/cancel)? [cancel]:"
            self.leave_config()
            return None
        if line == "show configuration":
            return "\n".join(self.device.body(self.candidate or []))
        return False

    def candidate_is_running(self) -> bool:
        render = lambda nodes: "\n".join(self.device.body(nodes or []))  # noqa: E731
        return render(self.candidate) == render(self.device.running)

    def confirm_exit(self, line: str):
        answer = line.lower()
        if self.p == "juniper_junos":
            if answer in ("", "yes"):
                self.mode, self.candidate = "enable", None
                return "Exiting configuration mode"
            self.mode = "config"
            return None
        if answer == "yes":
            self.device.running = copy.deepcopy(self.candidate)
            self.leave_config()
        elif answer == "no":
            self.leave_config()
        else:
            self.mode = "config"
        return None

    # ---- Junos -------------------------------------------------------------------------

    def junos(self, line: str):
        if self.mode == "config":
            return self.junos_config(line)
        if line in ("exit", "quit"):
            return True
        if line == "":
            return None
        cli = {
            "set cli screen-width 511": "Screen width set to 511",
            "set cli complete-on-space off": "Disabling complete-on-space",
            "set cli screen-length 0": "Screen length set to 0",
        }
        if line in cli:
            return cli[line]
        facts = self.device.facts_output(line, self.hostname)
        if facts is not None:
            return facts
        if line == "show configuration":
            return self.device.render(self.device.running, self.hostname)
        if line == "show configuration | display set":
            # Junos prints set commands in the order of its hierarchy.
            return "\n".join(junos_set_lines(render_junos(self.device.running)))
        if line in ("configure", "configure private", "configure exclusive"):
            self.mode = "config"
            self.candidate = list(self.device.running)
            return "Entering configuration mode"
        return self.invalid()

    def junos_config(self, line: str):
        candidate = self.candidate
        if line == "":
            return None
        if line.startswith("set "):
            words = line.split()
            if len(words) < 3 or words[1] not in (JUNOS_CONTAINERS | {"version"}):
                return self.invalid()
            if line in candidate:
                return None
            statement = line[len("set "):]
            for index, existing in enumerate(candidate):
                prefix = existing[len("set "):]
                for key in JUNOS_SINGLE:
                    marker = " " + key
                    if marker in " " + statement and marker in " " + prefix:
                        head = (" " + statement).split(marker)[0]
                        if (" " + prefix).split(marker)[0] == head:
                            candidate[index] = line
                            return None
            candidate.append(line)
            return None
        if line.startswith("delete "):
            target = "set " + line[len("delete "):]
            kept = [l for l in candidate if l != target and not l.startswith(target + " ")]
            if len(kept) == len(candidate):
                return "warning: statement not found"
            candidate[:] = kept
            return None
        if line == "commit check":
            return "configuration check succeeds"
        if line == "commit" or line.startswith("commit confirmed") or line == "commit and-quit":
            confirming = self.device.cancel_rollback()
            previous = list(self.device.running)
            self.device.running = list(candidate)
            self.device.changed = datetime.datetime.now(datetime.timezone.utc)
            self.hostname = self.device.hostname(self.shell.base_prompt)
            words = line.split()
            if len(words) >= 2 and words[1] == "confirmed":
                minutes = int(words[2]) if len(words) > 2 else 10
                # Minutes on a real device; here a minute lasts a second, so tests can wait for
                # a rollback.
                self.device.schedule_rollback(minutes, previous)
                return (f"configuration check succeeds\ncommit confirmed will be automatically rolled "
                        f"back in {minutes} minutes unless confirmed\ncommit complete\n\n"
                        f"# commit confirmed will be rolled back in {minutes} minutes")
            if line == "commit and-quit":
                self.mode, self.candidate = "enable", None
                return "commit complete\nExiting configuration mode"
            return "configuration check succeeds\ncommit complete" if confirming else "commit complete"
        if line == "rollback 0" or line == "rollback":
            candidate[:] = list(self.device.running)
            return "load complete"
        if line == "show | compare":
            removed = [l for l in self.device.running if l not in candidate]
            added = [l for l in candidate if l not in self.device.running]
            return "\n".join([f"- {l}" for l in removed] + [f"+ {l}" for l in added])
        if line in ("exit configuration-mode", "exit", "quit"):
            if candidate != self.device.running:
                self.mode = "confirm-exit"
                self.shell.prompt = ""
                return ("The configuration has been changed but not committed\n"
                        "Exit with uncommitted changes? [yes,no] (yes) ")
            self.mode, self.candidate = "enable", None
            return "Exiting configuration mode"
        if line.startswith("run "):
            self.mode = "enable"
            out = self.junos(line[4:])
            self.mode = "config"
            return out
        return self.invalid()


def _no_sleep_per_byte() -> None:
    """fakenos sleeps 10 ms after each byte it reads from a client (`channel_to_shell_tap`);
    benchmarks that measure the client's own cost turn that sleep off for this process. Only
    that one: the module's other sleeps pace polling loops (a session waiting for shell output),
    which without them would spin and starve every session of the interpreter."""
    import sys as _sys  # pylint: disable=import-outside-toplevel

    from fakenos.plugins.servers import ssh_server_paramiko  # pylint: disable=import-outside-toplevel

    if isinstance(ssh_server_paramiko.time, _Time):
        return
    ssh_server_paramiko.time = _Time(_sys)


class _Time:
    """`time` for fakenos's SSH server module, whose per-byte sleep does nothing."""

    def __init__(self, sys_module) -> None:
        self._sys = sys_module

    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds):
        frame = self._sys._getframe(1)  # pylint: disable=protected-access
        # After a byte the client typed: no pause. After an empty read (the client sent EOF and
        # the channel is not closed yet) the pause stays, or the loop would spin.
        if frame.f_code.co_name == "channel_to_shell_tap" and frame.f_locals.get("byte"):
            return None
        return time.sleep(seconds)


def _install_hook() -> None:
    """Routes every line of a session on one of our devices to the device (once per process)."""
    if getattr(CMDShell, "_orch_hooked", False):
        return
    original_default = CMDShell.default
    original_preloop = CMDShell.preloop
    original_stop = CMDShell.stop
    original_emptyline = CMDShell.emptyline

    def default(self, line):
        handler = getattr(getattr(self.nos, "device", None), "orch_handle_line", None)
        if handler is None:
            return original_default(self, line)
        return handler(self, line)

    def emptyline(self):
        handler = getattr(getattr(self.nos, "device", None), "orch_handle_line", None)
        if handler is None:
            return original_emptyline(self)
        # Dialogues (a banner's text, a [Y/N] question) take empty lines too.
        return handler(self, "")

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
    CMDShell.emptyline = emptyline
    CMDShell.preloop = preloop
    CMDShell.stop = stop
    CMDShell._orch_hooked = True  # pylint: disable=protected-access


_install_hook()
