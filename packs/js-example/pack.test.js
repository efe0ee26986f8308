// Native tests of the jsexample pack: `node --test` in this folder. The SDK's TestHost answers
// the http calls from a script; `fetch_plain` (the platform's fetch) is exercised against the
// real host by the host's end-to-end tests, since a TestHost cannot script `fetch`.

import assert from "node:assert/strict";
import { test } from "node:test";

import { validate } from "../../sdk/js/index.js";
import { TestHost, checkExamples } from "../../sdk/js/testing/index.js";
import { handler } from "./pack.js";

function hostFor(t) {
  const host = new TestHost();
  t.after(() => host.close());
  return host;
}

test("the definition passes the checks of pack add", () => {
  assert.deepEqual(validate(handler).map(String), []);
});

test("the examples give the outputs they promise", async () => {
  assert.deepEqual(await checkExamples(handler), []);
  const schema = JSON.parse(handler.describe().actions[0].inputSchema);
  assert.deepEqual(schema.examples, [{ text: "the quick fox\nthe lazy dog", top: 1 }]);
});

test("word_stats counts and ranks words, and logs", async (t) => {
  const host = hostFor(t);
  const ctx = host.context();
  const out = await handler.call("word_stats", { text: "b a\nA c a", top: 2 }, ctx);
  assert.deepEqual(out, { words: 5, lines: 2, most_common: { a: 3, b: 1 } });
  assert.deepEqual(ctx.logs, [{ level: "info", message: "counted", fields: { words: 5 } }]);
  assert.deepEqual(await handler.call("word_stats", { text: "" }), { words: 0, lines: 0, most_common: {} });
  await assert.rejects(handler.call("word_stats", { text: "a", top: 101 }), /at top: more than the maximum 100/);
});

test("fetch_status asks the API with its credential", async (t) => {
  const host = hostFor(t);
  host.http.on("GET", "https://api.example.com/v1/devices/r%201").reply(200, { status: "up", since: "2026-01-01" });
  const ctx = host.context();
  assert.deepEqual(await handler.call("fetch_status", { device: "r 1" }, ctx), { status: "up", since: "2026-01-01" });
  const [sent] = host.http.requests;
  assert.deepEqual([sent.credential, sent.timeoutMs], ["status-api", 10_000]);
  assert.deepEqual(ctx.logs[0].fields, { device: "r 1", status: "up" });
});

test("fetch_status asks another status API when given one", async (t) => {
  const host = hostFor(t);
  host.http.on("GET", "http://127.0.0.1:8080/v1/devices/r1").reply(200, { status: "down" });
  const out = await handler.call("fetch_status", { device: "r1", api: "http://127.0.0.1:8080" }, host.context());
  assert.deepEqual(out, { status: "down", since: null });
});

test("fetch_status turns the API's statuses into codes a workflow retries on", async (t) => {
  const host = hostFor(t);
  host.http.on("GET", "https://api.example.com/v1/devices/busy").reply(503, { error: "maintenance" });
  host.http.on("GET", "https://api.example.com/v1/devices/secret").reply(403, {});
  host.http.on("GET", "https://api.example.com/v1/devices/slow").fail("timeout", "no answer in 10 s");
  for (const [device, code, retryable] of [
    ["busy", "unavailable", true],
    ["secret", "auth_failed", false],
    ["slow", "timeout", true],
  ]) {
    await assert.rejects(handler.call("fetch_status", { device }, host.context()), (err) => {
      assert.deepEqual([err.code, err.retryable], [code, retryable], device);
      return true;
    });
  }
});

test("explode reports a plain Error as unhandled_exception with its stack", async () => {
  const result = await handler.invoke("explode", '{"reason": "testing"}', { runId: "", task: "", attempt: 1, idempotencyKey: "" });
  assert.equal(result.tag, "err");
  assert.equal(result.val.code, "unhandled_exception");
  assert.match(result.val.message, /^Error: jsexample exploded: testing\nStack \(innermost first\):\n {2}at parseThreshold /);
  const details = JSON.parse(result.val.details);
  assert.equal(details.exception, "Error");
  assert.equal(details.message, "jsexample exploded: testing");
  assert.match(details.stack[0], /^at parseThreshold \(.*pack\.js:\d+:\d+\)$/);
});
