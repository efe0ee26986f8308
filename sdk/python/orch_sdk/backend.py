"""Where capability calls go: the real host inside a component, a `testing.TestHost` in native
tests, and otherwise nowhere (an `invalid` HostError saying how to test, never a crash).

`orch_sdk.component` installs the component backend when the pack is built; `TestHost`
installs itself on the calling thread while it lives. The capability modules (`http`, `ssh`,
`catalog`, the context's logging) only ever call `current()`.
"""

from __future__ import annotations

import weakref
from typing import Any, Optional

from .errors import HostError

try:  # a component's CPython has no threads; natively, each thread has its own test host
    import threading

    _local: Any = threading.local()
except ImportError:  # pragma: no cover - only inside a component
    _local = type("_Local", (), {})()

# The host's imports, set by `orch_sdk.component` inside a component.
_component: Optional[Any] = None


def set_component_backend(backend: Any) -> None:
    global _component
    _component = backend


def install_test_host(host: Any) -> None:
    """Make `host` the calling thread's test host. Weak: the test owns it, and a host dropped
    at the end of a test answers no more."""
    _local.host = weakref.ref(host)


def uninstall_test_host(host: Any) -> None:
    ref = getattr(_local, "host", None)
    if ref is not None and ref() is host:
        _local.host = None


def current_test_host() -> Optional[Any]:
    ref = getattr(_local, "host", None)
    return ref() if ref is not None else None


def current(call: str) -> Any:
    """The backend that answers `call` (such as `GET https://...`), or the HostError of a native
    run without a test host."""
    host = current_test_host()
    if host is not None:
        return host._backend
    if _component is not None:
        return _component
    raise HostError(
        "invalid",
        f"no orch host to answer {call}: outside a component there is no host, and no "
        "orch_sdk.testing.TestHost is installed on this thread; use "
        "orch_sdk.testing.TestHost (`host = TestHost()` in the test) and script the reply",
    )
