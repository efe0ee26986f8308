// Tests of the capability wrappers (http, ssh, catalog, logging) against a TestHost, of what a
// call does without one, and of `checkExamples`.

import assert from "node:assert/strict";
import { test } from "node:test";

import { ActionError, Context, HostError, catalog, definePack, http, log, ssh } from "../index.js";
import { commandOutput } from "../ssh.js";
import { TestHost, checkExamples } from "../testing/index.js";

/** A TestHost closed when the test ends, so no other test sees it. */
function hostFor(t) {
  const host = new TestHost();
  t.after(() => host.close());
  return host;
}

async function rejectsWith(promise, code, pattern) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `${err.code}: ${err.message}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

test("without a host a capability call rejects with invalid, naming TestHost", async () => {
  await rejectsWith(http.get("https://api.example.com/x"), "invalid", /no orch host to answer GET https:\/\/api\.example\.com\/x.*TestHost/);
  await rejectsWith(ssh.connect("R1"), "invalid", /no orch host to answer ssh connect to R1/);
  await rejectsWith(catalog.get("configs", "R1"), "invalid", /no orch host/);
  await assert.rejects(http.get("https://x.example.com"), HostError);
});

test("a closed host answers no more; the one opened before answers again", async () => {
  const outer = new TestHost();
  outer.http.on("GET", "https://a.example.com/").reply(200, "outer");
  const inner = new TestHost();
  inner.http.on("GET", "https://a.example.com/").reply(200, "inner");
  assert.equal((await http.get("https://a.example.com/")).json(), "inner");
  inner.close();
  assert.equal((await http.get("https://a.example.com/")).json(), "outer");
  outer.close();
  await rejectsWith(http.get("https://a.example.com/"), "invalid");
});

test("logging never fails and reaches the host, or stderr without one", (t) => {
  log.info("no host yet", { n: 1 }); // printed on stderr: nothing to assert but that it returns
  const host = hostFor(t);
  log.warn("with fields", { big: 2n, err: new Error("e") });
  log.error("no fields");
  const cyclic = {};
  cyclic.self = cyclic;
  log.info("cyclic", cyclic);
  assert.deepEqual(host.logs, [
    { level: "warn", message: "with fields", fields: { big: "2", err: "Error: e" } },
    { level: "error", message: "no fields", fields: null },
    { level: "info", message: "cyclic", fields: { unserialisable_fields: host.logs[2].fields.unserialisable_fields } },
  ]);
  // A context that is not a test context sends its lines to the host too.
  new Context({ runId: "r" }).log.debug("from a context", { a: 1 });
  assert.deepEqual(host.logs[3], { level: "debug", message: "from a context", fields: { a: 1 } });
});

test("http: scripted replies and the record of what was sent", async (t) => {
  const host = hostFor(t);
  host.http.on("POST", "https://api.example.com/v1/tickets").header("location", "/v1/tickets/7").reply(201, { id: 7 });
  const response = await http.post("https://api.example.com/v1/tickets", {
    json: { title: "upgrade r1" },
    headers: { "x-request-id": "abc" },
    credential: "servicenow",
    timeoutMs: 10_000,
    maxRedirects: 0,
  });
  assert.equal(response.status, 201);
  assert.equal(response.ok, true);
  assert.deepEqual(response.json(), { id: 7 });
  assert.equal(response.header("Location"), "/v1/tickets/7");
  assert.equal(response.header("missing"), null);
  assert.equal(response.url, "https://api.example.com/v1/tickets");
  const [sent] = host.http.requests;
  assert.equal(sent.method, "POST");
  assert.equal(sent.credential, "servicenow");
  assert.equal(sent.timeoutMs, 10_000);
  assert.equal(sent.maxRedirects, 0);
  assert.equal(sent.maxResponseBytes, null);
  assert.equal(sent.header("X-Request-Id"), "abc");
  assert.equal(sent.header("content-type"), "application/json");
  assert.deepEqual(sent.json(), { title: "upgrade r1" });
});

test("http: a given content type is kept, and text and bytes bodies go as they are", async (t) => {
  const host = hostFor(t);
  host.http.on("PUT", "https://api.example.com/*").replyText(204, "");
  await http.put("https://api.example.com/a", { json: [1], headers: [["Content-Type", "application/merge-patch+json"]] });
  await http.put("https://api.example.com/b", { body: "plain" });
  await http.put("https://api.example.com/c", { body: new Uint8Array([1, 2]), maxRedirects: 300, timeoutMs: -5 });
  const [a, b, c] = host.http.requests;
  assert.deepEqual(a.headers, [["Content-Type", "application/merge-patch+json"]]);
  assert.equal(b.text(), "plain");
  assert.deepEqual([...c.body], [1, 2]);
  // Numbers out of the contract's range are clamped, never wrapped by the bindings.
  assert.deepEqual([c.maxRedirects, c.timeoutMs], [255, 0]);
  await rejectsWith(http.put("https://api.example.com/d", { json: { n: 1n } }), "invalid", /could not be serialised to json/);
});

test("http: once rules fall through, prefixes match, and every method has its function", async (t) => {
  const host = hostFor(t);
  host.http.on("GET", "https://api.example.com/flaky").once().reply(503, {});
  host.http.on("GET", "https://api.example.com/*").reply(200, { ok: true });
  for (const method of ["head", "delete", "patch", "options"]) {
    host.http.on(method.toUpperCase(), "https://api.example.com/m").replyText(200, method);
  }
  assert.equal((await http.get("https://api.example.com/flaky")).status, 503);
  assert.equal((await http.get("https://api.example.com/flaky")).status, 200);
  assert.equal((await http.get("https://api.example.com/anything")).status, 200);
  for (const method of ["head", "delete", "patch", "options"]) {
    assert.equal((await http[method]("https://api.example.com/m")).text(), method);
  }
  assert.deepEqual(
    host.http.requests.slice(3).map((r) => r.method),
    ["HEAD", "DELETE", "PATCH", "OPTIONS"],
  );
});

test("http: scripted failures and unscripted calls reject with host errors", async (t) => {
  const host = hostFor(t);
  host.http.on("GET", "https://api.example.com/slow").fail("timeout", "no answer in 10 s");
  await assert.rejects(http.get("https://api.example.com/slow"), (err) => {
    assert.ok(err instanceof HostError);
    assert.deepEqual([err.code, err.message, err.retryable], ["timeout", "no answer in 10 s", true]);
    return true;
  });
  await rejectsWith(
    http.get("https://api.example.com/other"),
    "invalid",
    /the test host has no reply for GET https:\/\/api\.example\.com\/other; script one with host\.http\.on\("GET", "https:\/\/api\.example\.com\/other"\)\.reply\(\.\.\.\)/,
  );
});

test("errorForStatus maps each class of status to a code and retryability", async (t) => {
  const host = hostFor(t);
  const cases = [
    [200, null, null],
    [302, null, null],
    [401, "auth_failed", false],
    [403, "auth_failed", false],
    [404, "http_status", false],
    [409, "http_status", false],
    [429, "rate_limited", true],
    [500, "unavailable", true],
    [503, "unavailable", true],
  ];
  for (const [status] of cases) host.http.on("GET", `https://api.example.com/s/${status}?token=secret`).reply(status, { error: "body text" });
  for (const [status, code, retryable] of cases) {
    const response = await http.get(`https://api.example.com/s/${status}?token=secret`);
    if (code === null) {
      assert.equal(response.errorForStatus(), response);
      continue;
    }
    assert.throws(
      () => response.errorForStatus(),
      (err) => {
        assert.ok(err instanceof ActionError);
        assert.deepEqual([err.code, err.retryable], [code, retryable], String(status));
        // The URL without its query, and never the body.
        assert.equal(err.message, `https://api.example.com/s/${status} answered ${status}`);
        assert.deepEqual(err.details, { status, url: `https://api.example.com/s/${status}?token=secret` });
        return true;
      },
    );
  }
});

