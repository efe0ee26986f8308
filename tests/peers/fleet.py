#!/usr/bin/env python3
"""A simulated network fleet for orch's demo and benchmarks: fakenos devices (Cisco IOS and
Arista EOS) whose running config really changes, served from this process.

Every device runs our fakenos NOS plugin (``fakenos_nos/configurable_nos.py`` next to this file),
so a pushed config shows up in the next ``show running-config``. Run it with the peers venv's
Python (``scripts/setup`` creates ``target/peers-venv``)::

    target/peers-venv/bin/python tests/peers/fleet.py --dir DIR \\
        (--spec R1:cisco_ios,SW1:arista_eos | --count 50 --platforms cisco_ios,arista_eos) \\
        [--username admin] [--password-file F] [--enable-password-file F] \\
        [--credential lab] [--enable-credential lab-enable] [--configs DIR] [--ignore-stdin] \\
        [--fast]

Writes into DIR:
- ``fakenos.yaml`` and one ``NAME.yaml`` per device (fakenos's inventory and our plugin's
  per-device settings);
- ``inventory.yaml``: the orch inventory (``orch inventory import``): every device at
  127.0.0.1 with its port and platform, logging in with vault credential ``--credential``, tags
  ``site: lab`` and ``platform: <platform>``, and for devices whose ``enable`` asks for a
  password, the var ``enable_credential: <--enable-credential>``;
- ``known_hosts``: each device's SSH host key as an OpenSSH known_hosts line, for
  ``orch hostkey trust 127.0.0.1:PORT --from-known-hosts DIR/known_hosts`` (trust out of band).

Passwords: read from the files (first line) so they never show in a process list; a missing
file means a random password, written to that path (mode 0600). With ``--enable-password-file``
every Cisco IOS device's ``enable`` asks for that password (EOS devices enable without one, as
they do out of the box); without it no device asks.

fakenos sleeps 10 ms after each byte a client types, like a slow device; ``--fast`` turns that
off for the whole fleet, to measure what a client itself costs.

Devices of ``--spec`` boot with ``--configs DIR/NAME.cfg`` when that file exists; other devices
boot with a generated config of realistic size (hostname, interfaces, routing, management lines).

Prints ``ready N devices`` on stdout once every port sends an SSH banner, then serves until
stdin closes (so a caller that dies, and with it the pipe, never leaves the fleet running),
or until SIGTERM / SIGINT. ``--ignore-stdin`` is for callers that stop it by pid instead.
"""

import argparse
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN = HERE / "fakenos_nos" / "configurable_nos.py"
HOST = "127.0.0.1"
PLATFORMS = ("cisco_ios", "arista_eos")
# Name prefix per platform for --count fleets: R1, R2, ... and SW1, SW2, ...
PREFIX = {"cisco_ios": "R", "arista_eos": "SW"}
START_TIMEOUT = 60.0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--spec", help="name:platform[,name:platform...]")
    which.add_argument("--count", type=int, help="number of devices, platforms in turn")
    parser.add_argument(
        "--platforms",
        default=",".join(PLATFORMS),
        help="platforms of a --count fleet, used in turn (default: cisco_ios,arista_eos)",
    )
    parser.add_argument("--dir", required=True, type=Path, help="directory for the fleet's files")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password-file", type=Path)
    parser.add_argument("--enable-password-file", type=Path)
    parser.add_argument("--credential", default="lab", help="vault credential of the logins")
    parser.add_argument(
        "--enable-credential", default="lab-enable", help="vault credential of the enable secret"
    )
    parser.add_argument("--configs", type=Path, help="directory of NAME.cfg initial configs")
    parser.add_argument("--ignore-stdin", action="store_true")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="no 10 ms sleep per typed byte (to measure a client's own cost)",
    )
    parser.add_argument("--log-level", default="error", help="fakenos's log level")
    return parser.parse_args(argv)


