// The checks `orch pack add` makes on a pack's definition (names, version, destinations),
// mirrored from the Rust SDK's `rules.rs` (as the Python SDK's `rules.py` is) so `validate()`
// finds the same problems in a native test, before a build. The host's parser is the
// authority; `sdk/tests/destination_cases.json` is the table every side's tests read, so a
// disagreement shows up as a failing row.

export const MAX_ACTIONS = 4096;
export const MAX_DESTINATIONS = 256;
export const MAX_SCHEMA_BYTES = 512 << 10;
export const MAX_SHORT_TEXT = 256;
export const MAX_DESCRIPTION = 4096;
export const MAX_NAME = 64;

export const DESTINATION_KINDS = Object.freeze(["http", "ssh", "catalog"]);

const PACK_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const ACTION_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const COLLECTION = /^[a-z0-9_-]{1,64}$/;
const LABEL = /^[A-Za-z0-9_-]{1,63}$/;
const IDENTIFIER = /^[A-Za-z0-9-]+$/;
const DIGITS = /^[0-9]+$/;

export const BINDING_HINT =
  "expected HOST[:PORT] such as api.example.com, *.example.com:443, 10.0.0.0/24:22 or [2001:db8::1]:443";

export function isPackName(name) {
  return typeof name === "string" && PACK_NAME.test(name);
}

export function isActionName(name) {
  return typeof name === "string" && ACTION_NAME.test(name);
}

/** null for a semantic version (`1.4.0`, `2.0.0-rc.1+b5`), else why not. */
export function checkVersion(version) {
  if (typeof version !== "string") return "not a string";
  const [withoutBuild, ...buildParts] = version.split("+");
  const build = buildParts.length ? buildParts.join("+") : null;
  const dash = withoutBuild.indexOf("-");
  const core = dash < 0 ? withoutBuild : withoutBuild.slice(0, dash);
  const pre = dash < 0 ? null : withoutBuild.slice(dash + 1);
  const parts = core.split(".");
  if (parts.length !== 3) return "expected MAJOR.MINOR.PATCH, such as 1.4.0";
  for (const part of parts) {
    if (!DIGITS.test(part)) return `${JSON.stringify(part)} is not a number`;
    if (part.length > 1 && part.startsWith("0")) return `${JSON.stringify(part)} has a leading zero`;
    if (BigInt(part) >= 1n << 64n) return `${JSON.stringify(part)} is too large`;
  }
  if (pre !== null) {
    for (const identifier of pre.split(".")) {
      const problem = checkIdentifier(identifier, "pre-release");
      if (problem) return problem;
      if (DIGITS.test(identifier) && identifier.length > 1 && identifier.startsWith("0")) {
        return `pre-release identifier ${JSON.stringify(identifier)} has a leading zero`;
      }
    }
  }
  if (build !== null) {
    for (const identifier of build.split(".")) {
      const problem = checkIdentifier(identifier, "build metadata");
      if (problem) return problem;
    }
  }
  return null;
}

function checkIdentifier(identifier, what) {
  if (!identifier) return `empty ${what} identifier`;
  if (!IDENTIFIER.test(identifier)) {
    return `${what} identifier ${JSON.stringify(identifier)} has characters other than letters, digits and '-'`;
  }
  return null;
}

/** null for a destination `orch pack add` accepts, else why not and the fix. */
export function checkDestination(kind, pattern) {
  if (typeof pattern !== "string") return "the pattern must be a string";
  const length = utf8Length(pattern);
  if (length > MAX_SHORT_TEXT) return `the pattern is ${length} bytes; the host accepts at most ${MAX_SHORT_TEXT}`;
  if (kind === "catalog") {
    if (pattern.toLowerCase() === "inventory" || pattern === "*" || COLLECTION.test(pattern)) return null;
    return "a catalog destination is `inventory`, `*` or a collection name of 1-64 lowercase letters, digits, '_' and '-' (such as `configs`)";
  }
  if (kind === "ssh") {
    if (pattern.toLowerCase() === "inventory") return null;
    if (pattern.includes("://")) return "an ssh destination takes no scheme; write HOST[:PORT]";
    return checkBinding(pattern);
  }
  if (kind === "http") {
    let host = pattern;
    const at = pattern.indexOf("://");
    if (at >= 0) {
      const scheme = pattern.slice(0, at);
      host = pattern.slice(at + 3);
      if (!["http", "https"].includes(scheme.toLowerCase())) {
        return `unknown scheme ${JSON.stringify(scheme)}; write http:// or https:// (or nothing, for https)`;
      }
    }
    if (host.endsWith("/")) host = host.slice(0, -1);
    if (host.includes("/") && !looksLikeCidr(host)) {
      return "a destination names a host, not a path: drop everything from the first '/' (the grant covers every path on the host)";
    }
    return checkBinding(host);
  }
  return `unknown kind ${JSON.stringify(kind)}; the kinds are \`http\`, \`ssh\` and \`catalog\``;
}