test("errorForStatus keeps Retry-After in the details", async (t) => {
  const host = hostFor(t);
  host.http.on("GET", "https://api.example.com/busy").header("Retry-After", "120").reply(429, {});
  const response = await http.get("https://api.example.com/busy");
  assert.throws(() => response.errorForStatus(), (err) => err.details.retry_after === "120");
});

test("a body that is not JSON is a protocol error", async (t) => {
  const host = hostFor(t);
  host.http.on("GET", "https://api.example.com/html").replyText(200, "<html>");
  const response = await http.get("https://api.example.com/html");
  assert.equal(response.text(), "<html>");
  assert.throws(() => response.json(), (err) => err instanceof HostError && err.code === "protocol" && /is not the expected json/.test(err.message));
});

test("ssh: exec by target, and the record of connections and commands", async (t) => {
  const host = hostFor(t);
  host.ssh.onExec("uptime", { target: "R1" }).reply(" 10:02 up 41 days\n");
  host.ssh.onExec("uptime").reply("", "not here", 127);
  const r1 = await ssh.connect("R1");
  const out = await r1.exec("uptime", { timeoutMs: 5000 });
  assert.deepEqual([out.stdout, out.stderr, out.exitStatus, out.ok], [" 10:02 up 41 days\n", "", 0, true]);
  const other = await ssh.connect({ host: "10.0.0.5" }, { credential: "lab" });
  const failed = await other.exec("uptime");
  assert.deepEqual([failed.stderr, failed.exitStatus, failed.ok], ["not here", 127, false]);
  assert.deepEqual(host.ssh.connections, [
    { target: { inventory: "R1" }, credential: null },
    { target: { host: "10.0.0.5", port: 22 }, credential: "lab" },
  ]);
  assert.deepEqual(host.ssh.commands, ["uptime", "uptime"]);
  await rejectsWith(r1.exec("reboot"), "invalid", /no reply for the command "reboot" run on R1; script one with host\.ssh\.onExec\("reboot"\)/);
});

