// A JSON Schema (draft 2020-12) checker for native tests and declarations: the host validates
// every input against the action's input schema before the pack runs and holds every output to
// the output schema, so `pack.call` in a test does the same, and a declared example that its own
// schema refuses fails the pack's tests and its build, never `orch pack check`.
//
// It checks the keywords packs use (type, enum, const, properties, required,
// additionalProperties, patternProperties, items, prefixItems, min/maxItems, uniqueItems,
// min/maxLength, pattern, minimum, maximum, exclusive bounds, multipleOf, min/maxProperties,
// allOf, anyOf, oneOf, not, local $ref). Others (format, if/then/else, dependentSchemas, …) are
// left to the host's complete validator: a value this checker accepts may still be refused
// there, never the other way round.

export const DRAFT = "https://json-schema.org/draft/2020-12/schema";

/**
 * The first problem of `value` against `schema`, as `{path, problem}` (`path` like
 * `devices[2].name`, empty at the top), or null when it passes.
 */
export function checkValue(schema, value) {
  return check(schema, value, "", schema, 0);
}

function check(schema, value, path, root, depth) {
  if (schema === true || schema === undefined) return null;
  if (schema === false) return { path, problem: "no value is allowed here" };
  if (typeof schema !== "object" || schema === null) return null;
  if (depth > 64) return null; // a recursive $ref over a deep value: the host decides
  if (typeof schema.$ref === "string") {
    const target = resolve(root, schema.$ref);
    if (target !== undefined) {
      const found = check(target, value, path, root, depth + 1);
      if (found) return found;
    }
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => isType(value, t))) {
      return { path, problem: `expected ${types.map(article).join(" or ")}, got ${kind(value)}` };
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((allowed) => equal(allowed, value))) {
    return { path, problem: `expected one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}, got ${kind(value)}` };
  }
  if ("const" in schema && !equal(schema.const, value)) {
    return { path, problem: `expected ${JSON.stringify(schema.const)}, got ${kind(value)}` };
  }
  for (const [i, sub] of (Array.isArray(schema.allOf) ? schema.allOf : []).entries()) {
    const found = check(sub, value, path, root, depth + 1);
    if (found) return { path: found.path, problem: `${found.problem} (allOf[${i}])` };
  }
  if (Array.isArray(schema.anyOf)) {
    const problems = schema.anyOf.map((sub) => check(sub, value, path, root, depth + 1));
    if (problems.every(Boolean)) return { path, problem: problems.map((p) => p.problem).join(" or ") };
  }
  if (Array.isArray(schema.oneOf)) {
    const passing = schema.oneOf.filter((sub) => !check(sub, value, path, root, depth + 1)).length;
    if (passing !== 1) return { path, problem: `matches ${passing} of the oneOf schemas, expected exactly 1` };
  }
  if (schema.not !== undefined && !check(schema.not, value, path, root, depth + 1)) {
    return { path, problem: "matches the schema under `not`" };
  }
  if (typeof value === "string") {
    const length = [...value].length; // JSON Schema counts code points, not UTF-16 units
    if (typeof schema.minLength === "number" && length < schema.minLength) {
      return { path, problem: `shorter than ${schema.minLength} characters` };
    }
    if (typeof schema.maxLength === "number" && length > schema.maxLength) {
      return { path, problem: `longer than ${schema.maxLength} characters` };
    }
    if (typeof schema.pattern === "string") {
      const regex = compile(schema.pattern);
      if (regex && !regex.test(value)) return { path, problem: `does not match the pattern ${schema.pattern}` };
    }
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) return { path, problem: `less than the minimum ${schema.minimum}` };
    if (typeof schema.maximum === "number" && value > schema.maximum) return { path, problem: `more than the maximum ${schema.maximum}` };
    if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) {
      return { path, problem: `not more than ${schema.exclusiveMinimum}` };
    }
    if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum) {
      return { path, problem: `not less than ${schema.exclusiveMaximum}` };
    }
    if (typeof schema.multipleOf === "number" && schema.multipleOf > 0) {
      const ratio = value / schema.multipleOf;
      if (Math.abs(ratio - Math.round(ratio)) > 1e-9) return { path, problem: `not a multiple of ${schema.multipleOf}` };
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) return { path, problem: `fewer than ${schema.minItems} items` };
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) return { path, problem: `more than ${schema.maxItems} items` };
    const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
    for (const [i, item] of value.entries()) {
      const sub = i < prefix.length ? prefix[i] : schema.items;
      const found = check(sub, item, `${path}[${i}]`, root, depth + 1);
      if (found) return found;
    }
    if (schema.uniqueItems === true) {
      for (let i = 0; i < value.length; i += 1) {
        for (let j = i + 1; j < value.length; j += 1) {
          if (equal(value[i], value[j])) return { path, problem: `items ${i} and ${j} are equal; items must be unique` };
        }
      }
    }
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (typeof schema.minProperties === "number" && keys.length < schema.minProperties) {
      return { path, problem: `fewer than ${schema.minProperties} properties` };
    }
    if (typeof schema.maxProperties === "number" && keys.length > schema.maxProperties) {
      return { path, problem: `more than ${schema.maxProperties} properties` };
    }
    for (const name of Array.isArray(schema.required) ? schema.required : []) {
      if (!Object.hasOwn(value, name)) return { path: join(path, name), problem: "missing required property" };
    }
    const properties = isObject(schema.properties) ? schema.properties : {};
    const patterns = isObject(schema.patternProperties)
      ? Object.entries(schema.patternProperties).map(([p, sub]) => [compile(p), sub])
      : [];
    for (const key of keys) {
      let matched = false;
      if (Object.hasOwn(properties, key)) {
        matched = true;
        const found = check(properties[key], value[key], join(path, key), root, depth + 1);
        if (found) return found;
      }
      for (const [regex, sub] of patterns) {
        if (regex && regex.test(key)) {
          matched = true;
          const found = check(sub, value[key], join(path, key), root, depth + 1);
          if (found) return found;
        }
      }
      if (!matched && schema.additionalProperties !== undefined) {
        if (schema.additionalProperties === false) {
          const known = Object.keys(properties);
          return {
            path: join(path, key),
            problem: `unknown property; the properties are: ${known.length ? known.join(", ") : "none"}`,
          };
        }
        const found = check(schema.additionalProperties, value[key], join(path, key), root, depth + 1);
        if (found) return found;
      }
    }
  }
  return null;
}

