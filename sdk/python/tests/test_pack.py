"""Pack: declaring actions, calling them as the host does (inputs decoded, outputs encoded,
every failure an ActionError), and validate()."""

import _sdk_path  # noqa: F401  (must come first: puts orch_sdk on the path)
import json
import unittest
from dataclasses import dataclass
from typing import List, Optional

from orch_sdk import ActionError, Context, HostError, Pack
from orch_sdk.errors import MAX_MESSAGE


@dataclass
class AddInput:
    """Input of `add`.

    Attributes:
        numbers: The numbers to add.
        label: Put in front of the result.
    """

    numbers: List[int]
    label: Optional[str] = None


@dataclass
class Sum:
    total: int
    label: Optional[str] = None


def make_pack() -> Pack:
    pack = Pack("calc", "1.2.0", vendor="Acme", description="Adds numbers.")
    pack.destination("http", "api.example.com:443", "to fetch numbers")

    @pack.action(idempotent=True, examples=[{"numbers": [1, 2]}])
    def add(inp: AddInput, ctx: Context) -> Sum:
        """Add numbers.

        More text that is not the description."""
        ctx.info("adding", count=len(inp.numbers))
        return Sum(sum(inp.numbers), inp.label)

    @pack.action(description="Fail with a host error.")
    def denied(inp: AddInput) -> Sum:
        raise HostError("timeout", "no answer within 30s")

    @pack.action(description="Divide by zero, deep down.")
    def crash(inp: AddInput, ctx: Context) -> Sum:
        return Sum(_divide(inp.numbers[0]))

    @pack.action(description="Raise an exception with a huge message and a deep stack.")
    def huge(inp: AddInput, ctx: Context) -> Sum:
        return _recurse(60)

    @pack.action(description="Return the wrong type.")
    def wrong(inp: AddInput, ctx: Context) -> Sum:
        return {"total": "many"}  # type: ignore[return-value]

    @pack.action(description="Raise an action error itself.")
    def refuse(inp: AddInput, ctx: Context) -> Sum:
        raise ActionError("not_found", "no such numbers", details={"numbers": inp.numbers})

    return pack


def _divide(n: int) -> int:
    return n // 0


def _recurse(depth: int) -> Sum:
    if depth == 0:
        raise RuntimeError("x" * 10_000)
    return _recurse(depth - 1)


class CallTest(unittest.TestCase):
    def setUp(self):
        self.pack = make_pack()

    def call_error(self, action: str, input_json: str = '{"numbers": [1]}') -> ActionError:
        with self.assertRaises(ActionError) as caught:
            self.pack.call(action, input_json)
        return caught.exception

    def test_an_action_decodes_its_input_and_encodes_its_output(self):
        ctx = Context.for_tests()
        out = self.pack.call("add", '{"numbers": [1, 2, 3], "label": "n"}', ctx)
        self.assertEqual(out, '{"total":6,"label":"n"}')
        self.assertEqual((ctx.logs[0].message, ctx.logs[0].fields), ("adding", {"count": 3}))

    def test_declaration_reads_name_description_and_flags(self):
        add = self.pack.actions["add"]
        self.assertEqual(add.description, "Add numbers.")
        self.assertTrue(add.idempotent)
        self.assertFalse(self.pack.actions["denied"].idempotent)
        self.assertEqual(add.input_schema["examples"], [{"numbers": [1, 2]}])
        self.assertEqual(json.loads(add.output_schema_json)["required"], ["total"])

    def test_a_wrong_field_type_is_invalid_input_naming_the_path(self):
        err = self.call_error("add", '{"numbers": [1, "two"]}')
        self.assertEqual(err.code, "invalid_input")
        self.assertIn("numbers[1]", err.message)
        self.assertIn("expected an integer, got the string 'two'", err.message)
        self.assertFalse(err.retryable)

    def test_missing_and_unknown_fields_are_invalid_input(self):
        missing = self.call_error("add", "{}")
        self.assertEqual((missing.code, missing.details["path"]), ("invalid_input", "numbers"))
        self.assertIn("missing required field", missing.message)
        unknown = self.call_error("add", '{"numbers": [], "nmbers": 1}')
        self.assertIn("nmbers", unknown.message)
        self.assertIn("numbers, label", unknown.message)

    def test_input_that_is_not_json_is_invalid_input(self):
        self.assertEqual(self.call_error("add", "{nope").code, "invalid_input")

    def test_an_unknown_action_lists_the_actions(self):
        err = self.call_error("subtract")
        self.assertEqual(err.code, "unknown_action")
        self.assertIn("add, denied, crash", err.message)

    def test_an_escaping_host_error_keeps_its_code_and_retryability(self):
        err = self.call_error("denied")
        self.assertEqual((err.code, err.message, err.retryable), ("timeout", "no answer within 30s", True))

    def test_an_action_error_passes_through(self):
        err = self.call_error("refuse")
        self.assertEqual(err, ActionError("not_found", "no such numbers", details={"numbers": [1]}))
        self.assertEqual(err.details_json(), '{"numbers":[1]}')

    def test_an_escaping_exception_carries_its_type_message_and_traceback(self):
        err = self.call_error("crash")
        self.assertEqual(err.code, "unhandled_exception")
        self.assertFalse(err.retryable)
        first, *rest = err.message.split("\n")
        self.assertEqual(first, "ZeroDivisionError: integer division or modulo by zero")
        self.assertIn("in crash", err.message)
        self.assertIn("in _divide", err.message)
        self.assertIn("return n // 0", err.message)
        self.assertNotIn("orch_sdk", err.message, "the SDK's own frames are left out")
        self.assertEqual(err.details["exception"], "ZeroDivisionError")

    def test_an_escaping_exception_is_bounded_keeping_the_innermost_frames(self):
        err = self.call_error("huge")
        self.assertLessEqual(len(err.message.encode()), MAX_MESSAGE)
        self.assertTrue(err.message.startswith("RuntimeError: xxx"))
        self.assertIn("earlier lines omitted", err.message)
        self.assertIn('raise RuntimeError("x" * 10_000)', err.message)
        self.assertLessEqual(len(err.details_json().encode()), 4096)

    def test_an_output_of_the_wrong_type_is_invalid_output(self):
        err = self.call_error("wrong")
        self.assertEqual(err.code, "invalid_output")
        self.assertIn("expected Sum", err.message)

    def test_a_wrong_example_fails_the_declaration(self):
        pack = Pack("p", "1.0.0")
        with self.assertRaises(TypeError) as caught:
            @pack.action(examples=[{"numbers": "1"}])
            def f(inp: AddInput, ctx: Context) -> Sum: ...
        self.assertIn("example 0", str(caught.exception))

    def test_an_unannotated_input_fails_the_declaration(self):
        pack = Pack("p", "1.0.0")
        with self.assertRaises(TypeError) as caught:
            @pack.action
            def f(inp, ctx): ...
        self.assertIn("annotate the input parameter 'inp'", str(caught.exception))


