"""The checks `orch pack add` makes on a pack's definition (names, version, destinations),
mirrored from the Rust SDK's `rules.rs` so `Pack.validate()` finds the same problems in a native
test, before a build."""

from __future__ import annotations

import ipaddress
import re
from typing import Optional

MAX_ACTIONS = 4096
MAX_DESTINATIONS = 256
MAX_SCHEMA_BYTES = 512 << 10
MAX_SHORT_TEXT = 256
MAX_DESCRIPTION = 4096
MAX_NAME = 64

DESTINATION_KINDS = ("http", "ssh", "catalog")

_PACK_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_ACTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_COLLECTION = re.compile(r"[a-z0-9_-]{1,64}")
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9-]+")

BINDING_HINT = (
    "expected HOST[:PORT] such as api.example.com, *.example.com:443, 10.0.0.0/24:22 or "
    "[2001:db8::1]:443"
)


def is_pack_name(name: str) -> bool:
    return _PACK_NAME.fullmatch(name) is not None


def is_action_name(name: str) -> bool:
    return _ACTION_NAME.fullmatch(name) is not None


def check_version(version: str) -> Optional[str]:
    """None for a semantic version (`1.4.0`, `2.0.0-rc.1+b5`), else why not."""
    version, plus, build = version.partition("+")
    core, dash, pre = version.partition("-")
    parts = core.split(".")
    if len(parts) != 3:
        return "expected MAJOR.MINOR.PATCH, such as 1.4.0"
    for part in parts:
        if not part or not part.isascii() or not part.isdigit():
            return f"{part!r} is not a number"
        if len(part) > 1 and part.startswith("0"):
            return f"{part!r} has a leading zero"
        if int(part) >= 1 << 64:
            return f"{part!r} is too large"
    if dash:
        for identifier in pre.split("."):
            problem = _check_identifier(identifier, "pre-release")
            if problem:
                return problem
            if identifier.isdigit() and len(identifier) > 1 and identifier.startswith("0"):
                return f"pre-release identifier {identifier!r} has a leading zero"
    if plus:
        for identifier in build.split("."):
            problem = _check_identifier(identifier, "build metadata")
            if problem:
                return problem
    return None


def _check_identifier(identifier: str, what: str) -> Optional[str]:
    if not identifier:
        return f"empty {what} identifier"
    if not _IDENTIFIER.fullmatch(identifier):
        return f"{what} identifier {identifier!r} has characters other than letters, digits and '-'"
    return None


def check_destination(kind: str, pattern: str) -> Optional[str]:
    """None for a destination `orch pack add` accepts, else why not and the fix."""
    if len(pattern.encode()) > MAX_SHORT_TEXT:
        return f"the pattern is {len(pattern.encode())} bytes; the host accepts at most {MAX_SHORT_TEXT}"
    if kind == "catalog":
        if pattern.lower() == "inventory" or pattern == "*" or _COLLECTION.fullmatch(pattern):
            return None
        return (
            "a catalog destination is `inventory`, `*` or a collection name of 1-64 lowercase "
            "letters, digits, '_' and '-' (such as `configs`)"
        )
    if kind == "ssh":
        if pattern.lower() == "inventory":
            return None
        if "://" in pattern:
            return "an ssh destination takes no scheme; write HOST[:PORT]"
        return _check_binding(pattern)
    if kind == "http":
        host = pattern
        if "://" in pattern:
            scheme, host = pattern.split("://", 1)
            if scheme.lower() not in ("http", "https"):
                return f"unknown scheme {scheme!r}; write http:// or https:// (or nothing, for https)"
        host = host[:-1] if host.endswith("/") else host
        if "/" in host and not _looks_like_cidr(host):
            return (
                "a destination names a host, not a path: drop everything from the first '/' (the "
                "grant covers every path on the host)"
            )
        return _check_binding(host)
    return f"unknown kind {kind!r}; the kinds are `http`, `ssh` and `catalog`"


def _is_cidr(text: str) -> bool:
    address, slash, prefix = text.partition("/")
    if not slash or not prefix.isascii() or not prefix.isdigit() or len(prefix) > 3:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return int(prefix) <= (32 if ip.version == 4 else 128)


def _looks_like_cidr(host: str) -> bool:
    head, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        host = head
    return _is_cidr(host.lstrip("[").rstrip("]"))


def _check_binding(pattern: str) -> Optional[str]:
    def bad(reason: str) -> str:
        return f"{reason}; {BINDING_HINT}"

    port: Optional[str]
    if pattern.startswith("["):
        inside, bracket, after = pattern[1:].partition("]")
        if not bracket:
            return bad("missing ']'")
        if not after:
            port = None
        elif after.startswith(":"):
            port = after[1:]
        else:
            return bad("expected ':PORT' after ']'")
        if ":" not in inside:
            return bad("brackets are only for IPv6 addresses")
        host = inside
    else:
        host, colon, rest = pattern.partition(":")
        port = rest if colon else None
    if port is not None:
        if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            return bad("the port must be a number from 1 to 65535")
    problem = _check_host(host)
    return bad(problem) if problem else None


def _check_host(host: str) -> Optional[str]:
    if not host:
        return "the host is empty"
    if "/" in host:
        return None if _is_cidr(host) else "not a valid CIDR range"
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    name = name[:-1] if name.endswith(".") else name
    if "*" in name:
        return "'*' is only allowed as a whole first label ('*.example.com')"
    labels = name.split(".")
    valid = all(
        _LABEL.fullmatch(label) and not label.startswith("-") and not label.endswith("-")
        for label in labels
    )
    if len(name) > 253 or not valid:
        return "not a valid host name"
    if labels[-1].isdigit():
        return "not a valid host name or IP address"
    if wildcard and len(labels) < 2:
        return "a wildcard needs a domain with at least two labels ('*.example.com')"
    return None
