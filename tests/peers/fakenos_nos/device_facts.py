"""What a simulated device says about itself, for orch's `netdev.facts`: `show version` (VRP
`display version`), the interfaces command and the few inventory/uptime commands, per
platform, in the shapes the real platforms print (modelled on captures from real devices, the
ones fakenos and ntc-templates ship), filled with this device's values.

The interfaces come from the running config: each `interface` section (Junos: each `set
interfaces` statement) with its description, IPv4 addresses and `shutdown` / `disable` (shown
administratively down); a config without interfaces shows the platform's management port.
Model, OS version and serial come from the device's settings (`model`, `os_version`,
`serial`), else from per-platform defaults, the serial derived from the fakenos host name so
every device has its own.

Pure functions of their arguments (the plugin passes its state in), so tests can call them.
"""

import datetime
import hashlib
import ipaddress
import re
import shlex
from typing import Dict, List, Optional

DEFAULTS = {
    "cisco_ios": {"model": "IOSv", "os_version": "15.9(3)M4", "serial_prefix": "9J"},
    "arista_eos": {"model": "vEOS-lab", "os_version": "4.30.0F", "serial_prefix": "SSJ"},
    "cisco_nxos": {"model": "C9300v", "os_version": "9.3(8)", "serial_prefix": "9N"},
    "cisco_xr": {"model": "IOS-XRv 9000", "os_version": "7.3.2", "serial_prefix": "FOX"},
    "cisco_asa": {"model": "ASA5506", "os_version": "9.8(2)", "serial_prefix": "JAD"},
    "huawei_vrp": {"model": "CE6800", "os_version": "8.210", "serial_prefix": "2102"},
    "juniper_junos": {"model": "mx104", "os_version": "21.4R3.15", "serial_prefix": "JN"},
}

# The port a device without configured interfaces shows.
MANAGEMENT = {
    "cisco_ios": "GigabitEthernet0/0", "arista_eos": "Management1", "cisco_nxos": "mgmt0",
    "cisco_xr": "MgmtEth0/RP0/CPU0/0", "cisco_asa": "Management0/0",
    "huawei_vrp": "GigabitEthernet0/0/0", "juniper_junos": "fxp0",
}


class Identity:
    """Model, OS version and serial of one device."""

    def __init__(self, platform: str, name: str, settings: dict) -> None:
        defaults = DEFAULTS[platform]
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest().upper()
        self.model: str = str(settings.get("model") or defaults["model"])
        self.os_version: str = str(settings.get("os_version") or defaults["os_version"])
        self.serial: str = str(settings.get("serial") or defaults["serial_prefix"] + digest[:9])
        self.mac_seed: str = digest[9:15].lower()


