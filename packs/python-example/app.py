"""The `pyexample` pack: orch's example of a pack written in Python.

- `word_stats` computes from its input alone; its example is run by `orch pack check`.
- `fetch_status` asks an HTTP API, with a credential the host injects.
- `fetch_plain` fetches a URL with the standard wasi:http bindings only (`wasi_fetch.py`, no
  orch code), naming a credential in the `x-orch-credential` header: the host brokers
  wasi:http like its own http interface. It needs the component's bindings, so it runs only
  in a component (natively it fails with `fetch_failed`, and a TestHost cannot script it).
- `explode` raises a plain Python exception on purpose: the host's tests check that it arrives
  as an `unhandled_exception` action error carrying the exception and its traceback.

Built with componentize-py against the world `pack-with-wasi-http` (scripts/build-python-packs);
`test_app.py` runs the actions natively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import wasi_fetch
from orch_sdk import ActionError, Context, Pack, http
from orch_sdk.component import Handler  # noqa: F401  (the component's export)

pack = Pack(
    "pyexample",
    "0.1.0",
    vendor="orch",
    description="An example pack written in Python: word counts, an HTTP status check through "
    "the SDK and through wasi:http, and a deliberate failure.",
)
pack.destination("http", "api.example.com:443", "the status API fetch_status asks")


@dataclass
class TextInput:
    """Input of `word_stats`.

    Attributes:
        text: The text to count the words of.
        top: How many of the most frequent words to return.
    """

    text: str
    top: int = field(default=3, metadata={"schema": {"minimum": 0, "maximum": 100}})


@dataclass
class WordStats:
    """Output of `word_stats`.

    Attributes:
        words: Number of words.
        lines: Number of lines.
        most_common: The most frequent words (lowercased) and their counts.
    """

    words: int
    lines: int
    most_common: Dict[str, int]


@pack.action(
    description="Count the words and lines of a text and find the most frequent words.",
    idempotent=True,
    examples=[{"text": "the quick fox\nthe lazy dog", "top": 1}],
)
def word_stats(inp: TextInput, ctx: Context) -> WordStats:
    counts: Dict[str, int] = {}
    words = inp.text.split()
    for word in words:
        counts[word.lower()] = counts.get(word.lower(), 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: inp.top]
    ctx.info("counted", words=len(words))
    return WordStats(words=len(words), lines=len(inp.text.splitlines()), most_common=dict(ranked))


@dataclass
class StatusInput:
    """Input of `fetch_status`.

    Attributes:
        device: The device's name in the status API.
    """

    device: str


@dataclass
class Status:
    """Output of `fetch_status`.

    Attributes:
        status: What the API says (`up`, `down`, ...).
        since: When it changed, if the API says.
    """

    status: str
    since: Optional[str] = None


@pack.action(description="Ask the status API for a device's status.", idempotent=True)
def fetch_status(inp: StatusInput, ctx: Context) -> Status:
    body = (
        http.get(f"https://api.example.com/v1/devices/{inp.device}", credential="status-api", timeout=10)
        .error_for_status()  # 401/403 auth_failed; 429, 5xx retryable
        .json()
    )
    return Status(status=body["status"], since=body.get("since"))


@dataclass
class FetchInput:
    """Input of `fetch_plain`.

    Attributes:
        url: An http or https URL the pack was granted.
        credential: A vault credential for the host to inject, if any.
    """

    url: str
    credential: Optional[str] = None


@dataclass
class Fetched:
    """Output of `fetch_plain`.

    Attributes:
        status: The response's status code.
        content_type: Its Content-Type header, if it has one.
        body: The body's first 1 000 characters.
    """

    status: int
    content_type: Optional[str]
    body: str


@pack.action(
    description="Fetch a URL with the standard wasi:http, naming a credential in x-orch-credential.",
    idempotent=True,
)
def fetch_plain(inp: FetchInput, ctx: Context) -> Fetched:
    headers = [("x-orch-credential", inp.credential)] if inp.credential else []
    try:
        response = wasi_fetch.get(inp.url, headers)
    except wasi_fetch.FetchError as err:
        # The host's refusal arrives as wasi:http's `internal-error` carrying orch's text
        # (`denied: pack "pyexample" may not reach ...` with the grant to give): pass it on whole.
        raise ActionError(
            "fetch_failed", f"fetch {inp.url} failed: {err}", details={"url": inp.url}
        ) from None
    return Fetched(
        status=response.status,
        content_type=response.header("content-type"),
        body=response.text()[:1000],
    )


@dataclass
class ExplodeInput:
    """Input of `explode`.

    Attributes:
        reason: Put in the exception's message.
    """

    reason: str = "on purpose"


@pack.action(description="Raise a plain Python exception (to show how the SDK reports one).")
def explode(inp: ExplodeInput, ctx: Context) -> Status:
    return _parse_threshold(inp.reason)


def _parse_threshold(reason: str) -> Status:
    # A helper frame, so the traceback shows more than the action's own line.
    raise ValueError(f"pyexample exploded: {reason}")
