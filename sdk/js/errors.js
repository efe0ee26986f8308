// The two error types of a pack: `ActionError`, what an action reports to the host, and
// `HostError`, what a capability (http, ssh, catalog) reports to the action; and `unhandled`,
// the action error of anything else an action throws.
//
// Why the SDK catches everything: componentize-js lowers a value thrown out of `invoke` as the
// `err` of `result<string, action-error>`, and a plain `Error` is not an action-error record, so
// the component traps ("expected a string, received [undefined]") and the operator never sees
// the message. Every escape therefore becomes data here, bounded, before it reaches the host.
//
// A `HostError` that escapes an action becomes an `ActionError` with the same code, retryable
// for `timeout` and `unreachable` only, as in the Rust and Python SDKs: a refusal or a bad
// request fails the same way every time, while a timeout or an unreachable peer may answer later.

/** Every code of the contract's `error-code` enum (types.wit), in snake_case. */
export const HOST_ERROR_CODES = Object.freeze([
  "denied",
  "invalid",
  "not_found",
  "unreachable",
  "timeout",
  "auth_failed",
  "host_key",
  "too_large",
  "protocol",
  "closed",
  "quota_exceeded",
]);

/** Host error codes worth retrying. */
export const RETRYABLE_HOST_ERRORS = Object.freeze(["timeout", "unreachable"]);

/** The code of an input that is not JSON, or not of the action's input schema. */
export const INVALID_INPUT = "invalid_input";
/** The code of an output that is not JSON, or not of the action's output schema. */
export const INVALID_OUTPUT = "invalid_output";
/** The code of an action name the pack does not have. */
export const UNKNOWN_ACTION = "unknown_action";
/** The code of anything other than an ActionError or a HostError thrown out of an action. */
export const UNHANDLED_EXCEPTION = "unhandled_exception";

/** Bound on an error's message, as the host stores and shows it: the stack of a deep
 * recursion must not turn into megabytes in the run's record. */
export const MAX_MESSAGE = 4096;
/** Bound on an error's details document, for the same reason. */
export const MAX_DETAILS = 4096;
/** How many stack frames (the innermost) an unhandled exception keeps. A JavaScript frame is one
 * line; the Python SDK keeps 12 traceback lines, which are 6 frames of two lines each. */
export const STACK_LINES = 16;

// Brands instead of `instanceof` alone: a pack whose tests load the SDK through two paths (a
// symlink, a copy) still has its errors recognised.
const ACTION_ERROR = Symbol.for("orch-sdk.ActionError");
const HOST_ERROR = Symbol.for("orch-sdk.HostError");

/**
 * An action's failure, as the pack reports it: throw it from an action.
 *
 * `code` is snake_case (`not_found`, `auth_failed`); workflows branch on it. `retryable` says
 * whether trying again later may succeed. `details` is any JSON-serialisable value.
 */
export class ActionError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{retryable?: boolean, details?: unknown}} [options]
   */
  constructor(code, message, { retryable = false, details = undefined } = {}) {
    super(message);
    this.name = "ActionError";
    this.code = code;
    this.retryable = Boolean(retryable);
    this.details = details;
  }

  /** An `invalid_input` error (not retryable): the input cannot work, whatever the time. */
  static invalidInput(message, details = undefined) {
    return new ActionError(INVALID_INPUT, message, { details });
  }

  /** The details as the contract carries them: a JSON document, or undefined (componentize-js
   * lowers `option<string>` from a string or undefined). */
  detailsJson() {
    if (this.details === undefined || this.details === null) return undefined;
    let text;
    try {
      text = JSON.stringify(this.details, jsonReplacer);
    } catch (err) {
      text = JSON.stringify({ unserialisable_details: String(err?.message ?? err) });
    }
    if (text === undefined) return undefined; // a function or a symbol: nothing to carry
    if (utf8Length(text) > MAX_DETAILS) {
      return JSON.stringify({ truncated: bound(text, MAX_DETAILS - 64) });
    }
    return text;
  }

  /** The `action-error` record of the contract (camelCase fields, as componentize-js wants). */
  toRecord() {
    return {
      code: String(this.code),
      message: bound(String(this.message)),
      retryable: this.retryable,
      details: this.detailsJson(),
    };
  }

  get [ACTION_ERROR]() {
    return true;
  }
}

/**
 * A capability's failure, as the host reports it (`host-error` in types.wit).
 *
 * `code` is one of `HOST_ERROR_CODES` (`denied`, `timeout`, `not_found`, ...). Catch it to handle
 * a failure; left uncaught, the SDK reports it as an `ActionError` with the same code.
 */
export class HostError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = "HostError";
    this.code = code;
  }

  /** Whether trying again later may succeed: only for `timeout` and `unreachable`. */
  get retryable() {
    return RETRYABLE_HOST_ERRORS.includes(this.code);
  }

  /** The action error this becomes when it escapes an action. */
  toActionError() {
    return new ActionError(this.code, this.message, { retryable: this.retryable });
  }

  toString() {
    return `HostError: ${this.code}: ${this.message}`;
  }

  get [HOST_ERROR]() {
    return true;
  }
}

/** Whether `value` is an ActionError (of any copy of this SDK). */
export function isActionError(value) {
  return value instanceof ActionError || Boolean(value && value[ACTION_ERROR] === true);
}

