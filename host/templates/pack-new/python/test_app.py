"""Native tests of the `{{name}}` pack: `PYTHONPATH={{sdk}} python3 -m unittest`."""

import json
import unittest

from orch_sdk import ActionError, Context
from orch_sdk.testing import TestHost

from app import pack


class PackTest(unittest.TestCase):
    def test_the_definition_passes_the_checks_of_pack_add(self):
        self.assertEqual(pack.validate(), [])

    def test_summarize_counts_lines_and_logs(self):
        ctx = Context.for_tests()
        out = pack.call("summarize", '{"text": "a\\nbcd\\nef"}', ctx)
        self.assertEqual(json.loads(out), {"lines": 3, "longest": "bcd"})
        self.assertEqual(ctx.logs[0].message, "summarizing")

    def test_device_status_asks_the_api_with_its_credential(self):
        host = TestHost()
        host.http.on("GET", "https://api.example.com/v1/devices/r1").reply(200, {"status": "up"})
        out = pack.call("device_status", '{"device": "r1"}', host.context())
        self.assertEqual(json.loads(out), {"status": "up"})
        self.assertEqual([r.credential for r in host.http.requests], ["api-token"])

    def test_device_status_makes_a_server_error_retryable(self):
        host = TestHost()
        host.http.on("GET", "https://api.example.com/v1/devices/r1").reply(503, {"error": "maintenance"})
        with self.assertRaises(ActionError) as caught:
            pack.call("device_status", '{"device": "r1"}', host.context())
        self.assertEqual((caught.exception.code, caught.exception.retryable), ("unavailable", True))

    def test_uptime_runs_the_command_on_the_device(self):
        host = TestHost()
        host.ssh.on_exec("uptime", target="R1").reply(" 10:02:11 up 41 days,  3:12,  0 users\n")
        out = pack.call("uptime", '{"device": "R1"}', host.context())
        self.assertEqual(json.loads(out), {"uptime": "10:02:11 up 41 days,  3:12,  0 users"})
        self.assertEqual(host.ssh.commands, ["uptime"])

    def test_uptime_says_when_the_device_cannot_be_reached(self):
        host = TestHost()
        host.ssh.on_connect("R1").fail("unreachable", "no route to R1")
        with self.assertRaises(ActionError) as caught:
            pack.call("uptime", '{"device": "R1"}', host.context())
        self.assertEqual((caught.exception.code, caught.exception.retryable), ("unreachable", True))


if __name__ == "__main__":
    unittest.main()
