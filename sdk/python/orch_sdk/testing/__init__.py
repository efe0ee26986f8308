"""`TestHost`: a stand-in for the orch host in native tests, so actions that use `http`, `ssh`,
`catalog` and logging run under plain `python -m unittest` with scripted replies, and a test
asserts on what the action sent. The Python counterpart of the Rust SDK's `orch_sdk::testing`.

    from orch_sdk.testing import TestHost

    host = TestHost()
    host.http.on("GET", "https://api.example.com/v1/devices/r1").reply(200, {"status": "up"})
    host.http.on("GET", "https://api.example.com/v1/devices/r2").fail("timeout", "no answer")
    out = pack.call("device_status", '{"device": "r1"}', host.context())
    assert host.http.requests[0].credential == "api-token"

A `TestHost` answers while it lives, on the thread that created it (the newest one there):
keep it in a variable for the test (or use `with TestHost() as host:`). Without one, a capability
call raises `HostError("invalid", ...)` naming this module; a call the host has no script for
raises the same, naming the request, command or line and the script that would answer it.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional

from .. import backend
from ..context import Context, LogRecord
from .catalog import TestCatalog
from .http import HttpRule, SentRequest, TestHttp
from .ssh import ElevateRule, ExecRule, LineRule, SentSecret, SshConnection, TestSsh

__all__ = [
    "ElevateRule",
    "ExecRule",
    "HttpRule",
    "LineRule",
    "SentRequest",
    "SentSecret",
    "SshConnection",
    "TestCatalog",
    "TestHost",
    "TestHttp",
    "TestSsh",
]


class _Backend:
    """What `backend.current()` hands the capability modules while a TestHost is installed.
    It holds the parts, never the host, so a host dropped by its test is freed at once."""

    def __init__(self, http: TestHttp, ssh: TestSsh, catalog: TestCatalog, logs: List[LogRecord]) -> None:
        self._http = http
        self._ssh = ssh
        self._catalog = catalog
        self._logs = logs

    def log_write(self, level: str, message: str, fields: Optional[str]) -> None:
        self._logs.append(LogRecord(level, message, json.loads(fields) if fields else None))

    def http_send(self, **request: Any) -> Any:
        return self._http._send(**request)

    def ssh_connect(self, target: Any, credential: Optional[str], timeout_ms: Optional[int]) -> Any:
        return self._ssh._connect(target, credential)

    def catalog_get_device(self, name: str) -> Any:
        return self._catalog._get_device(name)

    def catalog_find_devices(self, tags: Any) -> Any:
        return self._catalog._find_devices(tags)

    def catalog_get(self, collection: str, key: str, version: Optional[int]) -> Any:
        return self._catalog._get(collection, key, version)

    def catalog_put(self, collection: str, key: str, value: str) -> Any:
        return self._catalog._put(collection, key, value)


class TestHost:
    """A scripted stand-in for the orch host, installed on the current thread while it lives.

    Script replies through `http`, `ssh` and `catalog`, run the action with `context()`, then
    read back what the action sent from the same attributes.
    """

    __test__ = False  # not a test case, whatever a test runner's name matching thinks

    def __init__(self) -> None:
        self.http = TestHttp()
        self.ssh = TestSsh()
        self.catalog = TestCatalog()
        self._logs: List[LogRecord] = []
        self._backend = _Backend(self.http, self.ssh, self.catalog, self._logs)
        backend.install_test_host(self)

    def context(self) -> Context:
        """A context for the action (`Context.for_tests()`: its log lines stay in the
        context)."""
        return Context.for_tests()

    @property
    def logs(self) -> List[LogRecord]:
        """Lines logged outside a context (`orch_sdk.context.write`)."""
        return list(self._logs)

    def close(self) -> None:
        """Uninstalls the host: capability calls fail again as without one."""
        backend.uninstall_test_host(self)

    def __enter__(self) -> "TestHost":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

