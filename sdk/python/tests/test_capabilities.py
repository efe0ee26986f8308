"""The capability wrappers (http, ssh, catalog, logging) against the TestHost, and what they do
without one."""

import _sdk_path  # noqa: F401  (must come first: puts orch_sdk on the path)
import threading
import unittest

from orch_sdk import ActionError, Context, HostError, catalog, http
from orch_sdk.catalog import Device
from orch_sdk.context import write as log_write
from orch_sdk.http import Response
from orch_sdk.ssh import Session, Target, command_output
from orch_sdk.testing import TestHost


def status(code: int, headers=()) -> Response:
    return Response(code, list(headers), b"secret-looking body", "https://api.example.com/v1/x?token=abc")


class ErrorForStatusTest(unittest.TestCase):
    def test_success_and_redirects_pass_through(self):
        for code in (200, 201, 204, 301, 304, 399):
            self.assertEqual(status(code).error_for_status().status, code)

    def test_each_class_maps_to_a_code_and_retryability(self):
        for code, expected, retryable in (
            (401, "auth_failed", False),
            (403, "auth_failed", False),
            (429, "rate_limited", True),
            (500, "unavailable", True),
            (503, "unavailable", True),
            (599, "unavailable", True),
            (400, "http_status", False),
            (404, "http_status", False),
            (422, "http_status", False),
            (600, "http_status", False),
        ):
            with self.assertRaises(ActionError) as caught:
                status(code).error_for_status()
            err = caught.exception
            self.assertEqual((err.code, err.retryable), (expected, retryable), code)
            self.assertEqual(err.message, f"https://api.example.com/v1/x answered {code}")
            self.assertNotIn("secret-looking", err.message + str(err.details))

    def test_retry_after_is_kept_in_the_details(self):
        with self.assertRaises(ActionError) as caught:
            status(429, [("Retry-After", "30")]).error_for_status()
        self.assertEqual(
            caught.exception.details,
            {"status": 429, "url": "https://api.example.com/v1/x?token=abc", "retry_after": "30"},
        )

    def test_a_body_that_is_not_json_is_a_protocol_error(self):
        with self.assertRaises(HostError) as caught:
            status(200).json()
        self.assertEqual(caught.exception.code, "protocol")


class NoHostTest(unittest.TestCase):
    def test_without_a_host_a_call_raises_invalid_naming_the_testing_module(self):
        for call in (
            lambda: http.get("https://api.example.com/"),
            lambda: Session.connect("R1"),
            lambda: catalog.get_device("R1"),
        ):
            with self.assertRaises(HostError) as caught:
                call()
            self.assertEqual(caught.exception.code, "invalid")
            self.assertIn("no orch host", caught.exception.message)
            self.assertIn("orch_sdk.testing.TestHost", caught.exception.message)

    def test_a_closed_host_answers_no_more(self):
        with TestHost() as host:
            host.catalog.add_device(Device("R1", "10.0.0.1"))
            self.assertEqual(catalog.get_device("R1").address, "10.0.0.1")
        with self.assertRaises(HostError):
            catalog.get_device("R1")

    def test_a_dropped_host_answers_no_more(self):
        host = TestHost()
        host.catalog.add_device(Device("R1", "10.0.0.1"))
        del host
        with self.assertRaises(HostError) as caught:
            catalog.get_device("R1")
        self.assertIn("no orch host", caught.exception.message)

    def test_a_host_on_another_thread_is_not_seen(self):
        host = TestHost()
        host.catalog.add_device(Device("R1", "10.0.0.1"))
        seen = []

        def other():
            try:
                catalog.get_device("R1")
            except HostError as err:
                seen.append(err.code)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        self.assertEqual(seen, ["invalid"])

    def test_logging_never_fails_and_reaches_a_host(self):
        log_write("info", "before any host")
        host = TestHost()
        log_write("warn", "slow device", {"device": "r1"})
        self.assertEqual([(r.level, r.message, r.fields) for r in host.logs], [("warn", "slow device", {"device": "r1"})])


