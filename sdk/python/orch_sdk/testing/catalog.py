"""The test host's catalog: inventory devices and versioned records in memory, with the host's
rules for versions (each write a new version, from 1) and scripted failures."""

from __future__ import annotations

import copy
import json
from typing import Any, Dict, List, Optional, Tuple

from ..catalog import Device, Entry
from ..errors import HostError

#: The time every test write carries: fixed, so tests compare whole entries.
WRITTEN_AT = "2026-01-01T00:00:00Z"
#: The writer every test write carries, in the host's shape.
WRITER = "run test-run task test-task"


class TestCatalog:
    """The catalog side of a `TestHost`: every collection is readable and writable unless
    `fail` says otherwise."""

    __test__ = False

    def __init__(self) -> None:
        self._devices: Dict[str, Device] = {}
        self._records: Dict[Tuple[str, str], List[Entry]] = {}
        self._failures: Dict[str, HostError] = {}
        self._writes: List[Entry] = []

    def add_device(self, device: Device) -> "TestCatalog":
        """Adds (or replaces) an inventory device."""
        self._devices[device.name] = device
        return self

    def record(self, collection: str, key: str, value: Any) -> "TestCatalog":
        """Writes a version of a record before the action runs (not counted in `writes`)."""
        self._store(collection, key, value)
        return self

    def fail(self, collection: str, code: str, message: str) -> "TestCatalog":
        """Makes every call on `collection` (`inventory` for devices) fail with `code`."""
        self._failures[collection] = HostError(code, message)
        return self

    def latest(self, collection: str, key: str) -> Optional[Entry]:
        """The latest version of a record, for asserting on what the action wrote."""
        versions = self._records.get((collection, key))
        return versions[-1] if versions else None

    @property
    def writes(self) -> List[Entry]:
        """Every version the action wrote, in order."""
        return list(self._writes)

    def _check(self, collection: str) -> None:
        err = self._failures.get(collection)
        if err is not None:
            raise HostError(err.code, err.message)

    def _get_device(self, name: str) -> Device:
        self._check("inventory")
        device = self._devices.get(name)
        if device is None:
            raise HostError(
                "not_found",
                f"device {name!r} is not in the test host's inventory; add it with "
                f"host.catalog.add_device(Device({name!r}, ...))",
            )
        return copy.deepcopy(device)

    def _find_devices(self, tags: List[Tuple[str, str]]) -> List[Device]:
        self._check("inventory")
        return [
            copy.deepcopy(d)
            for name, d in sorted(self._devices.items())
            if all(d.tags.get(k) == v for k, v in tags)
        ]

    def _get(self, collection: str, key: str, version: Optional[int]) -> Optional[Entry]:
        self._check(collection)
        versions = self._records.get((collection, key), [])
        if version is None:
            return copy.deepcopy(versions[-1]) if versions else None
        return next((copy.deepcopy(e) for e in versions if e.version == version), None)

    def _put(self, collection: str, key: str, value: str) -> Entry:
        self._check(collection)
        entry = self._store(collection, key, json.loads(value))
        self._writes.append(entry)
        return copy.deepcopy(entry)

    def _store(self, collection: str, key: str, value: Any) -> Entry:
        versions = self._records.setdefault((collection, key), [])
        entry = Entry(collection, key, len(versions) + 1, copy.deepcopy(value), WRITTEN_AT, WRITER)
        versions.append(entry)
        return entry
