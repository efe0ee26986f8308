"""The data catalog (the `catalog` import): inventory devices, and versioned records such as
configurations, within the collections the operator granted (`catalog:inventory`,
`catalog:configs`) and the byte budgets the operator set (a write past them fails with
`quota_exceeded`).

    from orch_sdk import catalog

    r1 = catalog.get_device("R1")
    lab = catalog.find_devices(site="lab")
    golden = catalog.get("configs", "R1/golden")        # None when there is no such record
    entry = catalog.put("configs", "R1/backup", {"text": config})
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Optional

from . import backend
from .errors import HostError


@dataclasses.dataclass
class Device:
    """A device or host of the inventory.

    Attributes:
        name: Unique name (`R1`).
        address: Host name or IP address.
        platform: Platform (`cisco_ios`, `arista_eos`, `linux`, ...).
        port: SSH port.
        credential: Name of the vault credential used to log in, if any.
        tags: Tags (`{"site": "lab"}`).
        vars: Free-form variables.
    """

    name: str
    address: str
    platform: str = ""
    port: int = 22
    credential: Optional[str] = None
    tags: Dict[str, str] = dataclasses.field(default_factory=dict)
    vars: Dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Entry:
    """One version of a record.

    Attributes:
        collection: Collection (`configs`).
        key: Key in the collection (`R1/golden`).
        version: Version, from 1.
        value: The document (parsed JSON).
        written_at: When written (RFC 3339).
        writer: Who wrote it (`run 0193... task store_golden`).
    """

    collection: str
    key: str
    version: int
    value: Any
    written_at: str
    writer: str


def get_device(name: str) -> Device:
    """The inventory device called `name` (`not_found` when there is none)."""
    return backend.current(f"catalog.get_device({name!r})").catalog_get_device(name)


def find_devices(tags: Optional[Dict[str, str]] = None, **more: str) -> List[Device]:
    """Devices having every tag given (`find_devices(site="lab")`), all devices without tags,
    by name."""
    wanted = {**(tags or {}), **more}
    pairs = sorted(wanted.items())
    return backend.current("catalog.find_devices").catalog_find_devices(pairs)


def get(collection: str, key: str, version: Optional[int] = None) -> Optional[Entry]:
    """The latest version of a record (or `version`), None when it does not exist."""
    call = f"catalog.get({collection!r}, {key!r})"
    return backend.current(call).catalog_get(collection, key, version)


def put(collection: str, key: str, value: Any) -> Entry:
    """Writes `value` (anything JSON-serialisable) as a new version of a record. A retry of the
    same step (same idempotency key) gets back the version it already wrote."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise HostError("invalid", f"the value for record {key!r} is not JSON: {err}") from None
    return backend.current(f"catalog.put({collection!r}, {key!r})").catalog_put(
        collection, key, text
    )


def parse_json(text: str, what: str) -> Any:
    """A JSON document from the host; one that does not parse is a protocol error."""
    try:
        return json.loads(text)
    except ValueError as err:
        raise HostError("protocol", f"{what} is not JSON: {err}") from None