class HttpTest(unittest.TestCase):
    def test_scripted_replies_and_the_record_of_requests(self):
        host = TestHost()
        host.http.on("POST", "https://api.example.com/v1/tickets").header("x-id", "7").reply(201, {"number": "CHG1"})
        response = http.post(
            "https://api.example.com/v1/tickets",
            json={"short": "upgrade"},
            headers={"accept": "application/json"},
            credential="servicenow",
            timeout=2.5,
        )
        self.assertEqual((response.status, response.json(), response.header("X-ID")), (201, {"number": "CHG1"}, "7"))
        (sent,) = host.http.requests
        self.assertEqual((sent.method, sent.credential, sent.timeout_ms), ("POST", "servicenow", 2500))
        self.assertEqual(sent.json(), {"short": "upgrade"})
        self.assertEqual(sent.header("content-type"), "application/json")
        self.assertEqual(sent.header("Accept"), "application/json")

    def test_once_rules_fall_through_and_prefixes_match(self):
        host = TestHost()
        host.http.on("GET", "https://api.example.com/v1/*").once().reply(503, {})
        host.http.on("GET", "https://api.example.com/v1/*").reply_text(200, "fine")
        self.assertEqual(http.get("https://api.example.com/v1/a").status, 503)
        self.assertEqual(http.get("https://api.example.com/v1/b").text(), "fine")

    def test_scripted_failures_and_unscripted_calls_raise_host_errors(self):
        host = TestHost()
        host.http.on("GET", "https://api.example.com/slow").fail("timeout", "no answer")
        with self.assertRaises(HostError) as caught:
            http.get("https://api.example.com/slow")
        self.assertEqual((caught.exception.code, caught.exception.retryable), ("timeout", True))
        with self.assertRaises(HostError) as caught:
            http.delete("https://api.example.com/other")
        self.assertIn("host.http.on('DELETE', 'https://api.example.com/other')", caught.exception.message)

    def test_an_unserialisable_json_body_is_invalid(self):
        host = TestHost()  # noqa: F841  (kept: a dropped host answers no more)
        with self.assertRaises(HostError) as caught:
            http.post("https://h/", json={1, 2})
        self.assertEqual(caught.exception.code, "invalid")


class SshTest(unittest.TestCase):
    def test_exec_by_target_and_the_record_of_commands(self):
        host = TestHost()
        host.ssh.on_exec("uptime", target="R1").reply(" up 41 days\n")
        host.ssh.on_exec("false").reply("", "failed\n", exit_status=1)
        session = Session.connect("R1", credential="lab")
        out = session.exec("uptime", timeout=5)
        self.assertEqual((out.stdout, out.ok), (" up 41 days\n", True))
        self.assertFalse(session.exec("false").ok)
        self.assertEqual(host.ssh.commands, ["uptime", "false"])
        self.assertEqual(host.ssh.connections[0].target, Target.inventory("R1"))
        self.assertEqual(host.ssh.connections[0].credential, "lab")
        other = Session.connect(Target.address("10.0.0.9", 2222))
        with self.assertRaises(HostError) as caught:
            other.exec("uptime")
        self.assertIn("10.0.0.9:2222", caught.exception.message)

    def test_a_scripted_connect_failure(self):
        host = TestHost()
        host.ssh.on_connect("R1").fail("unreachable", "no route to R1")
        with self.assertRaises(HostError) as caught:
            Session.connect("R1")
        self.assertEqual(caught.exception.code, "unreachable")

    def test_a_shell_echoes_answers_and_changes_prompt(self):
        host = TestHost()
        host.ssh.prompt("R1>")
        host.ssh.on_elevate("enable").reply("Password: ***", "R1#")
        host.ssh.on_line("show clock").reply("*10:00:00 UTC")
        host.ssh.on_line("configure terminal").prompt("R1(config)#").reply()
        shell = Session.connect("R1").shell()
        self.assertEqual(shell.read_until(r"R1>\s*$"), "R1>")
        self.assertIn("R1#", shell.elevate("enable", r"R1#\s*$", credential="enable-secret"))
        self.assertEqual(shell.command("show clock", r"R1#\s*$"), "*10:00:00 UTC")
        self.assertEqual(shell.command("configure terminal", r"\(config\)#\s*$"), "")
        self.assertEqual(host.ssh.commands, ["show clock", "configure terminal"])
        self.assertEqual((host.ssh.secrets[0].credential, host.ssh.secrets[0].elevation), ("enable-secret", "enable"))

    def test_elevation_after_typing_is_denied_as_the_host_does(self):
        host = TestHost()
        host.ssh.on_line("terminal length 0").reply()
        shell = Session.connect("R1").shell()
        shell.send_line("terminal length 0")
        with self.assertRaises(HostError) as caught:
            shell.elevate("enable", "#")
        self.assertEqual(caught.exception.code, "denied")

    def test_a_prompt_that_never_comes_is_a_timeout(self):
        host = TestHost()  # noqa: F841  (kept: a dropped host answers no more)
        shell = Session.connect("R1").shell()
        with self.assertRaises(HostError) as caught:
            shell.read_until("R1#", timeout=1)
        self.assertEqual(caught.exception.code, "timeout")
        self.assertIn("device#", caught.exception.message)

    def test_sftp_reads_scripted_files_and_keeps_written_ones(self):
        host = TestHost()
        host.ssh.file("/etc/motd", "hello")
        session = Session.connect("R1")
        self.assertEqual(session.sftp_get("/etc/motd"), b"hello")
        session.sftp_put("/tmp/x", "data")
        self.assertEqual(host.ssh.file_contents("/tmp/x"), b"data")
        with self.assertRaises(HostError) as caught:
            session.sftp_get("/missing")
        self.assertEqual(caught.exception.code, "not_found")

    def test_command_output_drops_echo_and_prompt(self):
        raw = "show version\r\nCisco IOS Software\r\nuptime 1 day\r\nR1#"
        self.assertEqual(command_output(raw, "show version"), "Cisco IOS Software\nuptime 1 day")
        self.assertEqual(command_output("R1#", "x"), "")


