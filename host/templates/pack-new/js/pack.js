// The `{{name}}` pack: three actions that show the shapes a pack's actions take.
//
// - `summarize` computes from its input alone; its example is run by `orch pack check`.
// - `device_status` asks an HTTP API, with a credential the host injects (the pack never sees
//   it), and turns the API's statuses into error codes workflows can retry on.
// - `uptime` runs a command on a device over SSH, logged in by the host.
//
// Each action declares JSON Schemas for its input and output: the host checks every input
// before the action runs and every output after. `pack.test.js` runs each action natively:
// TestHost from "orch-sdk/testing" answers the http and ssh calls from a script and records
// what the action sent. `npm run build` makes the component ({{name}}.wasm).

import { ActionError, definePack, http, ssh } from "orch-sdk";

export const handler = definePack({
  name: "{{name}}",
  version: "0.1.0",
  vendor: "Your Company",
  description: "What this pack automates, in one sentence.",
  destinations: [
    { kind: "http", pattern: "api.example.com:443", reason: "the monitoring API" },
    { kind: "ssh", pattern: "inventory", reason: "devices of the inventory" },
  ],
  actions: {
    summarize: {
      description: "Count the lines of a text and find the longest.",
      idempotent: true,
      input: {
        type: "object",
        properties: { text: { type: "string", description: "The text to summarise." } },
        required: ["text"],
        additionalProperties: false,
      },
      output: {
        type: "object",
        properties: {
          lines: { type: "integer", description: "Number of lines." },
          longest: { type: ["string", "null"], description: "The longest line, if there is any text." },
        },
        required: ["lines", "longest"],
        additionalProperties: false,
      },
      examples: [
        {
          input: { text: "hostname r1\nntp server 10.0.0.1" },
          output: { lines: 2, longest: "ntp server 10.0.0.1" },
        },
      ],
      run: ({ text }, ctx) => {
        ctx.log.info("summarizing", { bytes: text.length });
        // A final newline ends the last line; it does not start another.
        const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
        const longest = lines.reduce((best, line) => (best === null || line.length > best.length ? line : best), null);
        return { lines: lines.length, longest };
      },
    },

    device_status: {
      description: "Ask the monitoring API for a device's status.",
      idempotent: true,
      input: {
        type: "object",
        properties: {
          device: { type: "string", minLength: 1, maxLength: 64, description: "The device's name in the monitoring API." },
        },
        required: ["device"],
        additionalProperties: false,
      },
      output: {
        type: "object",
        properties: { status: { type: "string", description: "What the API says (`up`, `down`, ...)." } },
        required: ["status"],
        additionalProperties: false,
      },
      run: async ({ device }) => {
        const response = await http.get(`https://api.example.com/v1/devices/${encodeURIComponent(device)}`, {
          credential: "api-token",
          timeoutMs: 10_000,
        });
        // 401/403 → auth_failed; 429 → rate_limited and 5xx → unavailable, both retryable.
        const body = response.errorForStatus().json();
        return { status: body.status };
      },
    },

    uptime: {
      description: "Run `uptime` on an inventory device over SSH.",
      idempotent: true,
      input: {
        type: "object",
        properties: {
          device: { type: "string", description: "The device's name in the inventory: the host supplies its address and login." },
        },
        required: ["device"],
        additionalProperties: false,
      },
      output: {
        type: "object",
        properties: { uptime: { type: "string", description: "What `uptime` printed." } },
        required: ["uptime"],
        additionalProperties: false,
      },
      run: async ({ device }) => {
        const session = await ssh.connect(device);
        const out = await session.exec("uptime", { timeoutMs: 10_000 });
        if (!out.ok) {
          throw new ActionError("command_failed", `uptime on ${device} failed: ${out.stderr.trim()}`);
        }
        return { uptime: out.stdout.trim() };
      },
    },
  },
});
