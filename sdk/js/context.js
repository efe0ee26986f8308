// `Context`: where an invocation comes from (run, task, attempt, idempotency key) and the
// action's structured logging into the run's record (the `log` import); and `log`, the same
// logging for code that has no context at hand.
//
// Logging never fails: a line the host cannot take is the host's to count, and an action must
// not fail because of a log line. Fields that JSON cannot represent are logged as text.

import { current, hasBackend } from "./backend.js";
import { jsonReplacer } from "./errors.js";

/** The contract's log levels, least severe first. */
export const LEVELS = Object.freeze(["trace", "debug", "info", "warn", "error"]);

/**
 * Passed to every action: who called, and logging.
 *
 * - `runId`: the workflow run (empty for `orch action run`);
 * - `task`: the task of the run (empty for `orch action run`);
 * - `attempt`: attempt number, from 1; retries of the same step increase it;
 * - `idempotencyKey`: stable across every attempt of the same logical step: use it to make side
 *   effects idempotent (as a ticket's correlation id, for example);
 * - `log.trace/debug/info/warn/error(message, fields)`: a structured line in the run's record.
 */
export class Context {
  /**
   * @param {{runId?: string, task?: string, attempt?: number, idempotencyKey?: string}} [call]
   * @param {{keepLogs?: boolean}} [options] keepLogs: keep lines in `logs` instead of sending them
   */
  constructor({ runId = "", task = "", attempt = 1, idempotencyKey = "" } = {}, { keepLogs = false } = {}) {
    this.runId = runId;
    this.task = task;
    this.attempt = attempt;
    this.idempotencyKey = idempotencyKey;
    // null: lines go to the host (or a TestHost, or stderr natively).
    const kept = keepLogs ? [] : null;
    Object.defineProperty(this, "_kept", { value: kept });
    const line = (level) => (message, fields) => {
      if (kept !== null) {
        kept.push(Object.freeze({ level, message: String(message), fields: fields === undefined ? null : plain(fields) }));
      } else {
        write(level, message, fields);
      }
    };
    /** Structured logging: `ctx.log.info("backed up", { device: "R1", bytes: 1234 })`. */
    this.log = Object.freeze(Object.fromEntries(LEVELS.map((level) => [level, line(level)])));
  }

  /** A context for native tests: run `test-run`, task `test-task`, attempt 1, key `test-key`;
   * its log lines are kept in `logs`. */
  static forTests() {
    return new Context(
      { runId: "test-run", task: "test-task", attempt: 1, idempotencyKey: "test-key" },
      { keepLogs: true },
    );
  }

  /** The lines logged through a `forTests()` context (empty for any other): `{level, message,
   * fields}`, fields as plain JSON data or null. */
  get logs() {
    return [...(this._kept ?? [])];
  }
}

/** Logs one line outside a context (from a helper function, say). */
export function write(level, message, fields) {
  const text = fields === undefined || fields === null ? undefined : fieldsJson(fields);
  if (!hasBackend()) {
    // Natively without a test host: logging cannot fail, so show the line instead.
    console.error(`orch log ${level}: ${message}${text ? ` ${text}` : ""}`);
    return;
  }
  try {
    current("log").logWrite(LEVELS.includes(level) ? level : "info", String(message), text);
  } catch {
    // The host counts lines past its cap; nothing an action could do about a refused line.
  }
}

/** `log.info(message, fields)` and the other levels, for code without a context. */
export const log = Object.freeze(
  Object.fromEntries(LEVELS.map((level) => [level, (message, fields) => write(level, message, fields)])),
);

function fieldsJson(fields) {
  try {
    return JSON.stringify(fields, jsonReplacer);
  } catch (err) {
    return JSON.stringify({ unserialisable_fields: String(err?.message ?? err) });
  }
}

function plain(fields) {
  const text = fieldsJson(fields);
  return text === undefined ? null : JSON.parse(text);
}
