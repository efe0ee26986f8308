#!/usr/bin/env python3
"""Benchmark baseline only: the Python libraries operators use for what `netcfg` does, timed on
the same files as `packs/netcfg/benches/large_config.rs`: netutils' per-feature compliance
(`netutils.config.compliance.compliance`, what Nautobot Golden Config runs) with the same
features, and hier_config's remediation and rollback (`WorkflowRemediation`).

Run with the peers venv's Python (`scripts/setup` installs netutils and hier_config there)::

    target/peers-venv/bin/python bench/python_compliance.py --running R.cfg --intended I.cfg \\
        --rules rules.json --platform cisco_ios [--samples 10]

`rules.json` is orch's rules format (`feature`, `match` prefixes, `ordered`), turned into
netutils features. Prints one JSON object: medians in milliseconds (`netutils_compliance_ms`,
`hier_config_remediation_ms`), the number of remediation lines, the samples taken. Interpreter
start-up and imports are not timed.
"""

import argparse
import json
import statistics
import time

from hier_config import Platform, WorkflowRemediation, get_hconfig
from netutils.config.compliance import compliance

HIER_PLATFORMS = {
    "cisco_ios": Platform.CISCO_IOS,
    "arista_eos": Platform.ARISTA_EOS,
    "cisco_nxos": Platform.CISCO_NXOS,
    "cisco_xr": Platform.CISCO_XR,
    "huawei_vrp": Platform.HUAWEI_VRP,
    "juniper_junos": Platform.JUNIPER_JUNOS,
}


def features_of(rules, platform):
    """orch rules of `platform` as netutils features."""
    return [
        {"name": r["feature"], "ordered": bool(r.get("ordered")),
         "section": [p.rstrip() for p in r["match"]]}
        for r in rules
        if r.get("platform") in (None, platform)
    ]


def timed(samples, work):
    times = []
    result = None
    for _ in range(samples):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--running", required=True)
    parser.add_argument("--intended", required=True)
    parser.add_argument("--rules", required=True)
    parser.add_argument("--platform", default="cisco_ios")
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    running = open(args.running, encoding="utf-8").read()
    intended = open(args.intended, encoding="utf-8").read()
    features = features_of(json.load(open(args.rules, encoding="utf-8")), args.platform)
    platform = HIER_PLATFORMS[args.platform]

    def check():
        return compliance(features, running, intended, args.platform, "string")

    def remediate():
        flow = WorkflowRemediation(get_hconfig(platform, running), get_hconfig(platform, intended))
        return str(flow.remediation_config), str(flow.rollback_config)

    check()  # warm-up: imports and caches
    remediate()
    netutils_ms, result = timed(args.samples, check)
    hier_ms, (commands, _) = timed(args.samples, remediate)
    print(json.dumps({
        "netutils_compliance_ms": netutils_ms,
        "netutils_features_not_compliant": sum(1 for f in result.values() if not f["compliant"]),
        "hier_config_remediation_ms": hier_ms,
        "hier_config_remediation_lines": len([l for l in commands.splitlines() if l.strip()]),
        "samples": args.samples,
    }))


if __name__ == "__main__":
    main()
