"""The test host's HTTP: rules answering requests by method and URL (`host.http.on`), and the
record of every request the action sent (`host.http.requests`)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, List, Optional, Tuple

from ..errors import HostError
from .unscripted import unscripted


@dataclasses.dataclass
class SentRequest:
    """A request the action sent, as the host received it."""

    method: str
    url: str
    headers: List[Tuple[str, str]]
    body: Optional[bytes]
    credential: Optional[str]
    timeout_ms: Optional[int]
    max_redirects: Optional[int]
    max_response_bytes: Optional[int]

    def header(self, name: str) -> Optional[str]:
        """The first header called `name` (case-insensitive)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        """The body parsed as JSON (None without a body)."""
        return None if self.body is None else json.loads(self.body)


class HttpRule:
    """One scripted answer; end the chain with `reply`, `reply_text`, `reply_bytes` or `fail`.
    A URL ending in `*` matches every URL starting with the rest."""

    def __init__(self, rules: List["HttpRule"], method: str, url: str) -> None:
        self._rules = rules
        self.method = method
        self.url = url
        self.remaining: Optional[int] = None
        self.headers: List[Tuple[str, str]] = []
        self._answer: Any = None

    def once(self) -> "HttpRule":
        """Answer one request only (later ones fall through to the next rule)."""
        return self.times(1)

    def times(self, count: int) -> "HttpRule":
        """Answer `count` requests only."""
        self.remaining = count
        return self

    def header(self, name: str, value: str) -> "HttpRule":
        """Adds a response header."""
        self.headers.append((name, value))
        return self

    def reply(self, status: int, body: Any = None) -> None:
        """Answers with `status` and `body` as JSON (and `content-type: application/json`)."""
        if not any(k.lower() == "content-type" for k, _ in self.headers):
            self.headers.append(("content-type", "application/json"))
        self.reply_bytes(status, json.dumps(body).encode())

    def reply_text(self, status: int, body: str) -> None:
        """Answers with `status` and a text body."""
        self.reply_bytes(status, body.encode())

    def reply_bytes(self, status: int, body: bytes) -> None:
        """Answers with `status` and a raw body."""
        self._answer = (status, body)
        self._rules.append(self)

    def fail(self, code: str, message: str) -> None:
        """Fails the request as the host would (`timeout`, `denied`, `unreachable`, ...)."""
        self._answer = HostError(code, message)
        self._rules.append(self)

    def _matches(self, method: str, url: str) -> bool:
        if self.remaining == 0 or self.method.upper() != method.upper():
            return False
        if self.url.endswith("*"):
            return url.startswith(self.url[:-1])
        return url == self.url


class TestHttp:
    """The HTTP side of a `TestHost`."""

    __test__ = False

    def __init__(self) -> None:
        self._rules: List[HttpRule] = []
        self._sent: List[SentRequest] = []

    def on(self, method: str, url: str) -> HttpRule:
        """A rule for requests with `method` to `url`; the first matching rule answers."""
        return HttpRule(self._rules, method, url)

    @property
    def requests(self) -> List[SentRequest]:
        """Every request the action sent, in order."""
        return list(self._sent)

    def _send(self, **request: Any) -> Tuple[int, List[Tuple[str, str]], bytes, str]:
        self._sent.append(SentRequest(**request))
        method, url = request["method"], request["url"]
        for rule in self._rules:
            if rule._matches(method, url):
                if rule.remaining is not None:
                    rule.remaining -= 1
                if isinstance(rule._answer, HostError):
                    raise HostError(rule._answer.code, rule._answer.message)
                status, body = rule._answer
                return status, list(rule.headers), body, url
        raise unscripted(f"{method} {url}", f"host.http.on({method!r}, {url!r}).reply(...)")


