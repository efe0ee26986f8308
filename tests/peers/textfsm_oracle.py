#!/usr/bin/env python3
"""The oracle of orch's facts parsing: Python's textfsm (Google's reference implementation,
which netmiko and ntc-templates use) parses show outputs with the templates `netdev.facts`
reads, so a test can check that the Rust TextFSM the pack runs gives the same records.

Run with the peers venv's Python (`scripts/setup` installs textfsm and ntc-templates there);
one JSON object on stdin::

    {"devices": [{"platform": "cisco_ios", "name": "R1", "config": "...",
                  "settings": {"serial": "..."}, "commands": ["show version", ...]}],
     "stock": [{"platform": "cisco_ios", "command": "show interfaces"}]}

`devices`: each command's output as our fakenos NOS plugin prints it for a device booted with
`config` (`fakenos_nos/device_facts.py`); `stock`: fakenos's canned output of the command,
captured on a real device (its YAML artefacts undone). Prints one JSON list, an entry per
output: {"platform", "command", "source" ("plugin" | "stock"), "output", "template" (the file
used: ours from packs/netdev/templates/ where we correct upstream, else ntc-templates'),
"records" (a list of {field: value}, or null) and "error" (Python textfsm's, or null)}.
"""

import json
import os
import re
import sys
import time
from pathlib import Path

import ntc_templates
import textfsm
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "fakenos_nos"))
import configurable_nos  # noqa: E402  pylint: disable=wrong-import-position
import device_facts  # noqa: E402  pylint: disable=wrong-import-position

OURS = HERE.parent.parent / "packs" / "netdev" / "templates"
UPSTREAM = Path(ntc_templates.__file__).resolve().parent / "templates"
# A fixed clock, so two runs print the same uptimes.
BOOTED = 1_764_500_000.0
NOW = BOOTED + 3 * 86400 + 4 * 3600 + 5 * 60 + 6


def template_for(platform: str, command: str) -> Path:
    name = f"{platform}_{command.replace(' ', '_')}.textfsm"
    ours = OURS / name
    return ours if ours.exists() else UPSTREAM / name


def stock_output(platform: str, command: str) -> str:
    """fakenos's capture of `command`, as the device printed it: the capture's leading echo
    line and the stray space the YAML dump put before every line removed."""
    import fakenos  # pylint: disable=import-outside-toplevel

    path = Path(fakenos.__file__).parent / "plugins" / "nos" / "platforms_yaml" / f"{platform}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    text = data["commands"][command]["output"]
    lines = text.replace("{{", "{").replace("}}", "}").split("\n")
    if lines and re.match(r"^\S+#\s*show", lines[0]):
        lines = lines[1:]
    return "\n".join(re.sub(r"^ (?=\S)", "", line) for line in lines).strip("\n")


def parse(template: Path, output: str):
    try:
        with template.open(encoding="utf-8") as f:
            return textfsm.TextFSM(f).ParseTextToDicts(output), None
    except Exception as err:  # pylint: disable=broad-except
        return None, f"{type(err).__name__}: {err}"


def main() -> int:
    request = json.load(sys.stdin)
    out = []
    for device in request.get("devices", []):
        platform = device["platform"]
        if platform == "juniper_junos":
            running = configurable_nos.junos_set_lines(device["config"])
        else:
            running = configurable_nos.parse_config(device["config"])
        for command in device["commands"]:
            output = device_facts.command_output(
                platform, command, device["name"], device["name"], device.get("settings", {}),
                running, BOOTED, NOW)
            if output is None:
                print(json.dumps({"error": f"the plugin does not answer {command!r} on {platform}"}))
                return 1
            template = template_for(platform, command)
            records, error = parse(template, output)
            out.append({"platform": platform, "device": device["name"], "command": command,
                        "source": "plugin", "output": output, "template": str(template),
                        "records": records, "error": error})
    for case in request.get("stock", []):
        platform, command = case["platform"], case["command"]
        output = stock_output(platform, command)
        template = template_for(platform, command)
        records, error = parse(template, output)
        out.append({"platform": platform, "device": None, "command": command, "source": "stock",
                    "output": output, "template": str(template), "records": records,
                    "error": error})
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TZ", "UTC")
    sys.exit(main())
