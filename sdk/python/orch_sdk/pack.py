"""`Pack`: a pack's definition (name, version, destinations, actions) and the dispatch of one
call, as the host's `invoke` makes it: JSON in, the typed input, the action, JSON out, and every
failure as an `ActionError`.

Schemas are generated when an action is declared (at import, so inside a component at build
time, where componentize-py snapshots them): a type the SDK cannot describe fails the pack's
tests and its build, never a run.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import traceback
from typing import Any, Callable, Dict, List, Optional

from . import rules
from .context import Context
from .convert import DecodeError, EncodeError, decode, encode
from .errors import (
    INVALID_INPUT,
    INVALID_OUTPUT,
    MAX_MESSAGE,
    UNHANDLED_EXCEPTION,
    UNKNOWN_ACTION,
    ActionError,
    HostError,
    bound,
)
from .schema import schema_for, type_hints
from .source import keep_source

#: How many traceback lines (the innermost) an unhandled exception's message keeps.
TRACEBACK_LINES = 12

# Every Pack created, so `orch_sdk.component` can find the one a pack module defines.
_registry: List["Pack"] = []


@dataclasses.dataclass(frozen=True)
class Destination:
    """A destination the pack asks to reach: `kind` (`http`, `ssh`, `catalog`), a host
    `pattern` and the `reason` shown to the operator."""

    kind: str
    pattern: str
    reason: str


@dataclasses.dataclass(frozen=True)
class DefinitionError:
    """One problem `Pack.validate()` found: what it is about (`action "Get"`) and what is
    wrong, with the fix."""

    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"


class Action:
    """One action: a function `f(input, ctx) -> output` with the schemas of its types."""

    def __init__(
        self,
        func: Callable[..., Any],
        name: str,
        description: str,
        idempotent: bool,
        examples: List[Any],
    ) -> None:
        self.func = func
        self.name = name
        self.description = description
        self.idempotent = idempotent
        params = list(inspect.signature(func).parameters.values())
        if not 1 <= len(params) <= 2:
            raise TypeError(
                f"action {name!r}: the function takes (input, ctx) or (input), not {len(params)} "
                "parameters"
            )
        self._takes_context = len(params) == 2
        hints = type_hints(func)
        if params[0].name not in hints:
            raise TypeError(
                f"action {name!r}: annotate the input parameter {params[0].name!r} with its type "
                "(a dataclass, say) so the SDK can describe and decode it"
            )
        self.input_type = hints[params[0].name]
        self.output_type = hints.get("return", Any)
        self.input_schema = schema_for(self.input_type)
        self.output_schema = schema_for(self.output_type)
        if examples:
            plain = [encode(Any, e) for e in examples]
            for i, example in enumerate(plain):
                try:
                    decode(self.input_type, example)
                except DecodeError as err:
                    # A wrong example is a bug of the pack: fail its tests and its build.
                    raise TypeError(f"action {name!r}: example {i} is not a valid input: {err}") from None
            self.input_schema["examples"] = plain
        # Serialised once: `describe` sends these on every add and check.
        self.input_schema_json = json.dumps(self.input_schema, ensure_ascii=False)
        self.output_schema_json = json.dumps(self.output_schema, ensure_ascii=False)

    def call(self, input_json: str, ctx: Context) -> str:
        """Runs the action on a JSON input; returns the output JSON or raises ActionError."""
        try:
            value = json.loads(input_json)
        except ValueError as err:
            raise ActionError.invalid_input(f"the input of {self.name!r} is not JSON: {err}")
        try:
            typed = decode(self.input_type, value)
        except DecodeError as err:
            raise ActionError(
                INVALID_INPUT,
                f"invalid input for {self.name!r} at {err.path or 'the top'}: {err.problem}",
                details={"path": err.path, "problem": err.problem},
            ) from None
        try:
            result = self.func(typed, ctx) if self._takes_context else self.func(typed)
        except ActionError:
            raise
        except HostError as err:
            raise err.to_action_error() from None
        except BaseException as err:  # noqa: BLE001 - every escape must reach the host as data
            raise unhandled(err) from None
        try:
            plain = encode(self.output_type, result)
            return json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
        except (EncodeError, TypeError, ValueError) as err:
            raise ActionError(
                INVALID_OUTPUT, f"the output of {self.name!r} is not JSON of its type: {err}"
            ) from None


def unhandled(err: BaseException) -> ActionError:
    """The action error of a Python exception that escaped an action: its type and message
    first, then the innermost traceback lines (the frames of the pack, not of the SDK), all
    within `MAX_MESSAGE` bytes."""
    kind = type(err).__qualname__
    module = type(err).__module__
    if module not in ("builtins", "__main__"):
        kind = f"{module}.{kind}"
    text = str(err)
    head = bound(f"{kind}: {text}" if text else kind, MAX_MESSAGE // 4)
    # Skip the SDK's own frame (Action.call) so the traceback starts in the pack.
    tb = err.__traceback__.tb_next if err.__traceback__ is not None else None
    lines: List[str] = []
    for chunk in traceback.format_list(traceback.extract_tb(tb)):
        lines.extend(chunk.rstrip("\n").split("\n"))
    kept: List[str] = []
    budget = MAX_MESSAGE - len(head.encode()) - 64
    for line in reversed(lines[-TRACEBACK_LINES:]):
        cost = len(line.encode()) + 1
        if cost > budget:
            break
        kept.insert(0, line)
        budget -= cost
    omitted = len(lines) - len(kept)
    message = head
    if kept:
        message += "\nTraceback (innermost last"
        message += f", {omitted} earlier lines omitted):\n" if omitted else "):\n"
        message += "\n".join(kept)
    return ActionError(
        UNHANDLED_EXCEPTION,
        bound(message),
        details={"exception": kind, "message": bound(text, 1024)},
    )


class Pack:
    """A pack's definition. Create one per pack module; declare actions with `@pack.action`.

        pack = Pack("hello", "1.0.0", vendor="Acme Networks", description="Greets people.")
        pack.destination("http", "api.example.com:443", "to look up names")

        @pack.action(description="Greet someone by name.", examples=[{"name": "ops"}])
        def greet(inp: GreetInput, ctx: Context) -> GreetOutput: ...
    """

    def __init__(
        self, name: str, version: str, *, vendor: str = "", description: str = ""
    ) -> None:
        self.name = name
        self.version = version
        self.vendor = vendor
        self.description = description
        self.destinations: List[Destination] = []
        self.actions: Dict[str, Action] = {}
        self._duplicates: List[str] = []
        _registry.append(self)

    def destination(self, kind: str, pattern: str, reason: str) -> "Pack":
        """Asks for a destination: `kind` is `http`, `ssh` or `catalog`; `pattern` a host
        pattern (`api.example.com:443`, `*.service-now.com`, `10.0.0.0/24`, `inventory`, a
        catalog collection). The operator grants it (or not) at install."""
        self.destinations.append(Destination(kind, pattern, reason))
        return self

    def action(
        self,
        func: Optional[Callable[..., Any]] = None,
        *,
        name: Optional[str] = None,
        description: Optional[str] = None,
        idempotent: bool = False,
        examples: Optional[List[Any]] = None,
    ) -> Any:
        """Declares an action (a decorator, with or without arguments). The name defaults to
        the function's; the description to its docstring's first line. `examples` are inputs
        listed under the input schema's `examples`: `orch pack check` runs each and holds its
        output to the output schema."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            action_name = name or f.__name__
            doc = inspect.getdoc(f) or ""
            text = description if description is not None else doc.split("\n\n")[0].replace("\n", " ")
            action = Action(f, action_name, text, idempotent, list(examples or []))
            if action_name in self.actions:
                self._duplicates.append(action_name)
            self.actions[action_name] = action
            keep_source(f)
            return f

        return register(func) if func is not None else register

    def validate(self) -> List[DefinitionError]:
        """The problems `orch pack add` would refuse the pack for (names, version, sizes,
        destinations); an empty list when there are none."""
        problems: List[DefinitionError] = []

        def problem(subject: str, message: str) -> None:
            problems.append(DefinitionError(subject, message))

        if not rules.is_pack_name(self.name):
            problem(
                f"pack name {self.name!r}",
                "a pack name is 1-64 lowercase letters, digits, `_` or `-`, starting with a "
                "letter (such as `netdev`)",
            )
        reason = rules.check_version(self.version)
        if reason:
            problem(
                f"version {self.version!r}",
                f"not a semantic version ({reason}); use MAJOR.MINOR.PATCH such as 1.0.0",
            )
        for what, text, limit in (
            ("version", self.version, rules.MAX_SHORT_TEXT),
            ("vendor", self.vendor, rules.MAX_SHORT_TEXT),
            ("description", self.description, rules.MAX_DESCRIPTION),
        ):
            if len(text.encode()) > limit:
                problem(what, _too_long(len(text.encode()), limit))
        if not self.actions:
            problem("actions", "the pack has no actions; add one with @pack.action")
        for what, count, limit in (
            ("actions", len(self.actions), rules.MAX_ACTIONS),
            ("destinations", len(self.destinations), rules.MAX_DESTINATIONS),
        ):
            if count > limit:
                problem(what, f"the pack declares {count}; the host accepts at most {limit}")
        for action in self.actions.values():
            subject = f"action {action.name!r}"
            if not rules.is_action_name(action.name):
                problem(
                    subject,
                    "an action name is 1-64 lowercase letters, digits or `_`, starting with a "
                    "letter (such as `get_config`)",
                )
            if action.name in self._duplicates:
                problem(subject, "declared twice; give each action its own name")
            if len(action.description.encode()) > rules.MAX_DESCRIPTION:
                problem(
                    f"description of {subject}",
                    _too_long(len(action.description.encode()), rules.MAX_DESCRIPTION),
                )
            for which, text in (
                ("input", action.input_schema_json),
                ("output", action.output_schema_json),
            ):
                if len(text.encode()) > rules.MAX_SCHEMA_BYTES:
                    problem(
                        f"{which} schema of {subject}",
                        _too_long(len(text.encode()), rules.MAX_SCHEMA_BYTES),
                    )
        for d in self.destinations:
            subject = f"destination {d.kind} {d.pattern!r}"
            reason = rules.check_destination(d.kind, d.pattern)
            if reason:
                problem(subject, reason)
            if len(d.reason.encode()) > rules.MAX_SHORT_TEXT:
                problem(f"reason of {subject}", _too_long(len(d.reason.encode()), rules.MAX_SHORT_TEXT))
        return problems

    def call(self, action: str, input_json: str, ctx: Optional[Context] = None) -> str:
        """Runs `action` on a JSON input as the host's `invoke` does: returns the output JSON or
        raises `ActionError` (never another exception). For native tests; `ctx` defaults to
        `Context.for_tests()`."""
        found = self.actions.get(action)
        if found is None:
            names = list(self.actions)
            raise ActionError(
                UNKNOWN_ACTION,
                f"pack {self.name!r} has no action {action!r}; its actions are: {', '.join(names)}",
                details={"action": action, "actions": names},
            )
        return found.call(input_json, ctx if ctx is not None else Context.for_tests())

    def __repr__(self) -> str:
        return f"Pack({self.name!r}, {self.version!r}, actions={list(self.actions)})"


def registered() -> List[Pack]:
    """Every Pack created in this interpreter, oldest first."""
    return list(_registry)


def _too_long(length: int, limit: int) -> str:
    return f"{length} bytes; the host accepts at most {limit}"
