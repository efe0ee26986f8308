"""`Context`: where an invocation comes from (run, task, attempt, idempotency key) and the
action's structured logging into the run's record (the `log` import).

Logging never fails: a line the host cannot take is the host's to count, and an action must not
fail because of a log line. Field values that are not JSON are logged as their `str()`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any, Dict, List, Optional

from . import backend

LEVELS = ("trace", "debug", "info", "warn", "error")


@dataclasses.dataclass
class LogRecord:
    """One log line kept by `Context.for_tests()` or a `TestHost`."""

    level: str
    message: str
    fields: Optional[Dict[str, Any]] = None


class Context:
    """Passed to every action: who called, and logging.

    Attributes:
        run_id: The workflow run (empty for `orch action run`).
        task: The task of the run (empty for `orch action run`).
        attempt: Attempt number, from 1; retries of the same step increase it.
        idempotency_key: Stable across every attempt of the same logical step: use it to make
            side effects idempotent (as a ticket's correlation id, for example).
    """

    def __init__(
        self,
        run_id: str = "",
        task: str = "",
        attempt: int = 1,
        idempotency_key: str = "",
        *,
        keep_logs: bool = False,
    ) -> None:
        self.run_id = run_id
        self.task = task
        self.attempt = attempt
        self.idempotency_key = idempotency_key
        # None: lines go to the host (or a TestHost, or stderr natively).
        self._logs: Optional[List[LogRecord]] = [] if keep_logs else None

    @classmethod
    def for_tests(cls) -> "Context":
        """A context for native tests: run `test-run`, task `test-task`, attempt 1, key
        `test-key`; its log lines are kept in `logs`."""
        return cls("test-run", "test-task", 1, "test-key", keep_logs=True)

    @property
    def logs(self) -> List[LogRecord]:
        """The lines logged through a `for_tests()` context (empty for any other)."""
        return list(self._logs or [])

    def log(self, level: str, message: str, **fields: Any) -> None:
        """Logs `message` at `level` (`trace`, `debug`, `info`, `warn` or `error`) with
        structured `fields`."""
        if level not in LEVELS:
            fields = {"level": level, **fields}
            level = "info"
        if self._logs is not None:
            self._logs.append(LogRecord(level, message, _plain(fields) if fields else None))
            return
        write(level, message, fields)

    def trace(self, message: str, **fields: Any) -> None:
        self.log("trace", message, **fields)

    def debug(self, message: str, **fields: Any) -> None:
        self.log("debug", message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        self.log("info", message, **fields)

    def warn(self, message: str, **fields: Any) -> None:
        self.log("warn", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("error", message, **fields)

    def __repr__(self) -> str:
        return (
            f"Context(run_id={self.run_id!r}, task={self.task!r}, attempt={self.attempt}, "
            f"idempotency_key={self.idempotency_key!r})"
        )


def write(level: str, message: str, fields: Optional[Dict[str, Any]] = None) -> None:
    """Logs one line outside a context (from a helper function, say)."""
    text = json.dumps(_plain(fields), ensure_ascii=False, separators=(",", ":")) if fields else None
    try:
        target = backend.current("log")
    except Exception:
        # Natively without a test host: logging cannot fail, so show the line instead.
        print(f"orch log {level}: {message} {text or ''}", file=sys.stderr)
        return
    target.log_write(level, message, text)


def _plain(fields: Dict[str, Any]) -> Dict[str, Any]:
    return json.loads(json.dumps(fields, default=str))