function isCidr(text) {
  const slash = text.indexOf("/");
  if (slash < 0) return false;
  const address = text.slice(0, slash);
  const prefix = text.slice(slash + 1);
  if (!DIGITS.test(prefix) || prefix.length > 3) return false;
  const version = ipVersion(address);
  if (version === 0) return false;
  return Number(prefix) <= (version === 4 ? 32 : 128);
}

function looksLikeCidr(host) {
  const colon = host.lastIndexOf(":");
  if (colon >= 0 && DIGITS.test(host.slice(colon + 1))) host = host.slice(0, colon);
  return isCidr(host.replace(/^\[+/, "").replace(/\]+$/, ""));
}

function checkBinding(pattern) {
  const bad = (reason) => `${reason}; ${BINDING_HINT}`;
  let host;
  let port;
  if (pattern.startsWith("[")) {
    const close = pattern.indexOf("]", 1);
    if (close < 0) return bad("missing ']'");
    const inside = pattern.slice(1, close);
    const after = pattern.slice(close + 1);
    if (!after) port = null;
    else if (after.startsWith(":")) port = after.slice(1);
    else return bad("expected ':PORT' after ']'");
    if (!inside.includes(":")) return bad("brackets are only for IPv6 addresses");
    host = inside;
  } else {
    const colon = pattern.indexOf(":");
    host = colon < 0 ? pattern : pattern.slice(0, colon);
    port = colon < 0 ? null : pattern.slice(colon + 1);
  }
  if (port !== null) {
    if (!(DIGITS.test(port) && Number(port) > 0 && Number(port) < 65536)) {
      return bad("the port must be a number from 1 to 65535");
    }
  }
  const problem = checkHost(host);
  return problem ? bad(problem) : null;
}

function checkHost(host) {
  if (!host) return "the host is empty";
  if (host.includes("/")) return isCidr(host) ? null : "not a valid CIDR range";
  if (ipVersion(host) !== 0) return null;
  const wildcard = host.startsWith("*.");
  let name = wildcard ? host.slice(2) : host;
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name.includes("*")) return "'*' is only allowed as a whole first label ('*.example.com')";
  const labels = name.split(".");
  const valid = labels.every((label) => LABEL.test(label) && !label.startsWith("-") && !label.endsWith("-"));
  if (name.length > 253 || !valid) return "not a valid host name";
  if (DIGITS.test(labels[labels.length - 1])) return "not a valid host name or IP address";
  if (wildcard && labels.length < 2) return "a wildcard needs a domain with at least two labels ('*.example.com')";
  return null;
}

/** 4 or 6 for an IP address as Rust's `IpAddr` parses one (dotted decimal without leading
 * zeros; IPv6 with at most one `::` and an optional dotted tail, no zone), else 0. */
export function ipVersion(text) {
  if (isIpv4(text)) return 4;
  if (isIpv6(text)) return 6;
  return 0;
}

function isIpv4(text) {
  const parts = text.split(".");
  return (
    parts.length === 4 &&
    parts.every((p) => DIGITS.test(p) && p.length <= 3 && Number(p) <= 255 && (p.length === 1 || !p.startsWith("0")))
  );
}

function isIpv6(text) {
  if (!text.includes(":")) return false;
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groups = (half) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const all = [...head, ...tail];
  let count = 0;
  for (const [i, group] of all.entries()) {
    if (i === all.length - 1 && group.includes(".")) {
      if (!isIpv4(group)) return false;
      count += 2;
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(group)) {
      count += 1;
    } else {
      return false;
    }
  }
  return halves.length === 2 ? count <= 7 : count === 8;
}

export function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}
