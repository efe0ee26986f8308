// Tests of definePack: what `describe` says, how `invoke` and `call` dispatch, how every kind of
// failure becomes an action error (the stack of an unhandled one included, bounded), and the
// checks of `validate` against the host's table of destination patterns.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { ActionError, Context, HostError, definePack, validate } from "../index.js";
import { MAX_MESSAGE, STACK_LINES, stackFrames, unhandled } from "../errors.js";
import { checkVersion, checkDestination } from "../rules.js";

const CALL = { runId: "run-1", task: "t", attempt: 2, idempotencyKey: "k" };
const utf8 = (text) => new TextEncoder().encode(text).length;

function nested(depth, makeError) {
  if (depth === 0) throw makeError();
  return nested(depth - 1, makeError) + 1; // not a tail call: every level stays on the stack
}

function failingHelper() {
  throw new TypeError("the threshold is not a number");
}

const pack = definePack({
  name: "demo",
  version: "1.2.0",
  vendor: "Acme",
  description: "A pack for the SDK's tests.",
  destinations: [{ kind: "http", pattern: "api.example.com:443", reason: "the API" }],
  actions: {
    add: {
      description: "Add two integers.",
      idempotent: true,
      input: {
        type: "object",
        properties: { a: { type: "integer" }, b: { type: "integer" } },
        required: ["a", "b"],
        additionalProperties: false,
      },
      output: { type: "integer" },
      examples: [{ input: { a: 1, b: 2 }, output: 3 }, { input: { a: -1, b: 1 } }],
      run: ({ a, b }, ctx) => {
        ctx.log.info("adding", { a, b });
        return a + b;
      },
    },
    later: {
      description: "Add after a tick.",
      input: { type: "object" },
      output: { type: "object" },
      run: async (input, ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return { attempt: ctx.attempt, key: ctx.idempotencyKey, input };
      },
    },
    refuse: {
      description: "Throw an ActionError.",
      input: {},
      run: () => {
        throw new ActionError("not_found", "no such ticket: 42", { retryable: false, details: { ticket: 42 } });
      },
    },
    host: {
      description: "Let a HostError escape.",
      input: { type: "object", properties: { code: { type: "string" } } },
      run: ({ code }) => {
        throw new HostError(code, `the host said ${code}`);
      },
    },
    crash: {
      description: "Throw a TypeError from a helper.",
      input: {},
      run: () => failingHelper(),
    },
    crash_later: {
      description: "Reject after an await.",
      input: {},
      run: async () => {
        await Promise.resolve();
        failingHelper();
      },
    },
    deep: {
      description: "Throw from deep recursion.",
      input: {},
      run: () => nested(200, () => new RangeError("x".repeat(10_000))),
    },
    throw_string: {
      description: "Throw a string.",
      input: {},
      run: () => {
        throw "not an error"; // eslint-disable-line no-throw-literal
      },
    },
    wrong_output: {
      description: "Return what the output schema refuses.",
      input: {},
      output: { type: "object", properties: { n: { type: "integer" } } },
      run: () => ({ n: "seven" }),
    },
    bigint: {
      description: "Return what JSON cannot hold.",
      input: {},
      run: () => 1n,
    },
    nothing: {
      description: "Return nothing.",
      input: {},
      run: () => undefined,
    },
  },
});

test("describe lists the pack, its actions in order with their schemas, and its destinations", () => {
  const info = pack.describe();
  assert.equal(info.name, "demo");
  assert.equal(info.version, "1.2.0");
  assert.equal(info.vendor, "Acme");
  assert.deepEqual(info.destinations, [{ kind: "http", pattern: "api.example.com:443", reason: "the API" }]);
  assert.deepEqual(
    info.actions.map((a) => a.name),
    ["add", "later", "refuse", "host", "crash", "crash_later", "deep", "throw_string", "wrong_output", "bigint", "nothing"],
  );
  const add = info.actions[0];
  assert.equal(add.description, "Add two integers.");
  assert.equal(add.idempotent, true);
  assert.equal(info.actions[1].idempotent, false);
  const input = JSON.parse(add.inputSchema);
  assert.equal(input.$schema, "https://json-schema.org/draft/2020-12/schema");
  assert.deepEqual(input.required, ["a", "b"]);
  assert.deepEqual(JSON.parse(add.outputSchema), { $schema: "https://json-schema.org/draft/2020-12/schema", type: "integer" });
  // Only the records' fields: the test helpers stay off the export.
  assert.deepEqual(Object.keys(pack), ["describe", "invoke"]);
});

