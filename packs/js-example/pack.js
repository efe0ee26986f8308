// The `jsexample` pack: orch's example of a pack written in JavaScript.
//
// - `word_stats` computes from its input alone; its example is run by `orch pack check`.
// - `fetch_status` asks an HTTP API through the SDK's `http`, with a credential the host
//   injects (the pack never sees it); a TestHost scripts it in the tests.
// - `fetch_plain` does the same with the platform's own `fetch`, naming the credential in the
//   `x-orch-credential` header: the host brokers wasi:http like its own http interface, so
//   standard clients work unchanged (a TestHost cannot script `fetch`, though).
// - `explode` throws a plain `Error` on purpose: the host's tests check that it arrives as an
//   `unhandled_exception` action error carrying the message and the stack.
//
// Inside this repository the SDK is imported by path; a pack of its own imports "orch-sdk"
// (`npm install path/to/orch/sdk/js`), as `orch pack new NAME --lang js` writes it.
// scripts/build-js-packs builds the component; `node --test` here runs pack.test.js natively.

import { ActionError, definePack, http } from "../../sdk/js/index.js";

export const handler = definePack({
  name: "jsexample",
  version: "0.1.0",
  vendor: "orch",
  description:
    "An example pack written in JavaScript: word counts, an HTTP status check through the SDK and through fetch, and a deliberate failure.",
  destinations: [{ kind: "http", pattern: "api.example.com:443", reason: "the status API fetch_status asks" }],
  actions: {
    word_stats: {
      description: "Count the words and lines of a text and find the most frequent words.",
      idempotent: true,
      input: {
        type: "object",
        properties: {
          text: { type: "string", description: "The text to count the words of." },
          top: { type: "integer", minimum: 0, maximum: 100, default: 3, description: "How many of the most frequent words to return." },
        },
        required: ["text"],
        additionalProperties: false,
      },
      output: {
        type: "object",
        properties: {
          words: { type: "integer", description: "Number of words." },
          lines: { type: "integer", description: "Number of lines." },
          most_common: {
            type: "object",
            additionalProperties: { type: "integer" },
            description: "The most frequent words (lowercased) and their counts.",
          },
        },
        required: ["words", "lines", "most_common"],
        additionalProperties: false,
      },
      examples: [
        {
          input: { text: "the quick fox\nthe lazy dog", top: 1 },
          output: { words: 6, lines: 2, most_common: { the: 2 } },
        },
      ],
      run: wordStats,
    },

    fetch_status: {
      description: "Ask the status API for a device's status, through the SDK's http.",
      idempotent: true,
      input: {
        type: "object",
        properties: {
          device: { type: "string", minLength: 1, maxLength: 64, description: "The device's name in the status API." },
          api: {
            type: "string",
            default: "https://api.example.com",
            description: "The status API's base URL (another one must be granted: orch pack grant jsexample http:URL).",
          },
        },
        required: ["device"],
        additionalProperties: false,
      },
      output: statusOutput(),
      run: async ({ device, api = "https://api.example.com" }, ctx) => {
        const response = await http.get(`${api}/v1/devices/${encodeURIComponent(device)}`, {
          credential: "status-api",
          timeoutMs: 10_000,
        });
        // 401/403 auth_failed; 429 rate_limited and 5xx unavailable, both retryable.
        const body = response.errorForStatus().json();
        ctx.log.info("status fetched", { device, status: body.status });
        return { status: body.status, since: body.since ?? null };
      },
    },

    fetch_plain: {
      description: "Fetch a URL with the standard fetch, naming a credential in x-orch-credential.",
      idempotent: true,
      input: {
        type: "object",
        properties: {
          url: { type: "string", description: "An http or https URL the pack was granted." },
          credential: { type: "string", description: "A vault credential for the host to inject, if any." },
        },
        required: ["url"],
        additionalProperties: false,
      },
      output: {
        type: "object",
        properties: {
          status: { type: "integer" },
          content_type: { type: ["string", "null"] },
          body: { type: "string", description: "The body's first 1 000 characters." },
        },
        required: ["status", "content_type", "body"],
        additionalProperties: false,
      },
      run: async ({ url, credential }) => {
        const headers = credential ? { "x-orch-credential": credential } : {};
        let response;
        try {
          response = await fetch(url, { headers });
        } catch (err) {
          // The host's refusal arrives as fetch's TypeError, its text `code: message`
          // (`denied: pack "jsexample" may not reach …`): report it as the action's error.
          throw new ActionError("fetch_failed", `fetch ${url} failed: ${err.message}`, { details: { url } });
        }
        return {
          status: response.status,
          content_type: response.headers.get("content-type"),
          body: (await response.text()).slice(0, 1000),
        };
      },
    },

    explode: {
      description: "Throw a plain JavaScript Error (to show how the SDK reports one).",
      input: {
        type: "object",
        properties: { reason: { type: "string", default: "on purpose", description: "Put in the error's message." } },
        additionalProperties: false,
      },
      output: statusOutput(),
      run: ({ reason = "on purpose" }) => parseThreshold(reason),
    },
  },
});

function wordStats({ text, top = 3 }, ctx) {
  const words = text.split(/\s+/).filter(Boolean);
  const counts = new Map();
  for (const word of words) {
    const lower = word.toLowerCase();
    counts.set(lower, (counts.get(lower) ?? 0) + 1);
  }
  const ranked = [...counts].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)).slice(0, top);
  ctx.log.info("counted", { words: words.length });
  return { words: words.length, lines: countLines(text), most_common: Object.fromEntries(ranked) };
}

function countLines(text) {
  // As an editor counts them: a final newline ends the last line, it does not start another.
  const lines = text.split(/\r\n|\n|\r/);
  return lines.at(-1) === "" ? lines.length - 1 : lines.length;
}

function parseThreshold(reason) {
  // A helper frame, so the stack shows more than the action's own line.
  throw new Error(`jsexample exploded: ${reason}`);
}

function statusOutput() {
  return {
    type: "object",
    properties: {
      status: { type: "string", description: "What the API says (`up`, `down`, ...)." },
      since: { type: ["string", "null"], description: "When it changed, if the API says." },
    },
    required: ["status"],
    additionalProperties: false,
  };
}
