// Test guest `jsraw`: a JavaScript pack written against the WIT alone, without orch-sdk. It
// exports `handler` as componentize-js wants it (the contract's records with camelCase fields)
// and lets a plain `Error` escape `invoke` in `explode`. componentize-js lowers a value thrown
// out of a function returning `result<string, action-error>` as the `err` record, so an `Error`
// (no `code`, no `message` string field of a record) makes the component trap; the host's tests
// check what the operator sees then. `fetch_status` uses the platform's `fetch` (wasi:http,
// brokered by the host under the pack's http grants), naming a credential in
// `x-orch-credential` when asked to.
//
// Built by scripts/build-js-packs straight with componentize-js (no bundler: one file).

const OBJECT = JSON.stringify({ type: "object" });

function parseThreshold(text) {
  // A frame of our own in the stack, so a test can look for it.
  throw new Error(`jsraw exploded: ${text} is not a number`);
}

export const handler = {
  describe() {
    return {
      name: "jsraw",
      version: "0.1.0",
      vendor: "orch",
      description: "A raw JavaScript pack whose action throws, and one that uses fetch.",
      actions: [
        {
          name: "explode",
          description: "Throw a plain Error from a nested call.",
          inputSchema: OBJECT,
          outputSchema: OBJECT,
          idempotent: true,
        },
        {
          name: "fetch_status",
          description: "GET a URL with fetch and return its status and body.",
          inputSchema: JSON.stringify({
            type: "object",
            properties: { url: { type: "string" }, credential: { type: "string" } },
            required: ["url"],
          }),
          outputSchema: OBJECT,
          idempotent: true,
        },
      ],
      destinations: [],
    };
  },

  async invoke(action, input, _context) {
    const args = JSON.parse(input);
    if (action === "explode") {
      return JSON.stringify({ threshold: parseThreshold("ten") });
    }
    if (action === "fetch_status") {
      const headers = args.credential ? { "x-orch-credential": args.credential } : {};
      const response = await fetch(args.url, { headers });
      return JSON.stringify({ status: response.status, body: await response.text() });
    }
    // The contract's way to fail: a thrown action-error record (not an Error).
    throw { code: "unknown_action", message: `no action ${action}`, retryable: false, details: undefined };
  },
};
