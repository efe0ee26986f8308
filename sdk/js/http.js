// Outbound HTTP made by the host on the pack's behalf (the `http` import).
//
// The host checks every request against the pack's network grant, resolves and checks every
// address, follows redirects itself, caps the response, and injects a named vault credential
// (`credential: "servicenow"`) only where its binding allows: the pack never sees the secret.
//
//     import { http } from "orch-sdk";
//
//     const ticket = (
//       await http.post("https://acme.service-now.com/api/now/table/change_request", {
//         json: { short_description: "upgrade r1" },
//         credential: "servicenow",
//         timeoutMs: 10_000,
//       })
//     ).errorForStatus().json();
//
// A request fails (`HostError`) only when no response came: `denied`, `timeout`, `unreachable`,
// `too_large`, ... Any status the server answered, 404 and 503 included, is a `Response`; check
// it, or turn it into an `ActionError` with `errorForStatus()`:
//
//     status      code          retryable
//     100-399     (passes)
//     401, 403    auth_failed   no
//     429         rate_limited  yes
//     500-599     unavailable   yes
//     other 400+  http_status   no
//
// Plain `fetch` works in a component too (componentize-js speaks wasi:http, which the host
// brokers the same way; name a credential with the header `x-orch-credential`), but it cannot
// be scripted by a TestHost; these functions can.

import { current } from "./backend.js";
import { ActionError, HostError } from "./errors.js";

export const STATUS_AUTH_FAILED = "auth_failed";
export const STATUS_RATE_LIMITED = "rate_limited";
export const STATUS_UNAVAILABLE = "unavailable";
export const STATUS_HTTP_STATUS = "http_status";

/** The response to a request: `status`, `headers` (`[name, value]` pairs in the order
 * received), `body` (a Uint8Array, whole) and `url` (after redirects). */
export class Response {
  constructor(status, headers, body, url) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.url = url;
  }

  /** Whether the status is 2xx. */
  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /** The value of the first header called `name` (case-insensitive), or null. */
  header(name) {
    return findHeader(this.headers, name);
  }

  /** The body as text; invalid UTF-8 is replaced by U+FFFD. */
  text() {
    return new TextDecoder().decode(this.body);
  }

  /** The body parsed as JSON. A body that is not JSON is the peer's fault, not the input's: it
   * throws `HostError("protocol", …)`. */
  json() {
    try {
      return JSON.parse(this.text());
    } catch (err) {
      throw new HostError("protocol", `response from ${this.url} (status ${this.status}) is not the expected json: ${err.message}`);
    }
  }

  /**
   * This response if its status is below 400; otherwise throws the `ActionError` a workflow's
   * `retry:` acts on (see the table above), with a message naming the URL (without its query)
   * and the status, and details `{status, url}` plus `retry_after` when the server sent
   * `Retry-After`. The body is never copied into the error: it can be large, and it is the
   * peer's text.
   */
  errorForStatus() {
    const status = this.status;
    if (status < 400) return this;
    let code = STATUS_HTTP_STATUS;
    let retryable = false;
    if (status === 401 || status === 403) code = STATUS_AUTH_FAILED;
    else if (status === 429) [code, retryable] = [STATUS_RATE_LIMITED, true];
    else if (status >= 500 && status <= 599) [code, retryable] = [STATUS_UNAVAILABLE, true];
    const shown = this.url.split("?", 1)[0].split("#", 1)[0];
    const details = { status, url: this.url };
    const retryAfter = this.header("retry-after");
    if (retryAfter !== null) details.retry_after = retryAfter;
    throw new ActionError(code, `${shown} answered ${status}`, { retryable, details });
  }
}

/**
 * Sends one request through the host and resolves to the whole response.
 *
 * Options: `headers` (an object or `[name, value]` pairs), `json` (the body as JSON, with
 * `content-type: application/json` unless one was given), `body` (a string or Uint8Array),
 * `credential` (a vault credential the host injects), `timeoutMs` (the whole exchange; host
 * default 30 000, never past the invocation's deadline), `maxRedirects` (default 5; 0 returns
 * the 3xx itself), `maxResponseBytes` (default and maximum: the host's cap, 16 MiB).
 *
 * @returns {Promise<Response>}
 */
export async function request(method, url, options = {}) {
  const { headers, json, body, credential, timeoutMs, maxRedirects, maxResponseBytes } = options;
  const pairs = headerPairs(headers);
  let data = typeof body === "string" ? new TextEncoder().encode(body) : body ?? undefined;
  if (json !== undefined) {
    let text;
    try {
      text = JSON.stringify(json);
    } catch (err) {
      throw new HostError("invalid", `request body for ${url} could not be serialised to json: ${err.message}`);
    }
    data = new TextEncoder().encode(text);
    if (findHeader(pairs, "content-type") === null) pairs.push(["content-type", "application/json"]);
  }
  if (data !== undefined && !(data instanceof Uint8Array)) {
    throw new HostError("invalid", `request body for ${url} must be a string or a Uint8Array`);
  }
  const host = current(`${method} ${url}`);
  const r = host.httpSend({
    method,
    url,
    headers: pairs,
    body: data,
    timeoutMs: clampU32(timeoutMs),
    credential: credential ?? undefined,
    // A u8 in the contract, which the bindings would wrap (300 → 44): clamp instead.
    maxRedirects: maxRedirects === undefined || maxRedirects === null ? undefined : Math.min(clampU32(maxRedirects), 255),
    maxResponseBytes: clampU32(maxResponseBytes),
  });
  return new Response(r.status, r.headers.map(([k, v]) => [k, v]), r.body, r.url);
}

/** A GET request; options as for `request`. */
export const get = (url, options) => request("GET", url, options);
/** A HEAD request; options as for `request`. */
export const head = (url, options) => request("HEAD", url, options);
/** A POST request; options as for `request`. */
export const post = (url, options) => request("POST", url, options);
/** A PUT request; options as for `request`. */
export const put = (url, options) => request("PUT", url, options);
/** A PATCH request; options as for `request`. */
export const patch = (url, options) => request("PATCH", url, options);
/** A DELETE request; options as for `request`. */
const del = (url, options) => request("DELETE", url, options);
/** An OPTIONS request; options as for `request`. */
export const options = (url, opts) => request("OPTIONS", url, opts);
export { del as delete };

function headerPairs(headers) {
  if (headers === undefined || headers === null) return [];
  const items = Array.isArray(headers) ? headers : Object.entries(headers);
  return items.map(([name, value]) => [String(name), String(value)]);
}

function findHeader(headers, name) {
  const lower = name.toLowerCase();
  for (const [key, value] of headers) {
    if (key.toLowerCase() === lower) return value;
  }
  return null;
}

/** A duration or size as the contract's u32, or undefined. The generated bindings wrap a
 * number out of range (`>>> 0`), so a negative timeout would become 49 days: clamp instead. */
export function clampU32(value) {
  if (value === undefined || value === null) return undefined;
  const n = Math.trunc(Number(value));
  if (!Number.isFinite(n)) return undefined;
  return Math.min(Math.max(n, 0), 0xffffffff);
}