def devices_of(args):
    """[(name, platform)] from --spec or --count."""
    if args.spec:
        devices = []
        for item in args.spec.split(","):
            name, _, platform = item.strip().partition(":")
            if not name or platform not in PLATFORMS:
                sys.exit(
                    f"error: --spec item {item!r} is not name:platform with platform one of "
                    f"{', '.join(PLATFORMS)}"
                )
            devices.append((name, platform))
        names = [name for name, _ in devices]
        if len(set(names)) != len(names):
            sys.exit("error: --spec names a device twice; give every device its own name")
        return devices
    platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
    bad = [p for p in platforms if p not in PLATFORMS]
    if bad or not platforms:
        sys.exit(f"error: --platforms {args.platforms!r}: each must be one of {', '.join(PLATFORMS)}")
    if args.count is None or args.count < 1:
        sys.exit("error: --count must be at least 1")
    counters = {p: 0 for p in platforms}
    devices = []
    for index in range(args.count):
        platform = platforms[index % len(platforms)]
        counters[platform] += 1
        devices.append((f"{PREFIX[platform]}{counters[platform]}", platform))
    return devices


def password(path, label):
    """The first line of `path`, or a new random password written there."""
    if path is None:
        return None
    if path.exists():
        value = path.read_text(encoding="utf-8").splitlines()[0:1]
        if not value or not value[0]:
            sys.exit(f"error: {label} file {path} is empty; write the password on its first line")
        return value[0]
    value = f"{label}-{secrets.token_hex(8)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    return value


def generated_config(name, platform, index):
    """A plausible config of a few dozen lines, different per device."""
    ios = platform == "cisco_ios"
    pad = " " if ios else "   "
    lines = [f"hostname {name}", "!", "service timestamps log datetime msec"] if ios else [
        f"hostname {name}",
        "spanning-tree mode mstp",
    ]
    lines.append("ip domain-name lab.example.net" if ios else "dns domain lab.example.net")
    for port in range(1, 5):
        ifname = f"GigabitEthernet0/{port}" if ios else f"Ethernet{port}"
        lines += [
            f"interface {ifname}",
            f"{pad}description link-{port} of {name}",
            f"{pad}ip address 10.{index % 250}.{port}.1 255.255.255.0",
            f"{pad}no shutdown" if ios else f"{pad}mtu 9214",
        ]
    lines += [
        "interface Loopback0",
        f"{pad}ip address 10.255.{index // 250}.{index % 250 + 1} 255.255.255.255",
        "router ospf 1",
        f"{pad}router-id 10.255.{index // 250}.{index % 250 + 1}",
        f"{pad}network 10.{index % 250}.0.0 0.0.255.255 area 0",
        "ntp server 192.0.2.1",
        "ntp server 192.0.2.2",
        "logging host 192.0.2.50",
        "snmp-server community lab-ro RO",
        "snmp-server location rack-%d" % (index // 10 + 1),
        "username admin privilege 15 secret 5 $1$abcd$0123456789abcdefghijk.",
        "line vty 0 4" if ios else "management ssh",
        f"{pad}transport input ssh" if ios else f"{pad}idle-timeout 60",
    ]
    return "\n".join(lines) + "\nend\n"


def free_ports(count):
    """`count` distinct free ports: every socket stays bound until all are picked, so the
    kernel cannot hand out the same port twice."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def ssh_banner(port):
    """The first line the server on `port` sends, or None."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as s:
            s.settimeout(2)
            data = b""
            while b"\n" not in data and len(data) < 255:
                chunk = s.recv(255)
                if not chunk:
                    break
                data += chunk
            # End the handshake in the protocol's terms so the server logs no broken connection.
            s.sendall(b"SSH-2.0-orch-fleet-probe\r\n")
            return data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    except OSError:
        return None


def stop_fleet(net):
    """Stops every device at once: fakenos stops hosts one by one and each waits up to its
    listener's poll interval (about a second), which for 50 devices was most of a minute."""
    threads = [
        threading.Thread(target=host.stop, daemon=True)
        for host in net.hosts.values()
        if host.running
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))