test("examples go under the input schema's examples, after any it lists", () => {
  const add = JSON.parse(pack.describe().actions[0].inputSchema);
  assert.deepEqual(add.examples, [
    { a: 1, b: 2 },
    { a: -1, b: 1 },
  ]);
  const withOwn = definePack({
    name: "own",
    version: "1.0.0",
    actions: {
      echo: { description: "", input: { type: "integer", examples: [7] }, examples: [{ input: 8 }], run: (x) => x },
    },
  });
  assert.deepEqual(JSON.parse(withOwn.describe().actions[0].inputSchema).examples, [7, 8]);
  const without = JSON.parse(pack.describe().actions[1].inputSchema);
  assert.equal("examples" in without, false);
});

test("a definition that cannot work fails when it is defined", () => {
  const define = (action) => () => definePack({ name: "p", version: "1.0.0", actions: { a: action } });
  assert.throws(define({ description: "", input: {} }), /`run` must be the function/);
  assert.throws(define({ description: "", input: "string", run: () => 1 }), /must be a JSON Schema object/);
  assert.throws(
    define({ description: "", input: { type: "object", required: ["n"] }, examples: [{ input: {} }], run: () => 1 }),
    /example 0 has an input its schema refuses at n: missing required property/,
  );
  assert.throws(
    define({ description: "", input: {}, output: { type: "string" }, examples: [{ input: 1, output: 2 }], run: () => 1 }),
    /example 0 has an output its schema refuses at the top: expected a string, got the number 2/,
  );
  assert.throws(define({ description: "", input: {}, examples: [{ output: 1 }], run: () => 1 }), /example 0 must be \{input, output\?\}/);
});

test("invoke returns the output as JSON in an ok result", async () => {
  assert.deepEqual(await pack.invoke("add", '{"a": 2, "b": 3}', CALL), { tag: "ok", val: "5" });
  const later = await pack.invoke("later", '{"x": 1}', CALL);
  assert.deepEqual(JSON.parse(later.val), { attempt: 2, key: "k", input: { x: 1 } });
  assert.deepEqual(await pack.invoke("nothing", "{}", CALL), { tag: "ok", val: "null" });
});

test("invoke returns every failure as an action-error record, never a rejection", async () => {
  const refused = await pack.invoke("refuse", "{}", CALL);
  assert.deepEqual(refused, {
    tag: "err",
    val: { code: "not_found", message: "no such ticket: 42", retryable: false, details: '{"ticket":42}' },
  });
  const unknown = await pack.invoke("nope", "{}", CALL);
  assert.equal(unknown.val.code, "unknown_action");
  assert.match(unknown.val.message, /pack "demo" has no action "nope"; its actions are: add, later/);
  const notJson = await pack.invoke("add", "{", CALL);
  assert.equal(notJson.val.code, "invalid_input");
  assert.match(notJson.val.message, /the input of "add" is not JSON/);
  const crash = await pack.invoke("crash", "{}", CALL);
  assert.equal(crash.tag, "err");
  assert.equal(crash.val.code, "unhandled_exception");
  assert.equal(crash.val.retryable, false);
  // details travel as a JSON string, or undefined: componentize-js lowers option<string> so.
  assert.equal(typeof crash.val.details, "string");
  assert.equal((await pack.invoke("refuse", "{}", CALL)).val.details, '{"ticket":42}');
  const bigint = await pack.invoke("bigint", "{}", CALL);
  assert.equal(bigint.val.code, "invalid_output");
  assert.equal(bigint.val.details, undefined);
});

test("call checks the input and output against their schemas, as the host does", async () => {
  assert.equal(await pack.call("add", { a: 1, b: 2 }), 3);
  await assert.rejects(pack.call("add", { a: 1, b: "two" }), (err) => {
    assert.ok(err instanceof ActionError);
    assert.equal(err.code, "invalid_input");
    assert.equal(err.message, 'invalid input for "add" at b: expected an integer, got the string "two"');
    assert.deepEqual(err.details, { path: "b", problem: 'expected an integer, got the string "two"' });
    return true;
  });
  await assert.rejects(pack.call("add", { a: 1, b: 2, c: 3 }), /at c: unknown property; the properties are: a, b/);
  await assert.rejects(pack.call("wrong_output", {}), (err) => {
    assert.equal(err.code, "invalid_output");
    assert.match(err.message, /the output of "wrong_output" does not match its schema at n: expected an integer/);
    return true;
  });
});

