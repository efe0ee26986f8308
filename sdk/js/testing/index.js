// `TestHost`: a stand-in for the orch host in native tests, so actions that use `http`, `ssh`,
// `catalog` and logging run under plain `node --test` with scripted replies, and a test asserts
// on what the action sent. The JavaScript counterpart of the Rust SDK's `orch_sdk::testing` and
// the Python SDK's `orch_sdk.testing`.
//
//     import { TestHost } from "orch-sdk/testing";
//
//     const host = new TestHost();
//     host.http.on("GET", "https://api.example.com/v1/devices/r1").reply(200, { status: "up" });
//     host.http.on("GET", "https://api.example.com/v1/devices/r2").fail("timeout", "no answer");
//     const out = await handler.call("device_status", { device: "r1" }, host.context());
//     assert.equal(host.http.requests[0].credential, "api-token");
//     host.close();
//
// A TestHost answers from its creation until `close()` (the newest open one answers). node's
// test runner runs the tests of a file one at a time unless told otherwise, so a test that
// creates its host and closes it (`t.after(() => host.close())`) sees only its own. Without
// one, a capability call rejects with `HostError("invalid", …)` naming this module; a call the
// host has no script for rejects the same way, naming the request, command or line and the
// script that would answer it.

import { installTestHost, uninstallTestHost } from "../backend.js";
import { Context } from "../context.js";
import { TestCatalog } from "./catalog.js";
import { TestHttp } from "./http.js";
import { TestSsh } from "./ssh.js";

export { SentRequest, HttpRule, TestHttp } from "./http.js";
export { DEFAULT_PROMPT, ElevateRule, ExecRule, LineRule, TestSsh } from "./ssh.js";
export { TestCatalog, WRITTEN_AT, WRITER } from "./catalog.js";
export { Context };

/** A scripted stand-in for the orch host. Script replies through `http`, `ssh` and `catalog`,
 * run the action with `context()`, then read back what the action sent from the same fields. */
export class TestHost {
  constructor() {
    this.http = new TestHttp();
    this.ssh = new TestSsh();
    this.catalog = new TestCatalog();
    const logs = [];
    Object.defineProperty(this, "_logs", { value: logs });
    // What backend.current() hands the capability modules: the parts, answering synchronously
    // as the host's imports do.
    const backend = {
      logWrite: (level, message, fields) => {
        logs.push(Object.freeze({ level, message, fields: fields === undefined ? null : JSON.parse(fields) }));
      },
      httpSend: (request) => this.http.send(request),
      sshConnect: (target, credential) => this.ssh.connect(target, credential),
      catalogGetDevice: (name) => this.catalog.getDevice(name),
      catalogFindDevices: (tags) => this.catalog.findDevices(tags),
      catalogGet: (collection, key, version) => this.catalog.get(collection, key, version),
      catalogPut: (collection, key, value) => this.catalog.put(collection, key, value),
    };
    Object.defineProperty(this, "_backend", { value: backend });
    installTestHost(backend);
  }

  /** A context for the action (`Context.forTests()`: its log lines stay in the context). */
  context() {
    return Context.forTests();
  }

  /** Lines logged outside a context (`log.info(…)` from "orch-sdk"). */
  get logs() {
    return [...this._logs];
  }

  /** Uninstalls the host: capability calls fail again as without one (or reach the host
   * created before this one and still open). */
  close() {
    uninstallTestHost(this._backend);
  }
}

/**
 * Runs every example of every action of `handler` (what `definePack` returned) through
 * `handler.call`, with whatever TestHost is installed, and compares each output with the
 * example's `output` when it gives one. Resolves to the problems found, as strings; an empty
 * array when every example passes (what `orch pack check` will find, and more: it holds the
 * outputs to the values the pack promises, not only to the schema).
 */
export async function checkExamples(handler) {
  const problems = [];
  for (const action of handler.actions.values()) {
    for (const [i, example] of action.examples.entries()) {
      const subject = `action ${JSON.stringify(action.name)}, example ${i}`;
      let output;
      try {
        output = await handler.call(action.name, example.input);
      } catch (err) {
        problems.push(`${subject}: failed with ${err.code}: ${err.message}`);
        continue;
      }
      if ("output" in example && JSON.stringify(canonical(output)) !== JSON.stringify(canonical(example.output))) {
        problems.push(`${subject}: returned ${JSON.stringify(output)}, the example says ${JSON.stringify(example.output)}`);
      }
    }
  }
  return problems;
}

// Objects with their keys sorted, so two JSON values compare by content.
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical(value[k])]),
    );
  }
  return value;
}
