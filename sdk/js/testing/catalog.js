// The test host's catalog: inventory devices and versioned records in memory, with the host's
// rules for versions (each write a new version, from 1) and scripted failures.

import { HostError } from "../errors.js";

/** The time every test write carries: fixed, so tests compare whole entries. */
export const WRITTEN_AT = "2026-01-01T00:00:00Z";
/** The writer every test write carries, in the host's shape. */
export const WRITER = "run test-run task test-task";

const copy = (value) => structuredClone(value);

/** The catalog side of a `TestHost`: every collection is readable and writable unless `fail`
 * says otherwise. */
export class TestCatalog {
  constructor() {
    Object.defineProperties(this, {
      _devices: { value: new Map() },
      _records: { value: new Map() },
      _failures: { value: new Map() },
      _writes: { value: [] },
    });
  }

  /** Adds (or replaces) an inventory device: `{name, address, port?, platform?, credential?,
   * tags?, vars?}`. */
  addDevice(device) {
    const full = { port: 22, platform: "", credential: null, tags: {}, vars: {}, ...device };
    this._devices.set(full.name, full);
    return this;
  }

  /** Writes a version of a record before the action runs (not counted in `writes`). */
  record(collection, key, value) {
    this.store(collection, key, value);
    return this;
  }

  /** Makes every call on `collection` (`inventory` for devices) fail with `code`. */
  fail(collection, code, message) {
    this._failures.set(collection, new HostError(code, message));
    return this;
  }

  /** The latest version of a record, for asserting on what the action wrote (null if none). */
  latest(collection, key) {
    const versions = this._records.get(recordKey(collection, key));
    return versions && versions.length ? copy(versions[versions.length - 1]) : null;
  }

  /** Every version the action wrote, in order. */
  get writes() {
    return this._writes.map(copy);
  }

  check(collection) {
    const err = this._failures.get(collection);
    if (err) throw new HostError(err.code, err.message);
  }

  getDevice(name) {
    this.check("inventory");
    const device = this._devices.get(name);
    if (!device) {
      throw new HostError(
        "not_found",
        `device ${JSON.stringify(name)} is not in the test host's inventory; add it with host.catalog.addDevice({name: ${JSON.stringify(name)}, ...})`,
      );
    }
    return copy(device);
  }

  findDevices(tags) {
    this.check("inventory");
    return [...this._devices.values()]
      .filter((d) => tags.every(([k, v]) => d.tags[k] === v))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(copy);
  }

  get(collection, key, version) {
    this.check(collection);
    const versions = this._records.get(recordKey(collection, key)) ?? [];
    if (version === undefined) return versions.length ? copy(versions[versions.length - 1]) : null;
    const found = versions.find((e) => e.version === Number(version));
    return found ? copy(found) : null;
  }

  put(collection, key, value) {
    this.check(collection);
    const entry = this.store(collection, key, JSON.parse(value));
    this._writes.push(copy(entry));
    return copy(entry);
  }

  store(collection, key, value) {
    const id = recordKey(collection, key);
    const versions = this._records.get(id) ?? [];
    this._records.set(id, versions);
    const entry = { collection, key, version: versions.length + 1, value: copy(value), writtenAt: WRITTEN_AT, writer: WRITER };
    versions.push(entry);
    return entry;
  }
}

function recordKey(collection, key) {
  return JSON.stringify([collection, key]);
}
