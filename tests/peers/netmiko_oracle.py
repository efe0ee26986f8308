#!/usr/bin/env python3
"""The oracle of orch's netdev tests: netmiko, a mature Python client, runs commands on one
device and prints what it got, so a test can check that orch's pack reads the same text.

Run with the peers venv's Python (netmiko is installed there by `scripts/setup`); one JSON object
on stdin::

    {"device_type": "cisco_ios", "host": "127.0.0.1", "port": 6001, "username": "admin",
     "password": "...", "secret": "...", "commands": ["show running-config"],
     "textfsm": false}

Prints one JSON object: {"outputs": [text, ...]} (each command's output as netmiko's
`send_command` returns it: without the echoed command and the prompt; with `"textfsm": true`,
netmiko's own parsing of it by ntc-templates, a list of records, or the text when no template
matched), or {"error": text} with exit code 1. Secrets come on stdin so they never show in a process list.
"""

import json
import sys

from netmiko import ConnectHandler


def main() -> int:
    request = json.load(sys.stdin)
    try:
        connection = ConnectHandler(
            device_type=request["device_type"],
            host=request["host"],
            port=request["port"],
            username=request["username"],
            password=request["password"],
            secret=request.get("secret") or "",
            fast_cli=False,
        )
        try:
            # A no-op on platforms without an enable mode, and where the login is privileged.
            connection.enable()
            outputs = [
                connection.send_command(command, read_timeout=60,
                                        use_textfsm=bool(request.get("textfsm")))
                for command in request["commands"]
            ]
        finally:
            connection.disconnect()
    except Exception as err:  # pylint: disable=broad-except
        print(json.dumps({"error": f"{type(err).__name__}: {err}"}))
        return 1
    print(json.dumps({"outputs": outputs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