class ValidateTest(unittest.TestCase):
    def test_a_good_pack_has_no_problems(self):
        self.assertEqual(make_pack().validate(), [])

    def test_validate_reports_every_problem_naming_its_subject(self):
        pack = Pack("Calc", "1.0", vendor="v" * 257)
        pack.action(name="Add", description="Add.")(noop)
        pack.action(name="add2", description="x" * 4097)(noop)
        pack.action(name="add2", description="Again.")(noop)
        pack.destination("http", "api.example.com/v1", "api")
        pack.destination("ssh", "ssh://r1", "r1")
        pack.destination("catalog", "Configs", "configs")
        pack.destination("ftp", "files.example.com", "files")
        pack.destination("http", "api.example.com", "r" * 257)
        problems = pack.validate()
        self.assertEqual(
            [p.subject for p in problems],
            [
                "pack name 'Calc'",
                "version '1.0'",
                "vendor",
                "action 'Add'",
                "action 'add2'",
                "destination http 'api.example.com/v1'",
                "destination ssh 'ssh://r1'",
                "destination catalog 'Configs'",
                "destination ftp 'files.example.com'",
                "reason of destination http 'api.example.com'",
            ],
        )
        self.assertIn("declared twice", problems[4].message)
        self.assertIn("not a path", str(problems[5]))
        self.assertIn("the kinds are `http`, `ssh` and `catalog`", problems[8].message)

    def test_a_pack_without_actions_does_not_validate(self):
        problems = Pack("empty", "1.0.0").validate()
        self.assertEqual(len(problems), 1)
        self.assertIn("no actions", problems[0].message)

    def test_versions_follow_semver(self):
        for good in ("1.0.0", "0.1.0-rc.1", "2.3.4+build.5", "1.0.0-alpha-1"):
            pack = Pack("p", good)
            pack.action(noop)
            self.assertEqual(pack.validate(), [], good)
        for bad in ("1.0", "01.0.0", "1.0.0-", "1.0.0-01", "v1.0.0", "1.0.0+"):
            pack = Pack("p", bad)
            pack.action(noop)
            self.assertEqual([p.subject for p in pack.validate()], [f"version {bad!r}"], bad)

    def test_destination_patterns_follow_the_hosts_rules(self):
        for kind, good in (
            ("http", "https://api.example.com"),
            ("http", "*.service-now.com:443"),
            ("http", "10.0.0.0/24"),
            ("http", "[2001:db8::1]:8443"),
            ("ssh", "inventory"),
            ("catalog", "configs"),
        ):
            pack = Pack("p", "1.0.0").destination(kind, good, "why")
            pack.action(noop)
            self.assertEqual(pack.validate(), [], good)
        for kind, bad in (
            ("http", "ftp://x.example.com"),
            ("http", "api.example.com:0"),
            ("http", "*"),
            ("http", "a.*.example.com"),
            ("ssh", "[10.0.0.1]"),
        ):
            pack = Pack("p", "1.0.0").destination(kind, bad, "why")
            pack.action(noop)
            self.assertEqual(len(pack.validate()), 1, bad)


def noop(inp: AddInput, ctx: Context) -> Sum:
    return Sum(0)


if __name__ == "__main__":
    unittest.main()