function resolve(root, ref) {
  if (ref === "#") return root;
  if (!ref.startsWith("#/")) return undefined; // a remote reference: the host resolves it
  let node = root;
  for (const raw of ref.slice(2).split("/")) {
    const part = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node;
}

function isType(value, type) {
  switch (type) {
    case "null":
      return value === null;
    case "boolean":
      return typeof value === "boolean";
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "integer":
      return Number.isInteger(value);
    case "array":
      return Array.isArray(value);
    case "object":
      return isObject(value);
    default:
      return true;
  }
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function article(type) {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** How a value is named in a message: `the string "two"`, `an array`, `null`. */
export function kind(value) {
  if (value === null) return "null";
  if (typeof value === "boolean") return `the boolean ${value}`;
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "string") {
    const shown = [...value].length <= 40 ? value : `${[...value].slice(0, 40).join("")}…`;
    return `the string ${JSON.stringify(shown)}`;
  }
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

/** Equality of JSON values, as JSON Schema's `enum`, `const` and `uniqueItems` have it. */
export function equal(a, b) {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => equal(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
  }
  return false;
}

function join(path, key) {
  return path ? `${path}.${key}` : String(key);
}

const compiled = new Map();
function compile(pattern) {
  if (!compiled.has(pattern)) {
    let regex = null;
    try {
      regex = new RegExp(pattern, "u");
    } catch {
      // Not a JavaScript regular expression: the host's regex dialect decides.
    }
    compiled.set(pattern, regex);
  }
  return compiled.get(pattern);
}
