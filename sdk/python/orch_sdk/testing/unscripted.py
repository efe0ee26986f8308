"""The error of a capability call the installed test host has no script for: names the call
and the script that would answer it."""

from __future__ import annotations

from ..errors import HostError


def unscripted(call: str, fix: str) -> HostError:
    return HostError("invalid", f"the test host has no reply for {call}; script one with {fix}")
