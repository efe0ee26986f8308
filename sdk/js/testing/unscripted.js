// The error of a capability call the installed test host has no script for: names the call and
// the script that would answer it.

import { HostError } from "../errors.js";

export function unscripted(call, fix) {
  return new HostError("invalid", `the test host has no reply for ${call}; script one with ${fix}`);
}