test("ssh: a scripted connect failure", async (t) => {
  const host = hostFor(t);
  host.ssh.onConnect("R1").fail("host_key", "the host key of R1 changed");
  await rejectsWith(ssh.connect("R1"), "host_key", /changed/);
  await rejectsWith(ssh.connect(42), "invalid", /an ssh target is/);
  await rejectsWith(ssh.connect({ host: "10.0.0.1", port: 70000 }), "invalid", /from 1 to 65535, not 70000/);
});

test("ssh: a shell echoes lines, answers them, and changes its prompt", async (t) => {
  const host = hostFor(t);
  host.ssh.prompt("R1#");
  host.ssh.onLine("configure terminal").prompt("R1(config)#").reply("Enter configuration commands, one per line.");
  host.ssh.onLine("show clock").reply("10:02:11 UTC");
  const shell = await (await ssh.connect("R1")).shell();
  assert.equal(await shell.readUntil(String.raw`R1#\s*$`), "R1#");
  assert.equal(await shell.command("show clock", /R1#\s*$/), "10:02:11 UTC");
  await shell.sendLine("configure terminal");
  const read = await shell.readUntil(String.raw`\(config\)#$`);
  assert.equal(read, "configure terminal\r\nEnter configuration commands, one per line.\r\nR1(config)#");
  assert.equal(await shell.read(), "");
  assert.deepEqual(host.ssh.commands, ["show clock", "configure terminal"]);
  await assert.rejects(shell.readUntil(/x/i), /has flags/);
});

test("ssh: elevation types the secret on a fresh shell and is denied after typing", async (t) => {
  const host = hostFor(t);
  host.ssh.prompt("R1>");
  host.ssh.onElevate("enable").reply("Password: ***", "R1#");
  host.ssh.onLine("show clock").reply("10:02");
  const session = await ssh.connect("R1");
  const fresh = await session.shell();
  await fresh.readUntil("R1>");
  const read = await fresh.elevate({ method: "enable", privilegedPrompt: String.raw`R1#\s*$`, credential: "r1-enable" });
  assert.equal(read, "enable\r\nPassword: ***\r\nR1#");
  assert.deepEqual(host.ssh.secrets, [{ credential: "r1-enable", elevation: "enable" }]);
  const typed = await session.shell();
  await typed.sendLine("show clock");
  await rejectsWith(typed.elevate({ method: "enable", privilegedPrompt: "R1#" }), "denied", /refused on a shell the pack has typed into/);
  await rejectsWith(typed.elevate({ method: "root", privilegedPrompt: "#" }), "invalid", /unknown elevation "root"/);
  const inBand = await session.shell();
  await inBand.sendSecret("login");
  assert.deepEqual(host.ssh.secrets[1], { credential: "login", elevation: null });
});

test("ssh: a prompt that never comes is a timeout naming what was printed", async (t) => {
  hostFor(t);
  const shell = await (await ssh.connect("R1")).shell();
  await rejectsWith(shell.readUntil("R9#", { timeoutMs: 10 }), "timeout", /never printed "R9#"; it printed "device#"/);
});

test("ssh: sftp reads scripted files and keeps written ones", async (t) => {
  const host = hostFor(t);
  host.ssh.file("/etc/motd", "hello");
  const session = await ssh.connect("srv");
  assert.equal(new TextDecoder().decode(await session.sftpGet("/etc/motd")), "hello");
  await rejectsWith(session.sftpGet("/etc/motd", { maxBytes: 2 }), "too_large");
  await rejectsWith(session.sftpGet("/nope"), "not_found", /host\.ssh\.file\("\/nope"/);
  await session.sftpPut("/tmp/out", "written", { mode: 0o644 });
  assert.equal(new TextDecoder().decode(host.ssh.fileContents("/tmp/out")), "written");
  assert.equal(host.ssh.fileContents("/tmp/none"), null);
});

test("commandOutput drops the echoed command and the prompt", () => {
  assert.equal(commandOutput("show ver\r\nIOS 15.2\r\nuptime 3\r\nR1#", "show ver"), "IOS 15.2\nuptime 3");
  assert.equal(commandOutput("IOS\r\nR1#", "show ver"), "IOS");
});

test("catalog: devices by name and by tags", async (t) => {
  const host = hostFor(t);
  host.catalog.addDevice({ name: "R2", address: "10.0.0.2", platform: "cisco_ios", tags: { site: "lab" } });
  host.catalog.addDevice({ name: "R1", address: "10.0.0.1", tags: { site: "lab", role: "core" }, vars: { asn: 65000 } });
  host.catalog.addDevice({ name: "S1", address: "10.0.1.1", tags: { site: "dc" } });
  const r1 = await catalog.getDevice("R1");
  assert.deepEqual(r1, {
    name: "R1",
    address: "10.0.0.1",
    port: 22,
    platform: "",
    credential: null,
    tags: { site: "lab", role: "core" },
    vars: { asn: 65000 },
  });
  assert.deepEqual((await catalog.findDevices({ site: "lab" })).map((d) => d.name), ["R1", "R2"]);
  assert.deepEqual((await catalog.findDevices()).map((d) => d.name), ["R1", "R2", "S1"]);
  assert.deepEqual((await catalog.findDevices({ site: "lab", role: "core" })).map((d) => d.name), ["R1"]);
  await rejectsWith(catalog.getDevice("R9"), "not_found", /host\.catalog\.addDevice/);
});

test("catalog: records are versioned, and writes recorded", async (t) => {
  const host = hostFor(t);
  host.catalog.record("configs", "R1/golden", { text: "v1" });
  assert.equal(await catalog.get("configs", "R1/backup"), null);
  const written = await catalog.put("configs", "R1/golden", { text: "v2" });
  assert.deepEqual(written, {
    collection: "configs",
    key: "R1/golden",
    version: 2,
    value: { text: "v2" },
    writtenAt: "2026-01-01T00:00:00Z",
    writer: "run test-run task test-task",
  });
  assert.deepEqual((await catalog.get("configs", "R1/golden")).value, { text: "v2" });
  assert.deepEqual((await catalog.get("configs", "R1/golden", { version: 1 })).value, { text: "v1" });
  assert.equal(await catalog.get("configs", "R1/golden", { version: 9 }), null);
  assert.deepEqual(host.catalog.writes.map((e) => e.version), [2]);
  assert.deepEqual(host.catalog.latest("configs", "R1/golden").value, { text: "v2" });
  await rejectsWith(catalog.put("configs", "k", { n: 1n }).then(() => catalog.put("configs", "k", () => 1)), "invalid", /is not JSON/);
});

test("catalog: scripted failures per collection", async (t) => {
  const host = hostFor(t);
  host.catalog.fail("configs", "quota_exceeded", "the collection holds 10 MiB, its quota").fail("inventory", "denied", "no grant");
  await rejectsWith(catalog.put("configs", "R1", {}), "quota_exceeded");
  await rejectsWith(catalog.getDevice("R1"), "denied");
  await rejectsWith(catalog.findDevices(), "denied");
  assert.equal(await catalog.get("other", "k"), null);
});

test("an action's escaping host error from a TestHost reaches invoke with its code", async (t) => {
  const host = hostFor(t);
  host.http.on("GET", "https://api.example.com/down").fail("unreachable", "connection refused");
  const pack = definePack({
    name: "p",
    version: "1.0.0",
    actions: { get: { description: "", input: {}, run: async () => (await http.get("https://api.example.com/down")).json() } },
  });
  const result = await pack.invoke("get", "{}", { runId: "", task: "", attempt: 1, idempotencyKey: "" });
  assert.deepEqual(result, { tag: "err", val: { code: "unreachable", message: "connection refused", retryable: true, details: undefined } });
});

test("checkExamples runs every example and compares the outputs it gives", async () => {
  const pack = definePack({
    name: "p",
    version: "1.0.0",
    actions: {
      double: {
        description: "",
        input: { type: "integer" },
        output: { type: "integer" },
        examples: [{ input: 2, output: 4 }, { input: 3, output: 7 }, { input: 5 }],
        run: (n) => n * 2,
      },
      fails: { description: "", input: {}, examples: [{ input: 1 }], run: () => http.get("https://api.example.com/") },
    },
  });
  assert.deepEqual(await checkExamples(pack), [
    'action "double", example 1: returned 6, the example says 7',
    'action "fails", example 0: failed with invalid: no orch host to answer GET https://api.example.com/: outside a component there is no host, and no TestHost is installed; use TestHost from "orch-sdk/testing" (`const host = new TestHost()` in the test) and script the reply',
  ]);
});
