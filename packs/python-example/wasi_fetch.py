"""A minimal, synchronous HTTP GET over the standard `wasi:http` 0.2 interfaces.

Nothing here is orch-specific: it uses only the bindings componentize-py generates for a world
that imports `wasi:http/outgoing-handler` (`outgoing-handler`, `wasi:http/types`,
`wasi:io/poll`, `wasi:io/streams`), so it runs under any host that provides wasi:http. Headers
are passed through as given; orch's `x-orch-credential` is just one of them to this module.

Failures, the host's refusals included, raise `FetchError` carrying wasi:http's `error-code`
and its text (a refusal by orch is `internal-error` with orch's message). Natively, as in unit
tests, there are no bindings and `get` raises `FetchError("unsupported", ...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from typing import Any, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

try:  # the bindings exist only inside a component; imported now, at build time (no files later)
    from componentize_py_types import Err, Ok
    from wit_world.imports import outgoing_handler, poll, streams
except ImportError:
    outgoing_handler = None
else:
    try:  # a world that also imports another package's `types` names wasi:http's this way
        from wit_world.imports import wasi_http_types as http_types
    except ImportError:
        from wit_world.imports import types as http_types

#: Bytes asked for per read of the response body.
READ_CHUNK = 64 * 1024


class FetchError(Exception):
    """A request that got no response: `code` is wasi:http's `error-code` case in kebab-case
    (`internal-error`, `connection-refused`, ...) or `invalid-url`, `invalid-header`,
    `unsupported`; `detail` is the text that came with it, if any."""

    def __init__(self, code: str, detail: Optional[str] = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass
class Response:
    """A response read to its end."""

    status: int
    headers: List[Tuple[str, bytes]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        """The first value of header `name` (case-insensitive), if there is one."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    def text(self) -> str:
        """The body as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


def split_url(url: str) -> Tuple[str, str, str]:
    """`(scheme, authority, path_with_query)` of an absolute http(s) URL; the fragment, which
    is never sent, is dropped."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise FetchError("invalid-url", f"{url!r} is not an absolute URL (scheme://host/path)")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme.lower(), parts.netloc, path


def describe_error_code(code: Any) -> Tuple[str, Optional[str]]:
    """wasi:http's `error-code` as `(case, text)`: the generated class `ErrorCode_InternalError`
    is the WIT case `internal-error`; its payload, if any, becomes the text."""
    name = type(code).__name__
    name = name[len("ErrorCode_"):] if name.startswith("ErrorCode_") else name
    case = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    value = getattr(code, "value", None)
    if value is None:
        return case, None
    if is_dataclass(value):  # dns-error, tls-alert-received, ...-size: optional fields
        given = [f"{f.name}={getattr(value, f.name)}" for f in fields(value)
                 if getattr(value, f.name) is not None]
        return case, ", ".join(given) or None
    return case, str(value)


def get(url: str, headers: Sequence[Tuple[str, str]] = ()) -> Response:
    """Sends `GET url` with `headers` and reads the whole response."""
    if outgoing_handler is None:
        raise FetchError("unsupported", "no wasi:http bindings here: this runs only in a component")
    scheme, authority, path = split_url(url)
    try:
        header_fields = http_types.Fields.from_list([(k, v.encode()) for k, v in headers])
    except Err as err:
        raise FetchError("invalid-header", type(err.value).__name__) from None
    request = http_types.OutgoingRequest(header_fields)
    try:
        request.set_method(http_types.Method_Get())
        request.set_scheme(
            http_types.Scheme_Http() if scheme == "http"
            else http_types.Scheme_Https() if scheme == "https"
            else http_types.Scheme_Other(scheme)
        )
        request.set_authority(authority)
        request.set_path_with_query(path)
    except Err:
        raise FetchError("invalid-url", f"the host refused a part of {url!r}") from None
    try:
        future = outgoing_handler.handle(request, None)
    except Err as err:
        raise FetchError(*describe_error_code(err.value)) from None
    with future:
        response = _wait(future)
    with response:
        return _read(response)


def _wait(future: Any) -> Any:
    """The response `future` resolves to, blocking on its pollable until it does."""
    while True:
        ready = future.get()
        if ready is not None:
            break
        with future.subscribe() as pollable:
            poll.poll([pollable])
    if not isinstance(ready, Ok):  # the outer result: the response was already taken
        raise FetchError("internal-error", "the response was already taken")
    outcome = ready.value
    if not isinstance(outcome, Ok):
        raise FetchError(*describe_error_code(outcome.value))
    return outcome.value


def _read(response: Any) -> Response:
    """Status, headers and the whole body of `response`."""
    status = response.status()
    with response.headers() as header_fields:
        headers = header_fields.entries()
    try:
        body = response.consume()
    except Err:
        raise FetchError("internal-error", "the response body was already taken") from None
    chunks: List[bytes] = []
    with body:
        with body.stream() as stream:
            while True:
                try:
                    chunks.append(stream.blocking_read(READ_CHUNK))
                except Err as err:
                    if isinstance(err.value, streams.StreamError_Closed):
                        break  # the end of the body
                    raise _stream_error(err.value) from None
    return Response(status=status, headers=headers, body=b"".join(chunks))


def _stream_error(failed: Any) -> FetchError:
    """The error of a body read that failed (`last-operation-failed`), as wasi:http says it."""
    with failed.value as io_error:
        code = http_types.http_error_code(io_error)
        if code is not None:
            return FetchError(*describe_error_code(code))
        return FetchError("http-response-incomplete", io_error.to_debug_string())
