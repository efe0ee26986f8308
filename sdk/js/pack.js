// `definePack`: a pack's definition (name, version, destinations, actions with their JSON
// Schemas) and the dispatch of one call as the host's `invoke` makes it: JSON in, the action,
// JSON out, and every failure as an action error; `validate`, the checks of `orch pack add`.
//
// What `definePack` returns is the pack's `handler` export, as componentize-js wants it: an
// object whose `describe` and `invoke` are plain closures (the generated bindings call them
// detached from the object, so they must not need `this`). It also carries `call` and
// `validate` for native tests.
//
// Schemas are serialised, and examples checked against them, when the pack is defined: at
// import, so inside a component at build time (componentize-js evaluates the module then and
// snapshots it). A wrong example fails the pack's tests and its build, never a run.

import { Context } from "./context.js";
import {
  ActionError,
  INVALID_INPUT,
  INVALID_OUTPUT,
  UNKNOWN_ACTION,
  jsonReplacer,
  toActionError,
  unhandled,
} from "./errors.js";
import * as rules from "./rules.js";
import { DRAFT, checkValue } from "./schema.js";

/**
 * @typedef {object} ActionDefinition
 * @property {string} description One sentence saying what the action does.
 * @property {object|boolean} input JSON Schema (draft 2020-12) of the input.
 * @property {object|boolean} [output] JSON Schema of the output (default: anything).
 * @property {boolean} [idempotent] Running it twice with the same input and idempotency key is
 *   harmless (default false).
 * @property {{input: unknown, output?: unknown}[]} [examples] Inputs `orch pack check` runs (in
 *   the input schema's `examples`), with the outputs the pack's tests expect.
 * @property {(input: any, ctx: Context) => unknown} run The action: sync or async; returns the
 *   output (any JSON value) or throws.
 */

/**
 * @typedef {object} PackDefinition
 * @property {string} name Lowercase letters, digits, `_` and `-`, starting with a letter.
 * @property {string} version A semantic version (`1.0.0`).
 * @property {string} [vendor]
 * @property {string} [description]
 * @property {{kind: string, pattern: string, reason: string}[]} [destinations]
 * @property {Record<string, ActionDefinition>} actions By name, in the order shown.
 */

/**
 * Defines a pack; export the result as `handler`:
 *
 *     export const handler = definePack({ name: "hello", version: "1.0.0", actions: { … } });
 *
 * Throws a TypeError for a definition that cannot work (an action without `run`, a schema that
 * is not a JSON Schema object, an example its schema refuses); `validate(handler)` lists what
 * `orch pack add` would refuse.
 *
 * @param {PackDefinition} definition
 */