def main(argv):
    args = parse_args(argv)
    devices = devices_of(args)
    args.dir.mkdir(parents=True, exist_ok=True)
    login = password(args.password_file, "fleet") or f"fleet-{secrets.token_hex(8)}"
    enable = password(args.enable_password_file, "enable")

    hosts = {}
    inventory = []
    ports = {}
    free = free_ports(len(devices))
    for index, (name, platform) in enumerate(devices):
        config_file = args.configs / f"{name}.cfg" if args.configs else None
        if config_file is not None and config_file.exists():
            config = config_file.read_text(encoding="utf-8")
        else:
            config = generated_config(name, platform, index)
        asks_enable = enable is not None and platform == "cisco_ios"
        settings = {
            "platform": platform,
            "enable_password": enable if asks_enable else None,
            "config": config,
            "fast": args.fast,
        }
        settings_path = args.dir / f"{name}.yaml"
        fd = os.open(settings_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(settings, f)  # JSON is YAML: the plugin reads it with yaml.safe_load
        port = free[index]
        ports[name] = port
        hosts[name] = {
            "port": port,
            # fakenos checks the platform name; our plugin reads its own from the settings.
            "platform": platform,
            "nos": {"plugin": str(PLUGIN)},
            "configuration_file": str(settings_path),
        }
        entry = {
            "name": name,
            "address": HOST,
            "port": port,
            "platform": platform,
            "credential": args.credential,
            "tags": {"site": "lab", "platform": platform},
            "vars": {"enable_credential": args.enable_credential} if asks_enable else {},
        }
        inventory.append(entry)

    fakenos_inventory = {
        "default": {
            "username": args.username,
            "password": login,
            "server": {
                "plugin": "ParamikoSshServer",
                "configuration": {"address": HOST, "timeout": 1},
            },
        },
        "hosts": hosts,
    }
    fakenos_path = args.dir / "fakenos.yaml"
    fd = os.open(fakenos_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(fakenos_inventory, f)
    (args.dir / "inventory.yaml").write_text(
        json.dumps({"devices": inventory}, indent=1) + "\n", encoding="utf-8"
    )

    import logging

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    from fakenos import FakeNOS  # from the peers venv; imported late so --help works anywhere

    # A client that hangs up mid-handshake (our readiness probe, a scanner, a killed client)
    # ends paramiko's server thread with EOFError; that is no fault of the fleet, so it is not
    # printed as a traceback. Anything else still is.
    default_hook = threading.excepthook

    def quiet_hook(hook_args):
        if issubclass(hook_args.exc_type, (EOFError, ConnectionError)):
            return
        default_hook(hook_args)

    threading.excepthook = quiet_hook

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    net = FakeNOS(inventory=str(fakenos_path))
    net.start()
    try:
        known = []
        for name, host in net.hosts.items():
            key = getattr(host.server, "_ssh_server_key", None)
            if key is not None:
                known.append(f"[{HOST}]:{host.port} {key.get_name()} {key.get_base64()}")
        (args.dir / "known_hosts").write_text("\n".join(known) + "\n", encoding="utf-8")

        deadline = time.monotonic() + START_TIMEOUT
        waiting = dict(ports)
        while waiting and not stop.is_set():
            for name, port in list(waiting.items()):
                banner = ssh_banner(port)
                if banner and banner.startswith("SSH-"):
                    del waiting[name]
            if waiting:
                if time.monotonic() > deadline:
                    sys.exit(f"error: devices {sorted(waiting)} did not accept SSH within {START_TIMEOUT:.0f} s")
                time.sleep(0.05)
        if stop.is_set():
            return 0
        print(f"ready {len(ports)} devices", flush=True)

        if not args.ignore_stdin:
            def watch_stdin():
                try:
                    while sys.stdin.buffer.read(4096):
                        pass
                except (OSError, ValueError):
                    pass
                stop.set()

            threading.Thread(target=watch_stdin, daemon=True).start()
        while not stop.wait(0.2):
            pass
        return 0
    finally:
        stop_fleet(net)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Server threads of sessions a client left open are not daemons and could keep the process
    # alive after the fleet is stopped: leave without waiting for them.
    os._exit(code or 0)