test("a test context keeps the action's log lines with their fields", async () => {
  const ctx = Context.forTests();
  await pack.call("add", { a: 1, b: 2 }, ctx);
  assert.deepEqual(ctx.logs, [{ level: "info", message: "adding", fields: { a: 1, b: 2 } }]);
  assert.deepEqual([ctx.runId, ctx.task, ctx.attempt, ctx.idempotencyKey], ["test-run", "test-task", 1, "test-key"]);
});

test("an ActionError passes through with its code, message, retryability and details", async () => {
  await assert.rejects(pack.call("refuse", {}), (err) => {
    assert.deepEqual([err.code, err.message, err.retryable, err.details], ["not_found", "no such ticket: 42", false, { ticket: 42 }]);
    return true;
  });
});

test("an escaping HostError keeps its code, retryable for timeout and unreachable only", async () => {
  for (const [code, retryable] of [
    ["timeout", true],
    ["unreachable", true],
    ["denied", false],
    ["not_found", false],
    ["quota_exceeded", false],
  ]) {
    const result = await pack.invoke("host", JSON.stringify({ code }), CALL);
    assert.deepEqual(result.val, { code, message: `the host said ${code}`, retryable, details: undefined });
  }
  assert.equal(new HostError("timeout", "x").toActionError().retryable, true);
});

test("an unhandled Error carries its name, message and the pack's stack frames", async () => {
  const { val } = await pack.invoke("crash", "{}", CALL);
  const lines = val.message.split("\n");
  assert.equal(lines[0], "TypeError: the threshold is not a number");
  assert.equal(lines[1], "Stack (innermost first):");
  assert.match(lines[2], /^ {2}at failingHelper \(.*pack\.test\.js:\d+:\d+\)$/);
  assert.match(lines[3], /pack\.test\.js/);
  // The SDK's runner and what called it are not the pack's: the stack stops before them.
  assert.doesNotMatch(val.message, /orchRunAction|pack\.js:/);
  const details = JSON.parse(val.details);
  assert.equal(details.exception, "TypeError");
  assert.equal(details.message, "the threshold is not a number");
  assert.deepEqual(details.stack, lines.slice(2).map((l) => l.trim()));
});

test("an Error thrown after an await is reported the same way", async () => {
  const { val } = await pack.invoke("crash_later", "{}", CALL);
  assert.match(val.message, /^TypeError: the threshold is not a number\nStack \(innermost first\):\n {2}at failingHelper/);
});

test("an unhandled error is bounded, keeping the innermost frames", async () => {
  Error.stackTraceLimit = 500;
  try {
    const { val } = await pack.invoke("deep", "{}", CALL);
    assert.ok(utf8(val.message) <= MAX_MESSAGE, `${utf8(val.message)} bytes`);
    assert.ok(utf8(val.details) <= 4096);
    assert.match(val.message, /^RangeError: xxxx/);
    assert.match(val.message, /\(truncated\)/);
    const details = JSON.parse(val.details);
    assert.equal(details.stack.length, STACK_LINES);
    assert.match(details.stack[1], /^at nested /); // [0] is the arrow that made the error
    assert.match(val.message, /Stack \(innermost first, \d+ outer frames omitted\):/);
  } finally {
    Error.stackTraceLimit = 10;
  }
});

test("a thrown value that is not an Error says what was thrown", async () => {
  const { val } = await pack.invoke("throw_string", "{}", CALL);
  assert.equal(val.code, "unhandled_exception");
  assert.equal(val.message, "uncaught string (not an Error, so no stack): not an error");
  assert.deepEqual(JSON.parse(val.details), { exception: "uncaught string (not an Error, so no stack)", message: "not an error", stack: [] });
});

test("a class of the pack's own is named even when it does not set name", () => {
  class ParseError extends Error {}
  const err = unhandled(new ParseError("bad line 3", { cause: new RangeError("inner") }));
  assert.match(err.message, /^ParseError: bad line 3\nCaused by RangeError: inner\n/);
  assert.equal(err.details.cause, "RangeError: inner");
});

