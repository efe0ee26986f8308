#!/usr/bin/env python3
"""Benchmark baseline only: configuration compliance of every device of an orch inventory with
netmiko, netutils and a thread pool, the work `workflows/config-compliance.yaml` does through
orch.

Per device: `ConnectHandler` (SSH login; netmiko's session preparation turns paging off),
`enable` (with the enable password for devices whose inventory vars name an enable
credential), `show running-config`, then netutils' per-feature compliance
(`netutils.config.compliance.compliance`, what Nautobot Golden Config runs) against
`INTENDED/NAME.cfg` with the features of orch's rules, the result written to `OUT/NAME.json`.
Then the fleet report (per device and feature, counts) to `OUT/report.json` and a Markdown
summary to `OUT/summary.md`. Run it with the peers venv's Python (`scripts/setup`)::

    target/peers-venv/bin/python bench/netmiko_compliance.py --inventory DIR/inventory.yaml \\
        --password-file F [--enable-password-file F] [--username admin] --intended INTENDED \\
        --rules rules.json --out OUTDIR [--workers 32]

Prints one JSON line: {"devices", "checked", "compliant", "non_compliant", "failed": {name:
error}, "seconds"} where `seconds` is the wall time of the pool and the report (not Python's
start-up or imports). Exits 1 when a device failed.
"""

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from netmiko import ConnectHandler
from netutils.config.compliance import compliance


def first_line(path):
    return path.read_text(encoding="utf-8").splitlines()[0] if path else ""


def features_of(rules, platform):
    """orch rules of `platform` as netutils features."""
    return [
        {"name": r["feature"], "ordered": bool(r.get("ordered")),
         "section": [p.rstrip() for p in r["match"]]}
        for r in rules
        if r.get("platform") in (None, platform)
    ]


def check(device, args, password, enable_password, rules):
    """One device's compliance; (name, result or None, error or None)."""
    name = device["name"]
    try:
        connection = ConnectHandler(
            device_type=device["platform"],
            host=device["address"],
            port=device["port"],
            username=args.username,
            password=password,
            secret=enable_password if device.get("vars", {}).get("enable_credential") else "",
        )
        try:
            connection.enable()
            running = connection.send_command("show running-config")
        finally:
            connection.disconnect()
        intended = (args.intended / f"{name}.cfg").read_text(encoding="utf-8")
        result = compliance(features_of(rules, device["platform"]), running, intended,
                            device["platform"], "string")
        (args.out / f"{name}.json").write_text(json.dumps(result), encoding="utf-8")
        return name, result, None
    except Exception as err:  # pylint: disable=broad-except
        return name, None, f"{type(err).__name__}: {err}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--inventory", required=True, type=Path)
    parser.add_argument("--password-file", required=True, type=Path)
    parser.add_argument("--enable-password-file", type=Path)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--intended", required=True, type=Path)
    parser.add_argument("--rules", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args()
    devices = json.loads(args.inventory.read_text(encoding="utf-8"))["devices"]
    rules = json.loads(args.rules.read_text(encoding="utf-8"))
    password = first_line(args.password_file)
    enable_password = first_line(args.enable_password_file)
    args.out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        outcomes = list(pool.map(
            lambda d: check(d, args, password, enable_password, rules), devices))
    report = {"devices": {}, "features": {}}
    failed = {}
    compliant = 0
    for name, result, error in outcomes:
        if error is not None:
            failed[name] = error
            report["devices"][name] = {"status": "unreachable", "error": error}
            continue
        ok = all(f["compliant"] for f in result.values())
        compliant += ok
        report["devices"][name] = {
            "status": "compliant" if ok else "non_compliant",
            "features": {k: ("compliant" if v["compliant"] else "non_compliant")
                         for k, v in result.items()},
        }
        for feature, value in result.items():
            totals = report["features"].setdefault(feature, {"compliant": 0, "non_compliant": 0})
            totals["compliant" if value["compliant"] else "non_compliant"] += 1
    lines = ["# Configuration compliance", "",
             f"**{len(devices)} devices**: {compliant} compliant, "
             f"{len(devices) - compliant - len(failed)} not compliant, {len(failed)} unreachable.",
             ""]
    for name, result, _ in outcomes:
        for feature, value in (result or {}).items():
            if not value["compliant"]:
                lines += [f"### {name} / {feature}", "", "missing:", "```", value["missing"], "```",
                          "extra:", "```", value["extra"], "```", ""]
    (args.out / "report.json").write_text(json.dumps(report), encoding="utf-8")
    (args.out / "summary.md").write_text("\n".join(lines), encoding="utf-8")
    seconds = time.perf_counter() - started

    print(json.dumps({
        "devices": len(devices),
        "checked": len(devices) - len(failed),
        "compliant": compliant,
        "non_compliant": len(devices) - compliant - len(failed),
        "failed": failed,
        "seconds": seconds,
    }))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
