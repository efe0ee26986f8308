// Where capability calls go: the real host inside a component, a `TestHost` in native tests, and
// otherwise nowhere (an `invalid` HostError saying how to test, never a crash).
//
// Why a backend at all: the host's interfaces are ES modules named `orch:pack/http@0.1.0` and the
// like, which only componentize-js can resolve. Node cannot import them, so no module a test
// imports may import them either. `component.js` is the one module that does, and only the
// build includes it (esbuild's `--inject`); it installs the component backend here when the
// component starts. `testing/` installs a TestHost here. The capability modules (`http.js`,
// `ssh.js`, `catalog.js`, logging in `context.js`) only ever call `current()`.
//
// A backend is synchronous, like the contract's calls; the capability modules wrap it in
// promises.

import { HostError } from "./errors.js";

let component = null;
// Test hosts installed, newest last: the newest answers, and closing it uncovers the one before.
const testHosts = [];

/** Installs the host's imports (called by `component.js` inside a component). */
export function setComponentBackend(backend) {
  component = backend;
}

/** Makes `host` (a TestHost's backend) answer capability calls until `uninstallTestHost`. */
export function installTestHost(host) {
  testHosts.push(host);
}

export function uninstallTestHost(host) {
  const at = testHosts.lastIndexOf(host);
  if (at >= 0) testHosts.splice(at, 1);
}

/** Whether a backend (component or test host) is installed. */
export function hasBackend() {
  return testHosts.length > 0 || component !== null;
}

/** The backend that answers `call` (such as `GET https://…`), or the HostError of a native run
 * without a test host. */
export function current(call) {
  if (testHosts.length > 0) return testHosts[testHosts.length - 1];
  if (component !== null) return component;
  throw new HostError(
    "invalid",
    `no orch host to answer ${call}: outside a component there is no host, and no TestHost is ` +
      `installed; use TestHost from "orch-sdk/testing" (\`const host = new TestHost()\` in the ` +
      `test) and script the reply`,
  );
}
