"""The componentize-py glue: the `Handler` export class that dispatches to the pack module's
`Pack`, and the backend that sends capability calls to the host's imports.

A pack's module (the `app` of `componentize-py ... componentize app`) must expose `Handler`;
one line does it:

    from orch_sdk.component import Handler  # noqa: F401  (the component's export)

componentize-py imports the module at build time and snapshots the interpreter; at run time a
component has no files, so a module first imported then is not found. Everything the SDK needs
(the generated `wit_world` bindings included) is therefore imported here, at the top.

Natively (tests) this module imports too, and `Handler` refuses to run: there is no host.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional, Tuple

from . import backend, catalog, pack as _pack
from .context import Context
from .errors import ActionError, HostError
from .source import IN_COMPONENT, keep_file

if IN_COMPONENT:  # the bindings exist only inside a component build
    from componentize_py_types import Err
    from wit_world.imports import catalog as wit_catalog
    from wit_world.imports import http as wit_http
    from wit_world.imports import log as wit_log
    from wit_world.imports import ssh as wit_ssh

    try:  # world `pack-with-wasi-http`: beside `wasi:http/types`, ours is `orch_pack_types`
        from wit_world.imports import orch_pack_types as wit_types
    except ImportError:  # world `pack`
        from wit_world.imports import types as wit_types


def the_pack() -> _pack.Pack:
    """The one Pack the pack's modules created."""
    packs = _pack.registered()
    if len(packs) != 1:
        names = ", ".join(p.name for p in packs) or "none"
        raise RuntimeError(
            f"a Python pack defines exactly one orch_sdk.Pack; this one defines {len(packs)} "
            f"({names})"
        )
    return packs[0]


class Handler:
    """The `handler` export: `describe` and `invoke` for the one Pack of the component."""

    def describe(self) -> Any:
        if not IN_COMPONENT:
            raise RuntimeError("Handler runs only inside a component; test with Pack.call")
        p = the_pack()
        return wit_types.PackInfo(
            name=p.name,
            version=p.version,
            vendor=p.vendor,
            description=p.description,
            actions=[
                wit_types.ActionInfo(
                    name=a.name,
                    description=a.description,
                    input_schema=a.input_schema_json,
                    output_schema=a.output_schema_json,
                    idempotent=a.idempotent,
                )
                for a in p.actions.values()
            ],
            destinations=[
                wit_types.Destination(kind=d.kind, pattern=d.pattern, reason=d.reason)
                for d in p.destinations
            ],
        )

    def invoke(self, action: str, input: str, context: Any) -> str:
        if not IN_COMPONENT:
            raise RuntimeError("Handler runs only inside a component; test with Pack.call")
        ctx = Context(context.run_id, context.task, context.attempt, context.idempotency_key)
        try:
            return the_pack().call(action, input, ctx)
        except ActionError as err:
            error = err
        except BaseException as err:  # noqa: BLE001 - the_pack() itself, or a bug of the SDK
            error = _pack.unhandled(err)
        raise Err(
            wit_types.ActionError(
                code=error.code,
                message=error.message,
                retryable=error.retryable,
                details=error.details_json(),
            )
        )


def _host_error(err: Any) -> HostError:
    value = err.value
    code = getattr(value, "code", None)
    name = code.name.lower() if code is not None else "protocol"
    return HostError(name, getattr(value, "message", str(value)))


class _Shell:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def send(self, text: str) -> None:
        try:
            self._inner.send(text)
        except Err as err:
            raise _host_error(err) from None

    def elevate(self, method: str, credential: Optional[str], privileged_prompt: str,
                prompt: Optional[str], timeout_ms: Optional[int]) -> str:
        options = wit_ssh.ElevateOptions(
            wit_ssh.Elevation[method.upper()], credential, privileged_prompt, prompt, timeout_ms
        )
        try:
            return self._inner.elevate(options)
        except Err as err:
            raise _host_error(err) from None

    def send_secret(self, credential: str) -> None:
        try:
            self._inner.send_secret(credential)
        except Err as err:
            raise _host_error(err) from None

    def read_until(self, pattern: str, timeout_ms: int) -> str:
        try:
            return self._inner.read_until(pattern, timeout_ms)
        except Err as err:
            raise _host_error(err) from None

    def read(self, timeout_ms: int) -> str:
        try:
            return self._inner.read(timeout_ms)
        except Err as err:
            raise _host_error(err) from None


