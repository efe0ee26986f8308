"""The two error types of a pack: `ActionError`, what an action reports to the host, and
`HostError`, what a capability (http, ssh, catalog) reports to the action.

A `HostError` that escapes an action becomes an `ActionError` with the same code, retryable for
`timeout` and `unreachable` only, as in the Rust SDK: a refusal or a bad request fails the same
way every time, while a timeout or an unreachable peer may answer later.
"""

from __future__ import annotations

import json
from typing import Any, Optional

#: Every code of the contract's `error-code` enum (types.wit), in snake_case.
HOST_ERROR_CODES = frozenset(
    {
        "denied",
        "invalid",
        "not_found",
        "unreachable",
        "timeout",
        "auth_failed",
        "host_key",
        "too_large",
        "protocol",
        "closed",
        "quota_exceeded",
    }
)

#: Host error codes worth retrying.
RETRYABLE_HOST_ERRORS = frozenset({"timeout", "unreachable"})

#: The code of an input that does not match the action's input type.
INVALID_INPUT = "invalid_input"
#: The code of an output that cannot be turned into JSON of the declared type.
INVALID_OUTPUT = "invalid_output"
#: The code of an action name the pack does not have.
UNKNOWN_ACTION = "unknown_action"
#: The code of a Python exception that escaped an action.
UNHANDLED_EXCEPTION = "unhandled_exception"

#: Bound on an error's message, as the host stores and shows it: a traceback of a deep
#: recursion must not turn into megabytes in the run's record.
MAX_MESSAGE = 4096
#: Bound on an error's details document, for the same reason.
MAX_DETAILS = 4096


class ActionError(Exception):
    """An action's failure, as the pack reports it: raise it from an action.

    `code` is snake_case (`not_found`, `auth_failed`); workflows branch on it. `retryable` says
    whether trying again later may succeed. `details` is any JSON-serialisable value.
    """

    def __init__(
        self,
        code: str,
        message: str,
        retryable: bool = False,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.details = details

    @classmethod
    def invalid_input(cls, message: str, details: Any = None) -> "ActionError":
        """An `invalid_input` error (not retryable): the input cannot work, whatever the time."""
        return cls(INVALID_INPUT, message, details=details)

    def details_json(self) -> Optional[str]:
        """The details as the contract carries them: a JSON document, or None."""
        if self.details is None:
            return None
        try:
            text = json.dumps(self.details, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as err:
            text = json.dumps({"unserialisable_details": str(err)})
        if len(text.encode()) > MAX_DETAILS:
            return json.dumps({"truncated": bound(text, MAX_DETAILS - 64)})
        return text

    def __repr__(self) -> str:
        return (
            f"ActionError({self.code!r}, {self.message!r}, retryable={self.retryable!r}, "
            f"details={self.details!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActionError):
            return NotImplemented
        return (self.code, self.message, self.retryable, self.details) == (
            other.code,
            other.message,
            other.retryable,
            other.details,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


class HostError(Exception):
    """A capability's failure, as the host reports it (`host-error` in types.wit).

    `code` is one of `HOST_ERROR_CODES` (`denied`, `timeout`, `not_found`, ...). Catch it to
    handle a failure; left uncaught, the SDK reports it as an `ActionError` with the same code.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed: only for `timeout` and `unreachable`."""
        return self.code in RETRYABLE_HOST_ERRORS

    def to_action_error(self) -> ActionError:
        """The action error this becomes when it escapes an action."""
        return ActionError(self.code, self.message, retryable=self.retryable)

    def __repr__(self) -> str:
        return f"HostError({self.code!r}, {self.message!r})"


def bound(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, saying so when it was cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    marker = " … (truncated)"
    return data[: limit - len(marker.encode())].decode(errors="ignore") + marker
