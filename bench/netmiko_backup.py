#!/usr/bin/env python3
"""Benchmark baseline only: back up the running config of every device of an orch inventory with
netmiko and a thread pool, the work `workflows/config-backup.yaml` does through orch.

Per device: `ConnectHandler` (SSH login; netmiko's session preparation turns paging off), `enable`
(with the enable password for devices whose inventory vars name an enable credential),
`show running-config`, write the output to `OUT/NAME.cfg`, disconnect. Run it with the peers
venv's Python (netmiko is installed there by `scripts/setup`)::

    target/peers-venv/bin/python bench/netmiko_backup.py --inventory DIR/inventory.yaml \\
        --password-file F [--enable-password-file F] [--username admin] --out OUTDIR [--workers 16]

`inventory.yaml` is what `tests/peers/fleet.py` writes (JSON, which is YAML). Prints one JSON
line: {"devices", "backed_up", "failed": {name: error}, "seconds"} where `seconds` is the wall
time of the pool alone (not Python's start-up or imports). Exits 1 when a device failed.
"""

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from netmiko import ConnectHandler
from netmiko.arista.arista import AristaBase


def _eos_session_preparation(self):
    """netmiko's EOS preparation waits for EOS's confirmations ("Width set to", "Pagination
    disabled") which the fakenos stand-in does not print, so every EOS login timed out. This
    sends the same commands and waits for their echo, as netmiko's IOS driver does."""
    self.ansi_escape_codes = True
    self._test_channel_read(pattern=self.prompt_pattern)
    self.set_terminal_width(command="terminal width 511", pattern=r"terminal width")
    self.disable_paging(command="terminal length 0")
    self.set_base_prompt()


AristaBase.session_preparation = _eos_session_preparation


def first_line(path):
    return path.read_text(encoding="utf-8").splitlines()[0] if path else ""


def backup(device, username, password, enable_password, out):
    """Backs up one device; returns None or the error text."""
    try:
        connection = ConnectHandler(
            device_type=device["platform"],
            host=device["address"],
            port=device["port"],
            username=username,
            password=password,
            secret=enable_password if device.get("vars", {}).get("enable_credential") else "",
        )
        try:
            connection.enable()
            config = connection.send_command("show running-config")
        finally:
            connection.disconnect()
        (out / f"{device['name']}.cfg").write_text(config, encoding="utf-8")
        return None
    except Exception as err:  # pylint: disable=broad-except
        return f"{type(err).__name__}: {err}"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--inventory", required=True, type=Path)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password-file", required=True, type=Path)
    parser.add_argument("--enable-password-file", type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args(argv)

    devices = json.loads(args.inventory.read_text(encoding="utf-8"))["devices"]
    password = first_line(args.password_file)
    enable_password = first_line(args.enable_password_file)
    args.out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        errors = list(
            pool.map(
                lambda d: backup(d, args.username, password, enable_password, args.out), devices
            )
        )
    seconds = time.perf_counter() - started

    failed = {d["name"]: e for d, e in zip(devices, errors) if e is not None}
    print(
        json.dumps(
            {
                "devices": len(devices),
                "backed_up": len(devices) - len(failed),
                "failed": failed,
                "seconds": round(seconds, 3),
            }
        ),
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
