"""Native tests of the pyexample pack: `python3 -m unittest` in this folder with the SDK on the
path (`PYTHONPATH=../../sdk/python`).

`fetch_plain` sends through the component's wasi:http bindings, which do not exist natively and
which a TestHost cannot script: here only its native refusal and the pure parts of `wasi_fetch`
(URL splitting, wasi:http error codes as text) are tested; the request itself needs the built
component and a host (`orch action run pyexample.fetch_plain`).
"""

import json
import unittest
from dataclasses import dataclass
from typing import Optional

from orch_sdk import ActionError
from orch_sdk.testing import TestHost

import wasi_fetch
from app import pack


class PyexampleTest(unittest.TestCase):
    def test_the_definition_passes_the_checks_of_pack_add(self):
        self.assertEqual(pack.validate(), [])

    def test_word_stats_counts_and_ranks_words(self):
        host = TestHost()
        ctx = host.context()
        out = pack.call("word_stats", '{"text": "b a\\nA c a", "top": 2}', ctx)
        self.assertEqual(json.loads(out), {"words": 5, "lines": 2, "most_common": {"a": 3, "b": 1}})
        self.assertEqual((ctx.logs[0].message, ctx.logs[0].fields), ("counted", {"words": 5}))

    def test_word_stats_example_is_in_the_input_schema(self):
        schema = pack.actions["word_stats"].input_schema
        self.assertEqual(schema["examples"], [{"text": "the quick fox\nthe lazy dog", "top": 1}])
        out = pack.call("word_stats", json.dumps(schema["examples"][0]))
        self.assertEqual(json.loads(out)["most_common"], {"the": 2})

    def test_fetch_status_asks_the_api_with_its_credential(self):
        host = TestHost()
        host.http.on("GET", "https://api.example.com/v1/devices/r1").reply(200, {"status": "up"})
        out = pack.call("fetch_status", '{"device": "r1"}', host.context())
        self.assertEqual(json.loads(out), {"status": "up", "since": None})
        sent = host.http.requests
        self.assertEqual((sent[0].credential, sent[0].timeout_ms), ("status-api", 10000))

    def test_fetch_status_makes_a_server_error_retryable(self):
        host = TestHost()
        host.http.on("GET", "https://api.example.com/v1/devices/r1").reply(503, {"error": "maintenance"})
        with self.assertRaises(ActionError) as caught:
            pack.call("fetch_status", '{"device": "r1"}', host.context())
        self.assertEqual((caught.exception.code, caught.exception.retryable), ("unavailable", True))

    def test_fetch_plain_natively_fails_saying_it_needs_a_component(self):
        with self.assertRaises(ActionError) as caught:
            pack.call("fetch_plain", '{"url": "http://127.0.0.1:1/"}', TestHost().context())
        err = caught.exception
        self.assertEqual((err.code, err.details), ("fetch_failed", {"url": "http://127.0.0.1:1/"}))
        self.assertIn("runs only in a component", err.message)

    def test_wasi_fetch_splits_a_url_into_the_parts_of_a_wasi_http_request(self):
        self.assertEqual(
            wasi_fetch.split_url("HTTPS://api.example.com:8443/v1/x?a=1#frag"),
            ("https", "api.example.com:8443", "/v1/x?a=1"),
        )
        self.assertEqual(wasi_fetch.split_url("http://h"), ("http", "h", "/"))
        with self.assertRaises(wasi_fetch.FetchError) as caught:
            wasi_fetch.split_url("/relative")
        self.assertEqual(caught.exception.code, "invalid-url")

    def test_wasi_fetch_keeps_the_text_of_a_wasi_http_error_code(self):
        # As componentize-py generates them: one class per case, the payload in `value`.
        internal = type("ErrorCode_InternalError", (), {"value": 'denied: pack "pyexample" ...'})
        self.assertEqual(
            str(wasi_fetch.FetchError(*wasi_fetch.describe_error_code(internal()))),
            'internal-error: denied: pack "pyexample" ...',
        )
        refused = type("ErrorCode_ConnectionRefused", (), {})
        self.assertEqual(wasi_fetch.describe_error_code(refused()), ("connection-refused", None))

        @dataclass
        class DnsErrorPayload:
            rcode: Optional[str]
            info_code: Optional[int]

        dns = type("ErrorCode_DnsError", (), {"value": DnsErrorPayload("NXDOMAIN", None)})
        self.assertEqual(wasi_fetch.describe_error_code(dns()), ("dns-error", "rcode=NXDOMAIN"))

    def test_explode_reports_the_exception_and_its_traceback(self):
        with self.assertRaises(ActionError) as caught:
            pack.call("explode", '{"reason": "test"}')
        err = caught.exception
        self.assertEqual(err.code, "unhandled_exception")
        self.assertTrue(err.message.startswith("ValueError: pyexample exploded: test"), err.message)
        self.assertIn("in _parse_threshold", err.message)
        self.assertIn('raise ValueError(f"pyexample exploded: {reason}")', err.message)


if __name__ == "__main__":
    unittest.main()
