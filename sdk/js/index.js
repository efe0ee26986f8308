// Write orch automation packs in JavaScript.
//
// A pack is a WebAssembly component built with componentize-js against the WIT world
// `orch:pack/pack`. This module hides the bindings: a pack author declares actions over JSON
// Schemas with `definePack` and exports the result as `handler`; the SDK dispatches each call,
// turns every failure into an action error, and offers logging and the host's http, ssh and
// catalog calls. README.md beside this file walks from an empty directory to an installed pack.
//
// Nothing here imports the host's interfaces (`orch:pack/*`): node cannot resolve them, and
// this module is what native tests import. `component.js` does, and only the build includes it.

export { definePack, validate, DefinitionError } from "./pack.js";
export { Context, log } from "./context.js";
export {
  ActionError,
  HostError,
  HOST_ERROR_CODES,
  RETRYABLE_HOST_ERRORS,
  INVALID_INPUT,
  INVALID_OUTPUT,
  UNKNOWN_ACTION,
  UNHANDLED_EXCEPTION,
  isActionError,
  isHostError,
} from "./errors.js";
export * as http from "./http.js";
export * as ssh from "./ssh.js";
export * as catalog from "./catalog.js";