class Iface:
    """One interface as the device shows it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.description = ""
        self.addresses: List[str] = []  # "a.b.c.d/len"
        self.shutdown = False
        self.zone = ""  # ASA nameif
        self.units: Dict[str, "Iface"] = {}  # Junos logical units


def mac(identity: Identity, index: int, sep: str = ".") -> str:
    """A MAC address of this device's port `index`, in Cisco (`aabb.ccdd.eeff`), Huawei
    (`aabb-ccdd-eeff`) or Junos (`aa:bb:cc:dd:ee:ff`) notation."""
    raw = "5254" + identity.mac_seed[:6] + f"{index:02x}"
    if sep == ":":
        return ":".join(raw[i:i + 2] for i in range(0, 12, 2))
    return sep.join(raw[i:i + 4] for i in range(0, 12, 4))


def with_length(address: str, mask: str) -> Optional[str]:
    """`a.b.c.d/len` from an address and a netmask or a length."""
    try:
        if "/" in address:
            return str(ipaddress.ip_interface(address))
        return str(ipaddress.ip_interface(f"{address}/{mask}"))
    except ValueError:
        return None


def interfaces_of(platform: str, running) -> List[Iface]:
    """The interfaces of a running config: nodes (indented platforms) or set lines (Junos)."""
    found: List[Iface] = []
    if platform == "juniper_junos":
        by_name: Dict[str, Iface] = {}
        for line in running:
            words = shlex.split(line, posix=True)
            if len(words) < 3 or words[:2] != ["set", "interfaces"]:
                continue
            name = words[2]
            iface = by_name.get(name)
            if iface is None:
                iface = by_name[name] = Iface(name)
                found.append(iface)
            rest = words[3:]
            target = iface
            if len(rest) >= 2 and rest[0] == "unit":
                unit = f"{name}.{rest[1]}"
                target = iface.units.setdefault(unit, Iface(unit))
                rest = rest[2:]
            if rest[:1] == ["description"] and len(rest) > 1:
                target.description = " ".join(rest[1:])
            elif rest == ["disable"]:
                target.shutdown = True
            elif rest[:3] == ["family", "inet", "address"] and len(rest) > 3:
                address = with_length(rest[3], "32")
                if address:
                    target.addresses.append(address)
        return found
    for node in running:
        if not node.line.startswith("interface "):
            continue
        iface = Iface(node.line.split(None, 1)[1].replace(" ", ""))
        for child in node.children:
            words = child.line.split()
            if not words:
                continue
            if words[0] == "description" and len(words) > 1:
                iface.description = child.line.split(None, 1)[1]
            elif words == ["shutdown"]:
                iface.shutdown = True
            elif words == ["no", "shutdown"]:
                iface.shutdown = False
            elif words[0] == "nameif" and len(words) > 1:
                iface.zone = words[1]
            elif words[:2] in (["ip", "address"], ["ipv4", "address"]) and len(words) >= 3:
                address = with_length(words[2], words[3] if len(words) > 3 else "32")
                if address:
                    iface.addresses.append(address)
        found.append(iface)
    return found


def uptime_parts(booted: float, now: float) -> tuple:
    seconds = max(0, int(now - booted))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return days, hours, rest // 60, rest % 60


def ios_uptime(booted: float, now: float) -> str:
    days, hours, minutes, _ = uptime_parts(booted, now)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return ", ".join(parts)


# ---- version commands -------------------------------------------------------------------


def show_version(platform: str, hostname: str, identity: Identity, booted: float,
                 now: float) -> str:
    """`show version` (VRP: `display version`) as the platform prints it."""
    i = identity
    uptime = ios_uptime(booted, now)
    days, hours, minutes, seconds = uptime_parts(booted, now)
    if platform == "cisco_ios":
        return f"""Cisco IOS Software, IOSv Software (VIOS-ADVENTERPRISEK9-M), Version {i.os_version}, RELEASE SOFTWARE (fc3)
Technical Support: http://www.cisco.com/techsupport
Copyright (c) 1986-2020 by Cisco Systems, Inc.
Compiled Tue 11-Aug-20 16:51 by prod_rel_team


ROM: Bootstrap program is IOSv

{hostname} uptime is {uptime}
System returned to ROM by reload
System image file is "flash0:/vios-adventerprisek9-m"
Last reload reason: Unknown reason



This product contains cryptographic features and is subject to United
States and local country laws governing import, export, transfer and
use. Delivery of Cisco cryptographic products does not imply
third-party authority to import, export, distribute or use encryption.

Cisco {i.model} (revision 1.0) with  with 460137K/62464K bytes of memory.
Processor board ID {i.serial}
4 Gigabit Ethernet interfaces
DRAM configuration is 72 bits wide with parity disabled.
256K bytes of non-volatile configuration memory.
2097152K bytes of ATA System CompactFlash 0 (Read/Write)

Configuration register is 0x0"""
    if platform == "arista_eos":
        return f"""Arista {i.model}
Hardware version:
Serial number: {i.serial}
Hardware MAC address: {mac(i, 0)}
System MAC address: {mac(i, 0)}

Software image version: {i.os_version}
Architecture: x86_64
Internal build version: {i.os_version}-26914653.4300F
Internal build ID: 7d5b2a1e-5d6f-4c41-9b3e-6a0b6e2c4f11
Image format version: 1.0
Image optimization: None

Kernel version: 4.19.247-orch

Uptime: {hours + days * 24} hours and {minutes} minutes
Total memory: 8099732 kB
Free memory: 6101240 kB"""
    if platform == "cisco_nxos":
        return f"""Cisco Nexus Operating System (NX-OS) Software
TAC support: http://www.cisco.com/tac
Documents: http://www.cisco.com/en/US/products/ps9372/tsd_products_support_series_home.html
Copyright (c) 2002-2021, Cisco Systems, Inc. All rights reserved.

