"""Test guest `pyraw`: a Python pack written against the WIT alone, without orch_sdk, whose
`invoke` lets an exception escape. componentize-py's runtime prints the traceback to stderr and
traps; the host's tests check that the operator sees the exception and its traceback, not only
"Python function threw an unexpected exception"."""

from wit_world.imports import types


def _parse(text):
    # A frame of our own in the traceback, so the test can look for it.
    return int(text)


class Handler:
    def describe(self):
        return types.PackInfo(
            name="pyraw",
            version="0.1.0",
            vendor="orch",
            description="A raw Python pack whose action raises.",
            actions=[
                types.ActionInfo(
                    name="explode",
                    description="Raise ValueError from a nested call.",
                    input_schema='{"type": "object"}',
                    output_schema='{"type": "object"}',
                    idempotent=True,
                )
            ],
            destinations=[],
        )

    def invoke(self, action, input, context):
        return str(_parse("not a number"))
