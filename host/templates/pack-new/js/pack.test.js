// Native tests of the `{{name}}` pack: `npm test` (node's own test runner, `node --test`).

import assert from "node:assert/strict";
import { test } from "node:test";

import { Context, validate } from "orch-sdk";
import { TestHost, checkExamples } from "orch-sdk/testing";
import { handler } from "./pack.js";

/** A TestHost that answers this test's capability calls and is closed when it ends. */
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
});

test("summarize counts lines and logs", async () => {
  const ctx = Context.forTests();
  assert.deepEqual(await handler.call("summarize", { text: "a\nbcd\nef" }, ctx), { lines: 3, longest: "bcd" });
  assert.equal(ctx.logs[0].message, "summarizing");
  assert.deepEqual(await handler.call("summarize", { text: "" }), { lines: 0, longest: null });
});

test("device_status asks the API with its credential", async (t) => {
  const host = hostFor(t);
  host.http.on("GET", "https://api.example.com/v1/devices/r1").reply(200, { status: "up" });
  assert.deepEqual(await handler.call("device_status", { device: "r1" }, host.context()), { status: "up" });
  assert.deepEqual(
    host.http.requests.map((r) => r.credential),
    ["api-token"],
  );
});

test("device_status makes a server error retryable", async (t) => {
  const host = hostFor(t);
  host.http.on("GET", "https://api.example.com/v1/devices/r1").reply(503, { error: "maintenance" });
  await assert.rejects(handler.call("device_status", { device: "r1" }, host.context()), (err) => {
    assert.deepEqual([err.code, err.retryable], ["unavailable", true]);
    return true;
  });
});

test("uptime runs the command on the device", async (t) => {
  const host = hostFor(t);
  host.ssh.onExec("uptime", { target: "R1" }).reply(" 10:02:11 up 41 days,  3:12,  0 users\n");
  assert.deepEqual(await handler.call("uptime", { device: "R1" }, host.context()), {
    uptime: "10:02:11 up 41 days,  3:12,  0 users",
  });
  assert.deepEqual(host.ssh.commands, ["uptime"]);
});

test("uptime says when the device cannot be reached", async (t) => {
  const host = hostFor(t);
  host.ssh.onConnect("R1").fail("unreachable", "no route to R1");
  await assert.rejects(handler.call("uptime", { device: "R1" }, host.context()), (err) => {
    assert.deepEqual([err.code, err.retryable], ["unreachable", true]);
    return true;
  });
});