Software
  BIOS: version
  NXOS: version {i.os_version}
  BIOS compile time:
  NXOS image file is: bootflash:///nxos.{i.os_version}.bin
  NXOS compile time:  6/14/2021 12:00:00 [06/14/2021 21:00:00]


Hardware
  cisco Nexus9000 {i.model} Chassis
  Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz with 8161216 kB of memory.
  Processor Board ID {i.serial}

  Device name: {hostname}
  bootflash:    4287040 kB
Kernel uptime is {days} day(s), {hours} hour(s), {minutes} minute(s), {seconds} second(s)

Last reset
  Reason: Unknown
  System version:
  Service:

plugin
  Core Plugin, Ethernet Plugin

Active Package(s):
"""
    if platform == "cisco_xr":
        return f"""Cisco IOS XR Software, Version {i.os_version}
Copyright (c) 2013-2021 by Cisco Systems, Inc.

Build Information:
 Built By     : ingunawa
 Built On     : Wed Oct 13 20:00:43 PDT 2021
 Built Host   : iox-ucs-017
 Workspace    : /auto/srcarchive17/prod/{i.os_version}/xrv9k/ws
 Version      : {i.os_version}
 Location     : /opt/cisco/XR/packages/
 Label        : {i.os_version}

cisco {i.model} () processor
System uptime is {days} days {hours} hours {minutes} minutes"""
    if platform == "cisco_asa":
        return f"""Cisco Adaptive Security Appliance Software Version {i.os_version}
Firepower Extensible Operating System Version 2.2(2.17)
Device Manager Version 7.8(2)

Compiled on Wed 02-Aug-17 12:40 PDT by builders
System image file is "disk0:/asa982-lfbff-k8.SPA"
Config file at boot was "startup-config"

{hostname} up {days} days {hours} hours

Hardware:   {i.model}, 4096 MB RAM, CPU Atom C2000 series 1250 MHz, 1 CPU (4 cores)
Internal ATA Compact Flash, 8000MB
BIOS Flash M25P64 @ 0xfed01000, 16384KB

Encryption hardware device : Cisco ASA Crypto on-board accelerator (revision 0x1)

 1: Ext: GigabitEthernet1/1  : address is {mac(i, 1)}, irq 255
 2: Ext: GigabitEthernet1/2  : address is {mac(i, 2)}, irq 255

License mode: Smart Licensing

Serial Number: {i.serial}
Configuration register is 0x1
Configuration last modified by enable_15 at 10:00:00.000 UTC Mon Nov 30 2026"""
    if platform == "huawei_vrp":
        return f"""Huawei Versatile Routing Platform Software
VRP (R) software, Version {i.os_version} ({i.model} V200R021C10SPC600)
Copyright (C) 2012-2021 Huawei Technologies Co., Ltd.
HUAWEI {i.model} uptime is {days} days, {hours} hours, {minutes} minutes

{i.model} version information:
- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -"""
    # juniper_junos
    return f"""Hostname: {hostname}
Model: {i.model}
Junos: {i.os_version}
JUNOS OS Kernel 64-bit  [20220330.5b0e6a6_builder_stable_12]
JUNOS OS libs [20220330.5b0e6a6_builder_stable_12]
JUNOS OS runtime [20220330.5b0e6a6_builder_stable_12]
JUNOS Packet Forwarding Engine Support (MX Common) [{i.os_version}]"""


def extra_command(platform: str, command: str, identity: Identity, booted: float,
                  now: float) -> Optional[str]:
    """The inventory and uptime commands facts read where the version lacks them; None for
    any other command."""
    i = identity
    if platform == "cisco_xr" and command in ("admin show inventory", "show inventory"):
        return f"""Name: Rack 0 Descr: Cisco XRv9K Virtual Router
PID: R-IOSXRV9000-CH VID: V01 SN: {i.serial}

Name: 0/0 Descr: Cisco XRv9K Virtual Line Card
PID: R-IOSXRV9000-LC-C VID: V01 SN: {i.serial[:3]}LC{i.serial[5:]}

Name: 0/RP0 Descr: Cisco XRv9K Virtual Route Processor
PID: R-IOSXRV9000-RP-C VID: V01 SN: {i.serial[:3]}RP{i.serial[5:]}"""
    if platform == "huawei_vrp" and command == "display sn license":
        return f" ESN of device: {i.serial}"
    if platform == "juniper_junos" and command == "show chassis hardware":
        return f"""Hardware inventory:
Item             Version  Part number  Serial number     Description
Chassis                                {i.serial:<17} {i.model.upper()}
Midplane         REV 49   750-054901   ACRB5621          {i.model.upper()}
PEM 0            REV 04   740-045933   1E042020039       AC Power Entry Module
PEM 1            REV 04   740-045933   1E042020125       AC Power Entry Module
Routing Engine 0 REV 07   750-054913   CAGJ2828          RE-MX-104
AFEB 0                    BUILTIN      BUILTIN           Forwarding Engine Processor
FPC 0                     BUILTIN      BUILTIN           MPC BUILTIN
  MIC 0          REV 25   750-028387   CAGH4126          3D 4x 10GE  XFP
    PIC 0                 BUILTIN      BUILTIN           2x 10GE  XFP
      Xcvr 0     REV 01   740-014279   AD1246A00C6       XFP-10G-LR
Fan Tray 0       REV 03   711-049359   ACRB4935          Fan Tray"""
    if platform == "juniper_junos" and command == "show system uptime":
        fmt = "%Y-%m-%d %H:%M:%S UTC"
        boot = datetime.datetime.fromtimestamp(booted, datetime.timezone.utc)
        current = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        days, hours, minutes, _ = uptime_parts(booted, now)
        ago = f"{days}d {hours:02d}:{minutes:02d}" if days else f"{hours:02d}:{minutes:02d}"
        return f"""Current time: {current.strftime(fmt)}