class CatalogTest(unittest.TestCase):
    def test_devices_by_name_and_tags(self):
        host = TestHost()
        host.catalog.add_device(Device("R1", "10.0.0.1", "cisco_ios", tags={"site": "lab"}, vars={"role": "edge"}))
        host.catalog.add_device(Device("R2", "10.0.0.2", "arista_eos", tags={"site": "dc"}))
        self.assertEqual(catalog.get_device("R1").vars, {"role": "edge"})
        self.assertEqual([d.name for d in catalog.find_devices(site="lab")], ["R1"])
        self.assertEqual([d.name for d in catalog.find_devices()], ["R1", "R2"])
        with self.assertRaises(HostError) as caught:
            catalog.get_device("R9")
        self.assertEqual(caught.exception.code, "not_found")

    def test_records_are_versioned_and_writes_recorded(self):
        host = TestHost()
        host.catalog.record("configs", "R1/golden", {"text": "v1"})
        self.assertEqual(catalog.get("configs", "R1/golden").value, {"text": "v1"})
        self.assertIsNone(catalog.get("configs", "R2/golden"))
        entry = catalog.put("configs", "R1/golden", {"text": "v2"})
        self.assertEqual(entry.version, 2)
        self.assertEqual(catalog.get("configs", "R1/golden", version=1).value, {"text": "v1"})
        self.assertEqual([w.value for w in host.catalog.writes], [{"text": "v2"}])
        self.assertEqual(host.catalog.latest("configs", "R1/golden").version, 2)

    def test_scripted_failures_per_collection(self):
        host = TestHost()
        host.catalog.fail("configs", "quota_exceeded", "collection configs is full")
        with self.assertRaises(HostError) as caught:
            catalog.put("configs", "k", 1)
        self.assertEqual((caught.exception.code, caught.exception.retryable), ("quota_exceeded", False))


class ContextTest(unittest.TestCase):
    def test_a_test_context_keeps_lines_with_fields(self):
        ctx = Context.for_tests()
        ctx.info("hello", device="r1")
        ctx.error("oops")
        self.assertEqual([(r.level, r.message, r.fields) for r in ctx.logs], [("info", "hello", {"device": "r1"}), ("error", "oops", None)])
        self.assertEqual((ctx.run_id, ctx.task, ctx.attempt, ctx.idempotency_key), ("test-run", "test-task", 1, "test-key"))

    def test_a_host_context_goes_to_the_host(self):
        host = TestHost()
        Context("run-1", "t", 2, "k").warn("to the host", n=1)
        self.assertEqual([(r.level, r.fields) for r in host.logs], [("warn", {"n": 1})])


if __name__ == "__main__":
    unittest.main()