class _Session:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def exec(self, command: str, timeout_ms: Optional[int]) -> Tuple[str, str, Optional[int]]:
        try:
            out = self._inner.exec(command, timeout_ms)
        except Err as err:
            raise _host_error(err) from None
        return out.stdout, out.stderr, out.exit_status

    def shell(self, term: Optional[str], width: Optional[int], height: Optional[int]) -> _Shell:
        try:
            return _Shell(self._inner.shell(wit_ssh.ShellOptions(term, width, height)))
        except Err as err:
            raise _host_error(err) from None

    def sftp_get(self, path: str, max_bytes: Optional[int]) -> bytes:
        try:
            return self._inner.sftp_get(path, max_bytes)
        except Err as err:
            raise _host_error(err) from None

    def sftp_put(self, path: str, data: bytes, mode: Optional[int]) -> None:
        try:
            self._inner.sftp_put(path, data, mode)
        except Err as err:
            raise _host_error(err) from None


def _device(d: Any) -> catalog.Device:
    return catalog.Device(
        name=d.name,
        address=d.address,
        platform=d.platform,
        port=d.port,
        credential=d.credential,
        tags=dict(d.tags),
        vars=catalog.parse_json(d.vars, f"vars of inventory device {d.name!r}"),
    )


def _entry(e: Any) -> catalog.Entry:
    return catalog.Entry(
        collection=e.collection,
        key=e.key,
        version=e.version,
        value=catalog.parse_json(e.value, f"record {e.collection}/{e.key}"),
        written_at=e.written_at,
        writer=e.writer,
    )


class ComponentBackend:
    """Capability calls to the host's imports, their `host-error`s as `HostError`."""

    def log_write(self, level: str, message: str, fields: Optional[str]) -> None:
        wit_log.write(wit_log.Level[level.upper()], message, fields)

    def http_send(self, *, method: str, url: str, headers: List[Tuple[str, str]],
                  body: Optional[bytes], timeout_ms: Optional[int], credential: Optional[str],
                  max_redirects: Optional[int], max_response_bytes: Optional[int]) -> Any:
        request = wit_http.Request(method, url, headers, body, timeout_ms, credential,
                                   max_redirects, max_response_bytes)
        try:
            r = wit_http.send(request)
        except Err as err:
            raise _host_error(err) from None
        return r.status, r.headers, r.body, r.url

    def ssh_connect(self, target: Any, credential: Optional[str], timeout_ms: Optional[int]) -> _Session:
        if target.inventory_name is not None:
            wit_target: Any = wit_ssh.Target_Inventory(target.inventory_name)
        else:
            wit_target = wit_ssh.Target_Address(wit_ssh.Endpoint(target.host, target.port))
        try:
            session = wit_ssh.Session.connect(
                wit_ssh.ConnectOptions(wit_target, credential, timeout_ms)
            )
        except Err as err:
            raise _host_error(err) from None
        return _Session(session)

    def catalog_get_device(self, name: str) -> catalog.Device:
        try:
            return _device(wit_catalog.get_device(name))
        except Err as err:
            raise _host_error(err) from None

    def catalog_find_devices(self, tags: List[Tuple[str, str]]) -> List[catalog.Device]:
        try:
            return [_device(d) for d in wit_catalog.find_devices(tags)]
        except Err as err:
            raise _host_error(err) from None

    def catalog_get(self, collection: str, key: str, version: Optional[int]) -> Optional[catalog.Entry]:
        try:
            found = wit_catalog.get(collection, key, version)
        except Err as err:
            raise _host_error(err) from None
        return None if found is None else _entry(found)

    def catalog_put(self, collection: str, key: str, value: str) -> catalog.Entry:
        try:
            return _entry(wit_catalog.put(collection, key, value))
        except Err as err:
            raise _host_error(err) from None


if IN_COMPONENT:
    backend.set_component_backend(ComponentBackend())
    # The SDK's own frames appear in tracebacks too (rarely, but then they matter).
    import sys as _sys

    for _module in list(_sys.modules.values()):
        _file = getattr(_module, "__file__", None) or ""
        if _module.__name__.startswith("orch_sdk"):
            keep_file(_file)
    _ = json  # keep the json module in the snapshot even if nothing above needed it