export function definePack(definition) {
  if (!definition || typeof definition !== "object") throw new TypeError("definePack takes the pack's definition object");
  const { name, version, vendor = "", description = "", destinations = [], actions = {} } = definition;
  if (!actions || typeof actions !== "object" || Array.isArray(actions)) {
    throw new TypeError(`pack ${JSON.stringify(name)}: \`actions\` is an object of actions by name`);
  }
  if (!Array.isArray(destinations)) {
    throw new TypeError(`pack ${JSON.stringify(name)}: \`destinations\` is an array of {kind, pattern, reason}`);
  }
  const declared = new Map();
  for (const [actionName, action] of Object.entries(actions)) {
    declared.set(actionName, defineAction(actionName, action));
  }
  const info = Object.freeze({
    name: String(name ?? ""),
    version: String(version ?? ""),
    vendor: String(vendor),
    description: String(description),
    destinations: Object.freeze(
      destinations.map((d) =>
        Object.freeze({ kind: String(d?.kind ?? ""), pattern: String(d?.pattern ?? ""), reason: String(d?.reason ?? "") }),
      ),
    ),
  });

  /** The contract's `describe`: the pack-info record, camelCase as componentize-js wants. */
  const describe = () => ({
    name: info.name,
    version: info.version,
    vendor: info.vendor,
    description: info.description,
    actions: [...declared.values()].map((a) => ({
      name: a.name,
      description: a.description,
      inputSchema: a.inputSchemaJson,
      outputSchema: a.outputSchemaJson,
      idempotent: a.idempotent,
    })),
    destinations: info.destinations.map((d) => ({ kind: d.kind, pattern: d.pattern, reason: d.reason })),
  });

  /**
   * The contract's `invoke`: never throws and never rejects. componentize-js 0.23 lowers a
   * returned `{tag: "ok" | "err", val}` as the `result` itself (and a thrown `Error` as a trap),
   * so the outcome is returned, the error as the `action-error` record.
   */
  const invoke = async (action, input, context) => {
    try {
      const ctx = new Context({
        runId: context?.runId ?? "",
        task: context?.task ?? "",
        attempt: context?.attempt ?? 1,
        idempotencyKey: context?.idempotencyKey ?? "",
      });
      const found = lookup(action);
      let value;
      try {
        value = JSON.parse(input);
      } catch (err) {
        throw ActionError.invalidInput(`the input of ${JSON.stringify(action)} is not JSON: ${err.message}`);
      }
      // The host validated the input against the schema already: no second check here.
      const output = await orchRunAction(found, value, ctx);
      return { tag: "ok", val: encodeOutput(found, output) };
    } catch (err) {
      let error;
      try {
        error = toActionError(err);
      } catch (bug) {
        error = unhandled(bug); // a bug of the SDK itself: still data, never a trap
      }
      return { tag: "err", val: error.toRecord() };
    }
  };

  /**
   * Runs `action` on `input` (a JSON value) as the host would, for native tests: the input is
   * checked against the input schema (`invalid_input`, naming the path), the action runs with
   * `ctx` (default `Context.forTests()`), and the output is checked against the output schema
   * (`invalid_output`). Resolves to the output as JSON data; rejects with an ActionError only.
   */
  const call = async (action, input, ctx = Context.forTests()) => {
    try {
      const found = lookup(action);
      let value;
      try {
        value = input === undefined ? undefined : JSON.parse(JSON.stringify(input, jsonReplacer));
      } catch (err) {
        throw ActionError.invalidInput(`the input of ${JSON.stringify(action)} is not JSON: ${err.message}`);
      }
      const inputProblem = checkValue(found.input, value);
      if (inputProblem) {
        throw new ActionError(
          INVALID_INPUT,
          `invalid input for ${JSON.stringify(action)} at ${inputProblem.path || "the top"}: ${inputProblem.problem}`,
          { details: inputProblem },
        );
      }
      const output = JSON.parse(encodeOutput(found, await orchRunAction(found, value, ctx)));
      const outputProblem = checkValue(found.output, output);
      if (outputProblem) {
        throw new ActionError(
          INVALID_OUTPUT,
          `the output of ${JSON.stringify(action)} does not match its schema at ${outputProblem.path || "the top"}: ${outputProblem.problem}`,
          { details: outputProblem },
        );
      }
      return output;
    } catch (err) {
      throw toActionError(err);
    }
  };

  function lookup(action) {
    const found = declared.get(action);
    if (found) return found;
    const names = [...declared.keys()];
    throw new ActionError(
      UNKNOWN_ACTION,
      `pack ${JSON.stringify(info.name)} has no action ${JSON.stringify(action)}; its actions are: ${names.join(", ")}`,
      { details: { action, actions: names } },
    );
  }

  const handler = { describe, invoke };
  // Not enumerable: the export is the contract's two functions; the rest is for tests.
  Object.defineProperties(handler, {
    info: { value: info },
    actions: { value: declared },
    call: { value: call },
    validate: { value: () => validate(handler) },
  });
  return Object.freeze(handler);
}

/**
 * Calls the action. Its name (`RUNNER_FRAME`) is how `unhandled` finds where the pack's frames
 * end in a stack: keep it, and keep every call of an action going through it. (A bundler that
 * renames it on a clash appends a digit, which the match allows.)
 */
async function orchRunAction(action, input, ctx) {
  return await action.run(input, ctx);
}

function encodeOutput(action, output) {
  let text;
  try {
    // An action that returns nothing outputs null.
    text = JSON.stringify(output === undefined ? null : output);
  } catch (err) {
    throw new ActionError(INVALID_OUTPUT, `the output of ${JSON.stringify(action.name)} is not JSON: ${err.message}`);
  }
  if (text === undefined) {
    throw new ActionError(INVALID_OUTPUT, `the output of ${JSON.stringify(action.name)} is not JSON: a ${typeof output}`);
  }
  return text;
}

function defineAction(name, action) {
  const subject = `action ${JSON.stringify(name)}`;
  if (!action || typeof action !== "object") throw new TypeError(`${subject}: define it as {description, input, output, run}`);
  if (typeof action.run !== "function") throw new TypeError(`${subject}: \`run\` must be the function (input, ctx) => output`);
  const input = rootSchema(subject, "input", action.input);
  const output = rootSchema(subject, "output", action.output === undefined ? {} : action.output);
  const examples = action.examples ?? [];
  if (!Array.isArray(examples)) throw new TypeError(`${subject}: \`examples\` is an array of {input, output}`);
  for (const [i, example] of examples.entries()) {
    if (!example || typeof example !== "object" || !("input" in example)) {
      throw new TypeError(`${subject}: example ${i} must be {input, output?}`);
    }
    for (const [which, schema] of [
      ["input", input],
      ["output", output],
    ]) {
      if (!(which in example)) continue;
      const problem = checkValue(schema, example[which]);
      if (problem) {
        throw new TypeError(`${subject}: example ${i} has an ${which} its schema refuses at ${problem.path || "the top"}: ${problem.problem}`);
      }
    }
  }
  const described = { ...input };
  if (examples.length > 0) {
    // Under the standard `examples` keyword, after any the schema lists: `orch pack check` runs
    // each and holds its output to the output schema (as the Rust and Python SDKs emit them).
    described.examples = [...(Array.isArray(input.examples) ? input.examples : []), ...examples.map((e) => e.input)];
  }
  return Object.freeze({
    name,
    description: String(action.description ?? ""),
    idempotent: Boolean(action.idempotent),
    input: described,
    output,
    examples: Object.freeze(examples.map((e) => Object.freeze({ ...e }))),
    run: action.run,
    inputSchemaJson: JSON.stringify(described),
    outputSchemaJson: JSON.stringify(output),
  });
}

