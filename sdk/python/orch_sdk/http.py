"""Outbound HTTP made by the host on the pack's behalf (the `http` import).

The host checks every request against the pack's network grant, resolves and checks every
address, follows redirects itself, caps the response, and injects a named vault credential
(`credential="servicenow"`) only where its binding allows: the pack never sees the secret.

    from orch_sdk import http

    ticket = http.post(
        "https://acme.service-now.com/api/now/table/change_request",
        json={"short_description": "upgrade r1"},
        credential="servicenow",
        timeout=10,
    ).error_for_status().json()

A request fails (`HostError`) only when no response came: `denied`, `timeout`, `unreachable`,
`too_large`, ... Any status the server answered, 404 and 503 included, is a `Response`; check
it, or turn it into an `ActionError` with `error_for_status()`:

    status      code          retryable
    100-399     (passes)
    401, 403    auth_failed   no
    429         rate_limited  yes
    500-599     unavailable   yes
    other 400+  http_status   no
"""

from __future__ import annotations

import json as _json
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import backend
from .errors import ActionError, HostError

STATUS_AUTH_FAILED = "auth_failed"
STATUS_RATE_LIMITED = "rate_limited"
STATUS_UNAVAILABLE = "unavailable"
STATUS_HTTP_STATUS = "http_status"

Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]

_NO_JSON = object()


class Response:
    """The response to a request: `status`, `headers` (a list of (name, value) pairs in the
    order received), `body` (bytes, whole) and `url` (after redirects)."""

    def __init__(
        self, status: int, headers: List[Tuple[str, str]], body: bytes, url: str
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    def header(self, name: str) -> Optional[str]:
        """The value of the first header called `name` (case-insensitive)."""
        return _find_header(self.headers, name)

    def text(self) -> str:
        """The body as text; invalid UTF-8 is replaced by U+FFFD."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON. A body that is not JSON is the peer's fault, not the
        input's: it raises `HostError("protocol", ...)`."""
        try:
            return _json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as err:
            raise HostError(
                "protocol",
                f"response from {self.url} (status {self.status}) is not the expected json: {err}",
            ) from None

    def error_for_status(self) -> "Response":
        """This response if its status is below 400; otherwise raises the `ActionError` a
        workflow's `retry:` acts on (see the module docs), with a message naming the URL
        (without its query) and the status, and details `{"status", "url"}` plus `retry_after`
        when the server sent `Retry-After`. The body is never copied into the error: it can be
        large, and it is the peer's text."""
        status = self.status
        if status < 400:
            return self
        if status in (401, 403):
            code, retryable = STATUS_AUTH_FAILED, False
        elif status == 429:
            code, retryable = STATUS_RATE_LIMITED, True
        elif 500 <= status <= 599:
            code, retryable = STATUS_UNAVAILABLE, True
        else:
            code, retryable = STATUS_HTTP_STATUS, False
        shown = self.url.split("?", 1)[0].split("#", 1)[0]
        details: Dict[str, Any] = {"status": status, "url": self.url}
        retry_after = self.header("retry-after")
        if retry_after is not None:
            details["retry_after"] = retry_after
        raise ActionError(code, f"{shown} answered {status}", retryable=retryable, details=details)

    def __repr__(self) -> str:
        return f"Response(status={self.status}, url={self.url!r}, {len(self.body)} bytes)"


def request(
    method: str,
    url: str,
    *,
    headers: Headers = None,
    json: Any = _NO_JSON,
    body: Union[bytes, str, None] = None,
    credential: Optional[str] = None,
    timeout: Optional[float] = None,
    max_redirects: Optional[int] = None,
    max_response_bytes: Optional[int] = None,
) -> Response:
    """Sends one request through the host and waits for the whole response.

    `json` sets the body to the value as JSON and `Content-Type: application/json` (unless a
    content type was given). `timeout` is in seconds, for the whole exchange (host default 30 s,
    never past the invocation's deadline). `max_redirects` defaults to 5 (0 returns the 3xx
    itself); `max_response_bytes` to the host's cap (16 MiB).
    """
    pairs = _header_pairs(headers)
    data: Optional[bytes] = body.encode() if isinstance(body, str) else body
    if json is not _NO_JSON:
        try:
            data = _json.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
        except (TypeError, ValueError) as err:
            raise HostError(
                "invalid", f"request body for {url} could not be serialised to json: {err}"
            ) from None
        if _find_header(pairs, "content-type") is None:
            pairs.append(("content-type", "application/json"))
    timeout_ms = None if timeout is None else max(0, min(int(timeout * 1000), 2**32 - 1))
    host = backend.current(f"{method} {url}")
    status, response_headers, response_body, final_url = host.http_send(
        method=method,
        url=url,
        headers=pairs,
        body=data,
        timeout_ms=timeout_ms,
        credential=credential,
        max_redirects=max_redirects,
        max_response_bytes=max_response_bytes,
    )
    return Response(status, list(response_headers), bytes(response_body), final_url)


def get(url: str, **options: Any) -> Response:
    """A GET request; options as for `request`."""
    return request("GET", url, **options)


def head(url: str, **options: Any) -> Response:
    """A HEAD request; options as for `request`."""
    return request("HEAD", url, **options)


def post(url: str, **options: Any) -> Response:
    """A POST request; options as for `request`."""
    return request("POST", url, **options)


def put(url: str, **options: Any) -> Response:
    """A PUT request; options as for `request`."""
    return request("PUT", url, **options)


def patch(url: str, **options: Any) -> Response:
    """A PATCH request; options as for `request`."""
    return request("PATCH", url, **options)


def delete(url: str, **options: Any) -> Response:
    """A DELETE request; options as for `request`."""
    return request("DELETE", url, **options)


def options(url: str, **kwargs: Any) -> Response:
    """An OPTIONS request; options as for `request`."""
    return request("OPTIONS", url, **kwargs)


def _header_pairs(headers: Headers) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(name), str(value)) for name, value in items]


def _find_header(headers: List[Tuple[str, str]], name: str) -> Optional[str]:
    lower = name.lower()
    for key, value in headers:
        if key.lower() == lower:
            return value
    return None