Time Source:  LOCAL CLOCK
System booted: {boot.strftime(fmt)} ({ago} ago)
Protocols started: {boot.strftime(fmt)} ({ago} ago)
Last configured: {boot.strftime(fmt)} ({ago} ago) by root
{current.strftime('%I:%M%p').lstrip('0')}  up {minutes} mins, 1 user, load averages: 0.01, 0.02, 0.00"""
    return None


# ---- interfaces ---------------------------------------------------------------------------


def show_interfaces(platform: str, running, identity: Identity, now: float) -> str:
    """The interfaces command (`show interfaces`, NX-OS/ASA `show interface`, VRP `display
    interface`) for the interfaces of `running`."""
    interfaces = interfaces_of(platform, running) or [Iface(MANAGEMENT[platform])]
    render = {
        "cisco_ios": ios_interface, "arista_eos": eos_interface, "cisco_nxos": nxos_interface,
        "cisco_xr": xr_interface, "cisco_asa": asa_interface, "huawei_vrp": vrp_interface,
        "juniper_junos": junos_interface,
    }[platform]
    blocks = [render(iface, identity, index, now) for index, iface in enumerate(interfaces)]
    return ("\n" if platform in ("cisco_nxos", "cisco_xr", "huawei_vrp", "juniper_junos")
            else "").join(blocks).rstrip("\n")


def ios_interface(iface: Iface, identity: Identity, index: int, _now: float) -> str:
    loopback = iface.name.lower().startswith("loopback")
    state = "administratively down" if iface.shutdown else "up"
    protocol = "down" if iface.shutdown else "up"
    lines = [f"{iface.name} is {state}, line protocol is {protocol} "]
    if loopback:
        lines.append("  Hardware is Loopback")
    else:
        lines.append(f"  Hardware is iGbE, address is {mac(identity, index)} (bia {mac(identity, index)})")
    if iface.description:
        lines.append(f"  Description: {iface.description}")
    for address in iface.addresses[:1]:
        lines.append(f"  Internet address is {address}")
    if loopback:
        lines += ["  MTU 1514 bytes, BW 8000000 Kbit/sec, DLY 5000 usec, ",
                  "     reliability 255/255, txload 1/255, rxload 1/255",
                  "  Encapsulation LOOPBACK, loopback not set",
                  "  Keepalive set (10 sec)"]
    else:
        lines += ["  MTU 1500 bytes, BW 1000000 Kbit/sec, DLY 10 usec, ",
                  "     reliability 255/255, txload 1/255, rxload 1/255",
                  "  Encapsulation ARPA, loopback not set",
                  "  Keepalive set (10 sec)",
                  "  Auto Duplex, Auto Speed, link type is auto, media type is RJ45",
                  "  output flow-control is unsupported, input flow-control is unsupported",
                  "  ARP type: ARPA, ARP Timeout 04:00:00"]
    lines += ["  Last input 00:00:01, output 00:00:02, output hang never",
              "  Last clearing of \"show interface\" counters never",
              "  Input queue: 0/75/0/0 (size/max/drops/flushes); Total output drops: 0",
              "  Queueing strategy: fifo",
              "  Output queue: 0/40 (size/max)",
              "  5 minute input rate 0 bits/sec, 0 packets/sec",
              "  5 minute output rate 0 bits/sec, 0 packets/sec",
              "     1527 packets input, 141342 bytes, 0 no buffer",
              "     Received 0 broadcasts (0 IP multicasts)",
              "     0 runts, 0 giants, 0 throttles ",
              "     0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored",
              "     0 watchdog, 0 multicast, 0 pause input",
              "     1604 packets output, 155013 bytes, 0 underruns",
              "     0 output errors, 0 collisions, 1 interface resets",
              "     0 unknown protocol drops",
              "     0 babbles, 0 late collision, 0 deferred",
              "     0 lost carrier, 0 no carrier, 0 pause output",
              "     0 output buffer failures, 0 output buffers swapped out"]
    return "\n".join(lines) + "\n"


def eos_interface(iface: Iface, identity: Identity, index: int, _now: float) -> str:
    if iface.shutdown:
        head = f"{iface.name} is administratively down, line protocol is down (disabled)"
    else:
        head = f"{iface.name} is up, line protocol is up (connected)"
    lines = [head, f"  Hardware is Ethernet, address is {mac(identity, index)} (bia {mac(identity, index)})"]
    if iface.description:
        lines.append(f"  Description: {iface.description}")
    for address in iface.addresses[:1]:
        net = ipaddress.ip_interface(address).network
        lines += [f"  Internet address is {address}",
                  f"  Broadcast address is {net.broadcast_address}",
                  "  IP MTU 1500 bytes (default)"]
    lines += ["  Ethernet MTU 9214 bytes, BW 1000000 kbit",
              "  Full-duplex, 1Gb/s, auto negotiation: off, uni-link: n/a",
              "  Up 21 minutes, 40 seconds",
              "  Loopback Mode : None",
              "  2 link status changes since last clear",
              "  Last clearing of \"show interface\" counters never",
              "  5 minutes input rate 0 bps (0.0% with framing overhead), 0 packets/sec",
              "  5 minutes output rate 0 bps (0.0% with framing overhead), 0 packets/sec",
              "     5280 packets input, 381190 bytes",
              "     Received 1 broadcasts, 273 multicast",
              "     0 runts, 0 giants",
              "     0 input errors, 0 CRC, 0 alignment, 0 symbol, 0 input discards",
              "     0 PAUSE input",
              "     0 packets output, 0 bytes",
              "     Sent 0 broadcasts, 0 multicast",
              "     0 output errors, 0 collisions",
              "     0 late collision, 0 deferred, 0 output discards",
              "     0 PAUSE output"]
    return "\n".join(lines) + "\n"


def nxos_interface(iface: Iface, identity: Identity, index: int, _now: float) -> str:
    physical = iface.name.lower().startswith(("ethernet", "mgmt"))
    if iface.name.lower().startswith("loopback"):
        head = [f"{iface.name} is {'down (Administratively down)' if iface.shutdown else 'up'}",
                f"admin state is {'down' if iface.shutdown else 'up'},",
                "  Hardware: Loopback"]
    elif physical:
        head = [f"{iface.name} is {'down (Administratively down)' if iface.shutdown else 'up'}",
                f"admin state is {'down' if iface.shutdown else 'up'}, Dedicated Interface",
                f"  Hardware: 100/1000/10000 Ethernet, address: {mac(identity, index)} (bia {mac(identity, index)})"]
    else:
        state = "down (Administratively down)" if iface.shutdown else "up"
        head = [f"{iface.name} is {state}, line protocol is {'down' if iface.shutdown else 'up'}",
                f"  Hardware is EtherSVI, address is  {mac(identity, index)}"]
    lines = head
    if iface.description:
        lines.append(f"  Description: {iface.description}")
    for address in iface.addresses[:1]:
        lines.append(f"  Internet Address is {address}")
    if iface.name.lower().startswith("loopback"):
        lines += ["  MTU 1500 bytes, BW 8000000 Kbit, DLY 5000 usec",
                  "  Auto-mdix is turned off",
                  "    12 packets input 1464 bytes",
                  "    0 multicast frames 0 compressed",
                  "    0 input errors 0 frame 0 overrun 0 fifo",
                  "    24 packets output 2928 bytes 0 underruns",
                  "    0 output errors 0 collisions 0 fifo",
                  "    0 out_carrier_errors"]
        return "\n".join(lines) + "\n"
    lines.append("  MTU 1500 bytes, BW 1000000 Kbit, DLY 10 usec")
    if physical:
        lines += ["  reliability 255/255, txload 1/255, rxload 1/255",
                  "  Encapsulation ARPA, medium is broadcast",
                  "  full-duplex, 1000 Mb/s",
                  "  Beacon is turned off",
                  "  Auto-Negotiation is turned on  FEC mode is Auto",
                  "  Input flow-control is off, output flow-control is off",
                  "  Auto-mdix is turned off",
                  "  Switchport monitor is off ",
                  "  EtherType is 0x8100 ",
                  "  Last link flapped 00:10:12",
                  "  Last clearing of \"show interface\" counters never",
                  "  1 interface resets",
                  "  30 seconds input rate 0 bits/sec, 0 packets/sec",
                  "  30 seconds output rate 0 bits/sec, 0 packets/sec",
                  "  RX",
                  "    0 unicast packets  12 multicast packets  0 broadcast packets",
                  "    12 input packets  1464 bytes",
                  "    0 jumbo packets  0 storm suppression bytes",
                  "    0 runts  0 giants  0 CRC  0 no buffer",
                  "    0 input error  0 short frame  0 overrun   0 underrun  0 ignored",
                  "    0 watchdog  0 bad etype drop  0 bad proto drop  0 if down drop",
                  "    0 input with dribble  0 input discard",
                  "    0 Rx pause",
                  "  TX",
                  "    0 unicast packets  24 multicast packets  0 broadcast packets",
                  "    24 output packets  2928 bytes",
                  "    0 jumbo packets",
                  "    0 output error  0 collision  0 deferred  0 late collision",
                  "    0 lost carrier  0 no carrier  0 babble 0 output discard",
                  "    0 Tx pause"]
    return "\n".join(lines) + "\n"


def xr_interface(iface: Iface, identity: Identity, index: int, _now: float) -> str:
    loopback = iface.name.lower().startswith("loopback")
    if iface.shutdown:
        head = f"{iface.name} is administratively down, line protocol is administratively down"
    else:
        head = f"{iface.name} is up, line protocol is up"
    lines = [head, "  Interface state transitions: 1"]
    if loopback:
        lines.append("  Hardware is Loopback interface(s)")
    else:
        lines.append(f"  Hardware is GigabitEthernet, address is {mac(identity, index)} (bia {mac(identity, index)})")
    if iface.description:
        lines.append(f"  Description: {iface.description}")
    lines.append(f"  Internet address is {iface.addresses[0] if iface.addresses else 'Unknown'}")
    if loopback:
        lines += ["  MTU 1500 bytes, BW 0 Kbit",
                  "     reliability Unknown, txload Unknown, rxload Unknown",
                  "  Encapsulation Loopback,  loopback not set,",
                  "  Last link flapped 00:10:12",
                  "  Last input Unknown, output Unknown",
                  "  Last clearing of \"show interface\" counters Unknown",
                  "  Input/output data rate is disabled."]
    else:
        lines += ["  MTU 1514 bytes, BW 1000000 Kbit (Max: 1000000 Kbit)",
                  "     reliability 255/255, txload 0/255, rxload 0/255",
                  "  Encapsulation ARPA,",
                  "  Full-duplex, 1000Mb/s, unknown, link type is force-up",
                  "  output flow control is off, input flow control is off",
                  "  Carrier delay (up) is 10 msec",
                  "  loopback not set,",
                  "  Last link flapped 00:10:12",
                  "  ARP type ARPA, ARP timeout 04:00:00",
                  "  Last input 00:00:00, output 00:00:00",
                  "  Last clearing of \"show interface\" counters never",
                  "  5 minute input rate 0 bits/sec, 0 packets/sec",
                  "  5 minute output rate 0 bits/sec, 0 packets/sec",
                  "     12 packets input, 1464 bytes, 0 total input drops",
                  "     0 drops for unrecognized upper-level protocol",
                  "     Received 0 broadcast packets, 12 multicast packets",
                  "              0 runts, 0 giants, 0 throttles, 0 parity",
                  "     0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored, 0 abort",
                  "     24 packets output, 2928 bytes, 0 total output drops",
                  "     Output 0 broadcast packets, 24 multicast packets",
                  "     0 output errors, 0 underruns, 0 applique, 0 resets",
                  "     0 output buffer failures, 0 output buffers swapped out",
                  "     1 carrier transitions"]
    return "\n".join(lines) + "\n"


def asa_interface(iface: Iface, identity: Identity, index: int, _now: float) -> str:
    state = "administratively down" if iface.shutdown else "up"
    protocol = "down" if iface.shutdown else "up"
    lines = [f'Interface {iface.name} "{iface.zone}", is {state}, line protocol is {protocol}',
             "  Hardware is i82540EM rev03, BW 1000 Mbps, DLY 10 usec",
             "        Full-Duplex(Full-duplex), Auto-Speed(1000 Mbps)",
             "        Input flow control is unsupported, output flow control is off"]
    if iface.description:
        lines.append(f"        Description: {iface.description}")
    lines.append(f"        MAC address {mac(identity, index)}, MTU 1500")
    if iface.addresses:
        address = ipaddress.ip_interface(iface.addresses[0])
        lines.append(f"        IP address {address.ip}, subnet mask {address.netmask}")
    else:
        lines.append("        IP address unassigned")
    lines += ["        2 packets input, 128 bytes, 0 no buffer",
              "        Received 0 broadcasts, 0 runts, 0 giants",
              "        0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored, 0 abort",
              "        0 pause input, 0 resume input",
              "        0 L2 decode drops",
              "        1 packets output, 64 bytes, 0 underruns",
              "        0 pause output, 0 resume output",
              "        0 output errors, 0 collisions, 1 interface resets",
              "        0 late collisions, 0 deferred",
              "        0 input reset drops, 0 output reset drops",
              "        input queue (blocks free curr/low): hardware (511/511)",
              "        output queue (blocks free curr/low): hardware (511/511)"]
    if iface.zone:
        lines += [f'  Traffic Statistics for "{iface.zone}":',
                  "        2 packets input, 128 bytes",
                  "        1 packets output, 64 bytes",
                  "        0 packets dropped",
                  "      1 minute input rate 0 pkts/sec,  0 bytes/sec",
                  "      1 minute output rate 0 pkts/sec,  0 bytes/sec",
                  "      1 minute drop rate, 0 pkts/sec",
                  "      5 minute input rate 0 pkts/sec,  0 bytes/sec",
                  "      5 minute output rate 0 pkts/sec,  0 bytes/sec",
                  "      5 minute drop rate, 0 pkts/sec"]
    return "\n".join(lines) + "\n"


def vrp_interface(iface: Iface, identity: Identity, index: int, now: float) -> str:
    clock = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    stamp = clock.strftime("%Y-%m-%d %H:%M:%S")
    state = "Administratively DOWN" if iface.shutdown else "UP"
    protocol = "DOWN" if iface.shutdown else "UP"
    lines = [f"{iface.name} current state : {state}",
             f"Line protocol current state : {protocol}"]
    if not iface.shutdown:
        lines.append(f"Last line protocol up time : {stamp}")
    lines.append(f"Description:{iface.description}")
    lines.append("Route Port,The Maximum Transmit Unit is 1500")
    if iface.addresses:
        lines.append(f"Internet Address is {iface.addresses[0]}")
    else:
        lines.append("Internet protocol processing : disabled")
    lines += [f"IP Sending Frames' Format is PKTFMT_ETHNT_2, Hardware address is {mac(identity, index, '-')}",
              f"Last physical up time   : {'-' if iface.shutdown else stamp}",
              "Last physical down time : -",
              f"Current system time: {stamp}",
              "Port Mode: COMMON COPPER",
              "Speed : 1000,  Loopback: NONE",
              "Duplex: FULL,  Negotiation: ENABLE",
              "Mdi   : AUTO,  Clock   : -",
              "Last 300 seconds input rate 0 bits/sec, 0 packets/sec",
              "Last 300 seconds output rate 0 bits/sec, 0 packets/sec",
              "Input peak rate 0 bits/sec,Record time: -",
              "Output peak rate 0 bits/sec,Record time: -",
              "",
              "Input:  0 packets, 0 bytes",
              "  Unicast:                  0,  Multicast:                   0",
              "  Broadcast:                0,  Jumbo:                       0",
              "  Discard:                  0,  Total Error:                 0",
              "",
              "Output:  0 packets, 0 bytes",
              "  Unicast:                  0,  Multicast:                   0",
              "  Broadcast:                0,  Jumbo:                       0",
              "  Discard:                  0,  Total Error:                 0",
              "",
              "    Input bandwidth utilization threshold : 100.00%",
              "    Output bandwidth utilization threshold: 100.00%",
              "    Input bandwidth utilization  :    0%",
              "    Output bandwidth utilization :    0%"]
    return "\n".join(lines) + "\n"


def junos_interface(iface: Iface, identity: Identity, index: int, now: float) -> str:
    clock = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    admin = "Administratively down" if iface.shutdown else "Enabled"
    link = "Down" if iface.shutdown else "Up"
    lines = [f"Physical interface: {iface.name}, {admin}, Physical link is {link}",
             f"  Interface index: {148 + index}, SNMP ifIndex: {526 + index}"]
    if iface.description:
        lines.append(f"  Description: {iface.description}")
    lines += ["  Link-level type: Ethernet, MTU: 1514, MRU: 0, LAN-PHY mode,",
              "  Link-mode: Full-duplex, Speed: 1000mbps, BPDU Error: None,",
              "  MAC-REWRITE Error: None, Loopback: Disabled, Source filtering: Disabled,",
              "  Flow control: Enabled, Auto-negotiation: Enabled, Remote fault: Online",
              "  Device flags   : Present Running" + (" Down" if iface.shutdown else ""),
              "  Interface flags: " + ("Hardware-Down " if iface.shutdown else "") + "SNMP-Traps Internal: 0x4000",
              "  Link flags     : None",
              "  CoS queues     : 8 supported, 8 maximum usable queues",
              f"  Current address: {mac(identity, index, ':')}, Hardware address: {mac(identity, index, ':')}",
              f"  Last flapped   : {clock:%Y-%m-%d %H:%M:%S} UTC (00:10:12 ago)",
              "  Input rate     : 0 bps (0 pps)",
              "  Output rate    : 0 bps (0 pps)",
              "  Active alarms  : None",
              "  Active defects : None",
              "  Interface transmit statistics: Disabled"]
    for number, unit in enumerate(iface.units.values()):
        flags = "Down" if iface.shutdown or unit.shutdown else "Up"
        lines += ["",
                  f"  Logical interface {unit.name} (Index {334 + number}) (SNMP ifIndex {527 + number})",
                  f"    Flags: {flags} SNMP-Traps 0x4004000 Encapsulation: ENET2"]
        if unit.description:
            lines.append(f"    Description: {unit.description}")
        lines += ["    Input packets : 12",
                  "    Output packets: 24",
                  "    Protocol inet, MTU: 1500",
                  "      Flags: Sendbcast-pkt-to-re"]
        for address in unit.addresses:
            net = ipaddress.ip_interface(address)
            lines += ["      Addresses, Flags: Is-Preferred Is-Primary",
                      f"        Destination: {net.network}, Local: {net.ip}, "
                      f"Broadcast: {net.network.broadcast_address}"]
    return "\n".join(lines) + "\n"


def command_output(platform: str, command: str, hostname: str, name: str, settings: dict,
                   running, booted: float, now: float) -> Optional[str]:
    """The output of one of the commands above, or None for any other command."""
    identity = Identity(platform, name, settings)
    version = "display version" if platform == "huawei_vrp" else "show version"
    if command == version:
        return show_version(platform, hostname, identity, booted, now)
    interfaces = {"cisco_nxos": "show interface", "cisco_asa": "show interface",
                  "huawei_vrp": "display interface"}.get(platform, "show interfaces")
    if command == interfaces or re.fullmatch(r"show interfaces?", command) and platform != "huawei_vrp":
        return show_interfaces(platform, running, identity, now)
    return extra_command(platform, command, identity, booted, now)