function rootSchema(subject, which, schema) {
  if (schema === true || schema === false) return schema;
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) {
    throw new TypeError(`${subject}: \`${which}\` must be a JSON Schema object, such as {type: "object", properties: {…}}`);
  }
  // Name the draft, so the host reads the schema as the draft it was written for.
  return "$schema" in schema ? structuredCopy(schema) : { $schema: DRAFT, ...structuredCopy(schema) };
}

function structuredCopy(value) {
  return JSON.parse(JSON.stringify(value));
}

/** One problem `validate` found: what it is about (`action "Get"`) and what is wrong, with the
 * fix. */
export class DefinitionError {
  constructor(subject, message) {
    this.subject = subject;
    this.message = message;
  }

  toString() {
    return `${this.subject}: ${this.message}`;
  }
}

/**
 * The problems `orch pack add` would refuse the pack for (names, version, sizes, destinations);
 * an empty array when there are none.
 *
 * @param {ReturnType<typeof definePack>} handler what `definePack` returned
 * @returns {DefinitionError[]}
 */
export function validate(handler) {
  const { info, actions } = handler;
  if (!info || !actions) throw new TypeError("validate takes what definePack returned");
  const problems = [];
  const problem = (subject, message) => problems.push(new DefinitionError(subject, message));
  const bytes = (text) => rules.utf8Length(text);
  const tooLong = (length, limit) => `${length} bytes; the host accepts at most ${limit}`;

  if (!rules.isPackName(info.name)) {
    problem(
      `pack name ${JSON.stringify(info.name)}`,
      "a pack name is 1-64 lowercase letters, digits, `_` or `-`, starting with a letter (such as `netdev`)",
    );
  }
  const reason = rules.checkVersion(info.version);
  if (reason) {
    problem(`version ${JSON.stringify(info.version)}`, `not a semantic version (${reason}); use MAJOR.MINOR.PATCH such as 1.0.0`);
  }
  for (const [what, text, limit] of [
    ["version", info.version, rules.MAX_SHORT_TEXT],
    ["vendor", info.vendor, rules.MAX_SHORT_TEXT],
    ["description", info.description, rules.MAX_DESCRIPTION],
  ]) {
    if (bytes(text) > limit) problem(what, tooLong(bytes(text), limit));
  }
  if (actions.size === 0) problem("actions", "the pack has no actions; add one under `actions`");
  for (const [what, count, limit] of [
    ["actions", actions.size, rules.MAX_ACTIONS],
    ["destinations", info.destinations.length, rules.MAX_DESTINATIONS],
  ]) {
    if (count > limit) problem(what, `the pack declares ${count}; the host accepts at most ${limit}`);
  }
  for (const action of actions.values()) {
    const subject = `action ${JSON.stringify(action.name)}`;
    if (!rules.isActionName(action.name)) {
      problem(subject, "an action name is 1-64 lowercase letters, digits or `_`, starting with a letter (such as `get_config`)");
    }
    if (bytes(action.description) > rules.MAX_DESCRIPTION) {
      problem(`description of ${subject}`, tooLong(bytes(action.description), rules.MAX_DESCRIPTION));
    }
    for (const [which, text] of [
      ["input", action.inputSchemaJson],
      ["output", action.outputSchemaJson],
    ]) {
      if (bytes(text) > rules.MAX_SCHEMA_BYTES) problem(`${which} schema of ${subject}`, tooLong(bytes(text), rules.MAX_SCHEMA_BYTES));
    }
  }
  for (const d of info.destinations) {
    const subject = `destination ${d.kind} ${JSON.stringify(d.pattern)}`;
    const why = rules.checkDestination(d.kind, d.pattern);
    if (why) problem(subject, why);
    if (bytes(d.reason) > rules.MAX_SHORT_TEXT) problem(`reason of ${subject}`, tooLong(bytes(d.reason), rules.MAX_SHORT_TEXT));
  }
  return problems;
}
