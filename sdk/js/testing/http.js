// The test host's HTTP: rules answering requests by method and URL (`host.http.on`), and the
// record of every request the action sent (`host.http.requests`).

import { HostError } from "../errors.js";
import { unscripted } from "./unscripted.js";

/** A request the action sent, as the host received it. */
export class SentRequest {
  constructor({ method, url, headers, body, credential, timeoutMs, maxRedirects, maxResponseBytes }) {
    this.method = method;
    this.url = url;
    this.headers = headers;
    this.body = body ?? null;
    this.credential = credential ?? null;
    this.timeoutMs = timeoutMs ?? null;
    this.maxRedirects = maxRedirects ?? null;
    this.maxResponseBytes = maxResponseBytes ?? null;
  }

  /** The first header called `name` (case-insensitive), or null. */
  header(name) {
    const lower = name.toLowerCase();
    const found = this.headers.find(([key]) => key.toLowerCase() === lower);
    return found ? found[1] : null;
  }

  /** The body as text (null without a body). */
  text() {
    return this.body === null ? null : new TextDecoder().decode(this.body);
  }

  /** The body parsed as JSON (null without a body). */
  json() {
    return this.body === null ? null : JSON.parse(this.text());
  }
}

/** One scripted answer; end the chain with `reply`, `replyText`, `replyBytes` or `fail`. A URL
 * ending in `*` matches every URL starting with the rest. */
export class HttpRule {
  constructor(rules, method, url) {
    Object.defineProperty(this, "_rules", { value: rules });
    this.method = method;
    this.url = url;
    this.remaining = null;
    this.headers = [];
    this.answer = null;
  }

  /** Answer one request only (later ones fall through to the next rule). */
  once() {
    return this.times(1);
  }

  /** Answer `count` requests only. */
  times(count) {
    this.remaining = count;
    return this;
  }

  /** Adds a response header. */
  header(name, value) {
    this.headers.push([name, value]);
    return this;
  }

  /** Answers with `status` and `body` as JSON (and `content-type: application/json`). */
  reply(status, body = null) {
    if (!this.headers.some(([k]) => k.toLowerCase() === "content-type")) this.headers.push(["content-type", "application/json"]);
    this.replyBytes(status, new TextEncoder().encode(JSON.stringify(body)));
  }

  /** Answers with `status` and a text body. */
  replyText(status, body) {
    this.replyBytes(status, new TextEncoder().encode(body));
  }

  /** Answers with `status` and a raw body. */
  replyBytes(status, body) {
    this.answer = { status, body: Uint8Array.from(body) };
    this._rules.push(this);
  }

  /** Fails the request as the host would (`timeout`, `denied`, `unreachable`, ...). */
  fail(code, message) {
    this.answer = new HostError(code, message);
    this._rules.push(this);
  }

  matches(method, url) {
    if (this.remaining === 0 || this.method.toUpperCase() !== method.toUpperCase()) return false;
    return this.url.endsWith("*") ? url.startsWith(this.url.slice(0, -1)) : url === this.url;
  }
}

/** The HTTP side of a `TestHost`. */
export class TestHttp {
  constructor() {
    Object.defineProperty(this, "_rules", { value: [] });
    Object.defineProperty(this, "_sent", { value: [] });
  }

  /** A rule for requests with `method` to `url`; the first matching rule answers. */
  on(method, url) {
    return new HttpRule(this._rules, method, url);
  }

  /** Every request the action sent, in order. */
  get requests() {
    return [...this._sent];
  }

  send(request) {
    this._sent.push(new SentRequest(request));
    const { method, url } = request;
    for (const rule of this._rules) {
      if (!rule.matches(method, url)) continue;
      if (rule.remaining !== null) rule.remaining -= 1;
      if (rule.answer instanceof HostError) throw new HostError(rule.answer.code, rule.answer.message);
      return { status: rule.answer.status, headers: rule.headers.map(([k, v]) => [k, v]), body: rule.answer.body.slice(), url };
    }
    throw unscripted(`${method} ${url}`, `host.http.on(${JSON.stringify(method)}, ${JSON.stringify(url)}).reply(...)`);
  }
}
