// The data catalog (the `catalog` import): inventory devices, and versioned records such as
// configurations, within the collections the operator granted (`catalog:inventory`,
// `catalog:configs`) and the byte budgets the operator set (a write past them fails with
// `quota_exceeded`).
//
//     import { catalog } from "orch-sdk";
//
//     const r1 = await catalog.getDevice("R1");
//     const lab = await catalog.findDevices({ site: "lab" });
//     const golden = await catalog.get("configs", "R1/golden");   // null when there is none
//     const entry = await catalog.put("configs", "R1/backup", { text: config });
//
// Devices come as `{name, address, port, platform, credential, tags, vars}` (tags and vars as
// objects); records as `{collection, key, version, value, writtenAt, writer}` (value parsed,
// version a number).

import { current } from "./backend.js";
import { HostError, jsonReplacer } from "./errors.js";

/** The inventory device called `name` (HostError `not_found` when there is none). */
export async function getDevice(name) {
  return current(`catalog.getDevice(${JSON.stringify(name)})`).catalogGetDevice(String(name));
}

/** Devices having every tag given (`findDevices({site: "lab"})`), all devices without tags, by
 * name. */
export async function findDevices(tags = {}) {
  const pairs = Object.entries(tags)
    .map(([k, v]) => [String(k), String(v)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return current("catalog.findDevices").catalogFindDevices(pairs);
}

/** The latest version of a record (or `version`), null when it does not exist. */
export async function get(collection, key, { version } = {}) {
  const call = `catalog.get(${JSON.stringify(collection)}, ${JSON.stringify(key)})`;
  return current(call).catalogGet(String(collection), String(key), version ?? undefined);
}

/** Writes `value` (anything JSON-serialisable) as a new version of a record. A retry of the
 * same step (same idempotency key) gets back the version it already wrote. */
export async function put(collection, key, value) {
  let text;
  try {
    text = JSON.stringify(value, jsonReplacer);
  } catch (err) {
    throw new HostError("invalid", `the value for record ${JSON.stringify(key)} is not JSON: ${err.message}`);
  }
  if (text === undefined) throw new HostError("invalid", `the value for record ${JSON.stringify(key)} is not JSON`);
  return current(`catalog.put(${JSON.stringify(collection)}, ${JSON.stringify(key)})`).catalogPut(String(collection), String(key), text);
}

/** A JSON document from the host; one that does not parse is a protocol error. */
export function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HostError("protocol", `${what} is not JSON: ${err.message}`);
  }
}
