"""The `{{name}}` pack: three actions that show the shapes a pack's actions take.

- `summarize` computes from its input alone; its example is run by `orch pack check`.
- `device_status` asks an HTTP API, with a credential the host injects (the pack never sees
  it), and turns the API's statuses into error codes workflows can retry on.
- `uptime` runs a command on a device over SSH, logged in by the host.

`test_app.py` runs each action natively: `orch_sdk.testing.TestHost` answers the http and ssh
calls from a script and records what the action sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from orch_sdk import ActionError, Context, Pack, http
from orch_sdk.component import Handler  # noqa: F401  (the component's export: keep this line)
from orch_sdk.ssh import Session

pack = Pack(
    "{{name}}",
    "0.1.0",
    vendor="Your Company",
    description="What this pack automates, in one sentence.",
)
pack.destination("http", "api.example.com:443", "the monitoring API")
pack.destination("ssh", "inventory", "devices of the inventory")


@dataclass
class SummarizeInput:
    """Input of `summarize`.

    Attributes:
        text: The text to summarise.
    """

    text: str


@dataclass
class Summary:
    """Output of `summarize`.

    Attributes:
        lines: Number of lines.
        longest: The longest line, if there is any text.
    """

    lines: int
    longest: Optional[str] = None


@pack.action(
    description="Count the lines of a text and find the longest.",
    idempotent=True,
    examples=[{"text": "hostname r1\nntp server 10.0.0.1"}],
)
def summarize(inp: SummarizeInput, ctx: Context) -> Summary:
    ctx.info("summarizing")
    lines = inp.text.splitlines()
    return Summary(lines=len(lines), longest=max(lines, key=len) if lines else None)


@dataclass
class StatusInput:
    """Input of `device_status`.

    Attributes:
        device: The device's name in the monitoring API.
    """

    device: str = field(metadata={"schema": {"minLength": 1, "maxLength": 64}})


@dataclass
class Status:
    """Output of `device_status`.

    Attributes:
        status: What the API says (`up`, `down`, ...).
    """

    status: str


@pack.action(description="Ask the monitoring API for a device's status.", idempotent=True)
def device_status(inp: StatusInput, ctx: Context) -> Status:
    response = http.get(
        f"https://api.example.com/v1/devices/{inp.device}", credential="api-token", timeout=10
    )
    # 401/403 → auth_failed; 429 → rate_limited and 5xx → unavailable, both retryable.
    body = response.error_for_status().json()
    return Status(status=body["status"])


@dataclass
class UptimeInput:
    """Input of `uptime`.

    Attributes:
        device: The device's name in the inventory: the host supplies its address and login.
    """

    device: str


@dataclass
class Uptime:
    """Output of `uptime`.

    Attributes:
        uptime: What `uptime` printed.
    """

    uptime: str


@pack.action(description="Run `uptime` on an inventory device over SSH.", idempotent=True)
def uptime(inp: UptimeInput, ctx: Context) -> Uptime:
    out = Session.connect(inp.device).exec("uptime", timeout=10)
    if not out.ok:
        raise ActionError("command_failed", f"uptime on {inp.device} failed: {out.stderr.strip()}")
    return Uptime(uptime=out.stdout.strip())