test("SpiderMonkey stacks (inside a component) lose the bindings' frames and stop at the runner", () => {
  const thrown = { name: "Error", message: "m", stack: "" };
  thrown.stack = [
    "parseThreshold@jsexample.js:1270:9",
    "run@jsexample.js:1254:57",
    "orchRunAction@jsexample.js:300:22",
    "invoke@jsexample.js:250:5",
    "export_handler_0_1_0$invoke@/tmp/bd4569e03b9c/sources/initializer.js:2529:28",
    "",
  ].join("\n");
  assert.deepEqual(stackFrames(thrown), ["parseThreshold@jsexample.js:1270:9", "run@jsexample.js:1254:57"]);
  thrown.stack = "f@a.js:1:1\nexport_handler_0_1_0$invoke@/tmp/x/sources/initializer.js:1:1\n";
  assert.deepEqual(stackFrames(thrown), ["f@a.js:1:1"]);
});

test("details that JSON cannot hold, or too large, still travel as JSON", () => {
  const cyclic = {};
  cyclic.self = cyclic;
  assert.match(new ActionError("x", "m", { details: cyclic }).detailsJson(), /^\{"unserialisable_details":/);
  const big = new ActionError("x", "m", { details: { text: "y".repeat(10_000) } }).detailsJson();
  assert.ok(utf8(big) <= 4096);
  assert.match(JSON.parse(big).truncated, /\(truncated\)$/);
  assert.equal(new ActionError("x", "m", { details: { n: 1n } }).detailsJson(), '{"n":"1"}');
  assert.equal(new ActionError("x", "m").detailsJson(), undefined);
});

test("a good pack has no problems", () => {
  assert.deepEqual(validate(pack), []);
  assert.deepEqual(pack.validate(), []);
});

test("validate reports every problem, naming its subject", () => {
  const bad = definePack({
    name: "Bad Name",
    version: "1.0",
    vendor: "v".repeat(300),
    destinations: [
      { kind: "http", pattern: "https://api.example.com/v1", reason: "r" },
      { kind: "ftp", pattern: "files.example.com", reason: "r".repeat(300) },
    ],
    actions: { GetConfig: { description: "d".repeat(5000), input: {}, run: () => 1 } },
  });
  const problems = validate(bad).map(String);
  assert.deepEqual(problems, [
    'pack name "Bad Name": a pack name is 1-64 lowercase letters, digits, `_` or `-`, starting with a letter (such as `netdev`)',
    'version "1.0": not a semantic version (expected MAJOR.MINOR.PATCH, such as 1.4.0); use MAJOR.MINOR.PATCH such as 1.0.0',
    "vendor: 300 bytes; the host accepts at most 256",
    'action "GetConfig": an action name is 1-64 lowercase letters, digits or `_`, starting with a letter (such as `get_config`)',
    'description of action "GetConfig": 5000 bytes; the host accepts at most 4096',
    'destination http "https://api.example.com/v1": a destination names a host, not a path: drop everything from the first \'/\' (the grant covers every path on the host)',
    'destination ftp "files.example.com": unknown kind "ftp"; the kinds are `http`, `ssh` and `catalog`',
    'reason of destination ftp "files.example.com": 300 bytes; the host accepts at most 256',
  ]);
});

test("a pack without actions does not validate", () => {
  const empty = definePack({ name: "empty", version: "1.0.0", actions: {} });
  assert.deepEqual(validate(empty).map(String), ["actions: the pack has no actions; add one under `actions`"]);
});

test("versions follow semver", () => {
  for (const good of ["1.4.0", "0.0.1", "2.0.0-rc.1+build.5", "1.0.0-alpha-1", "1.0.0+20260101"]) {
    assert.equal(checkVersion(good), null, good);
  }
  for (const [bad, why] of [
    ["1.0", /MAJOR.MINOR.PATCH/],
    ["01.0.0", /leading zero/],
    ["1.0.x", /not a number/],
    ["1.0.0-", /empty pre-release identifier/],
    ["1.0.0-01", /leading zero/],
    ["1.0.0+b_5", /characters other than/],
    ["18446744073709551616.0.0", /too large/],
  ]) {
    assert.match(checkVersion(bad), why, bad);
  }
});

test("destination patterns follow the host's table (sdk/tests/destination_cases.json)", () => {
  const table = JSON.parse(readFileSync(new URL("../../tests/destination_cases.json", import.meta.url), "utf8"));
  assert.ok(table.cases.length > 50);
  for (const { kind, pattern, accepted } of table.cases) {
    const reason = checkDestination(kind, pattern);
    assert.equal(reason === null, accepted, `${kind} ${JSON.stringify(pattern)}: ${reason}`);
  }
});