/** Whether `value` is a HostError (of any copy of this SDK). */
export function isHostError(value) {
  return value instanceof HostError || Boolean(value && value[HOST_ERROR] === true);
}

/** Whatever an action threw, as the ActionError the host receives. */
export function toActionError(thrown) {
  if (isActionError(thrown)) return thrown;
  if (isHostError(thrown)) {
    return new ActionError(thrown.code, thrown.message, {
      retryable: RETRYABLE_HOST_ERRORS.includes(thrown.code),
    });
  }
  return unhandled(thrown);
}

// The SDK function that calls an action (pack.js): frames from it outwards are the SDK's and
// the bindings', never the pack's, so the stack shown stops there.
export const RUNNER_FRAME = "orchRunAction";

/**
 * The action error of a value an action threw that is neither an ActionError nor a HostError:
 * `unhandled_exception`, not retryable, whose message is `Name: message` followed by the
 * innermost stack frames (the pack's, not the SDK's or the bindings'), all within `MAX_MESSAGE`
 * bytes; `details` holds `{"exception", "message", "stack"}`, the stack as a list of frames.
 */
export function unhandled(thrown) {
  const { kind, text } = describeThrown(thrown);
  const head = bound(text ? `${kind}: ${text}` : kind, MAX_MESSAGE / 4);
  const frames = stackFrames(thrown);
  // The innermost frames that fit: the place the error came from matters most.
  const kept = [];
  let budget = MAX_MESSAGE - utf8Length(head) - 96;
  for (const frame of frames.slice(0, STACK_LINES)) {
    const line = bound(frame, 256);
    const cost = utf8Length(line) + 3;
    if (cost > budget) break;
    kept.push(line);
    budget -= cost;
  }
  const omitted = frames.length - kept.length;
  let message = head;
  const cause = thrown instanceof Error && thrown.cause !== undefined ? describeThrown(thrown.cause) : null;
  if (cause) message += bound(`\nCaused by ${cause.kind}: ${cause.text}`, 512);
  if (kept.length > 0) {
    message += omitted > 0 ? `\nStack (innermost first, ${omitted} outer frames omitted):` : "\nStack (innermost first):";
    message += kept.map((line) => `\n  ${line}`).join("");
  }
  const details = { exception: kind, message: bound(text, 1024), stack: kept };
  if (cause) details.cause = bound(`${cause.kind}: ${cause.text}`, 512);
  return new ActionError(UNHANDLED_EXCEPTION, bound(message), { details });
}

function describeThrown(thrown) {
  if (thrown instanceof Error || (thrown && typeof thrown === "object" && typeof thrown.stack === "string")) {
    // A subclass that did not set `name` still shows as itself (`class ParseError extends Error`).
    let kind = typeof thrown.name === "string" && thrown.name ? thrown.name : "Error";
    const ctor = thrown.constructor?.name;
    if (kind === "Error" && ctor && ctor !== "Error" && ctor !== "Object") kind = ctor;
    return { kind, text: String(thrown.message ?? "") };
  }
  // `throw "text"`, `throw 42`, `throw {…}`: no stack to show; say what was thrown.
  const type = thrown === null ? "null" : Array.isArray(thrown) ? "array" : typeof thrown;
  let text;
  try {
    text = typeof thrown === "string" ? thrown : JSON.stringify(thrown, jsonReplacer) ?? String(thrown);
  } catch {
    text = String(thrown);
  }
  return { kind: `uncaught ${type} (not an Error, so no stack)`, text: text ?? "" };
}

/** The frames of an error's stack, innermost first, without the SDK's and the bindings'. Knows
 * SpiderMonkey's `fn@file:line:col` lines (inside a component) and V8's `    at fn (file:…)`
 * lines below a `Name: message` header (node). */
export function stackFrames(thrown) {
  const stack = thrown && typeof thrown === "object" ? thrown.stack : undefined;
  if (typeof stack !== "string" || !stack) return [];
  let lines = stack.split("\n");
  const v8 = lines.some((line) => /^\s+at /.test(line));
  lines = v8 ? lines.filter((line) => /^\s+at /.test(line)).map((line) => line.trim()) : lines.map((l) => l.trim()).filter(Boolean);
  const frames = [];
  for (const line of lines) {
    if (line.includes(RUNNER_FRAME)) break;
    // componentize-js's generated bindings (`…/sources/initializer.js`): their path is a
    // temporary directory of the build machine and says nothing about the pack.
    if (/initializer\.js:\d+/.test(line)) continue;
    frames.push(line);
  }
  return frames;
}

/** `text` cut to at most `limit` UTF-8 bytes, saying so when it was cut. */
export function bound(text, limit = MAX_MESSAGE) {
  const data = encoder.encode(text);
  if (data.length <= limit) return text;
  const marker = " … (truncated)";
  let end = Math.max(0, limit - utf8Length(marker));
  // Back off to the start of a UTF-8 sequence: never cut a character in two.
  while (end > 0 && (data[end] & 0xc0) === 0x80) end -= 1;
  return decoder.decode(data.subarray(0, end)) + marker;
}

export function utf8Length(text) {
  return encoder.encode(text).length;
}

/** JSON.stringify's replacer for values JSON has no form for: a BigInt as its decimal digits,
 * an Error as `Name: message`. */
export function jsonReplacer(_key, value) {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return value;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
