// Tests of the JSON Schema checker that `call` and definitions use: each keyword it knows, the
// path it names, and that keywords it does not know pass (the host's validator decides those).

import assert from "node:assert/strict";
import { test } from "node:test";

import { checkValue } from "../schema.js";

const passes = (schema, value) => assert.equal(checkValue(schema, value), null, JSON.stringify({ schema, value }));
const fails = (schema, value, path, problem) => {
  const found = checkValue(schema, value);
  assert.ok(found, `expected ${JSON.stringify(value)} to fail ${JSON.stringify(schema)}`);
  assert.equal(found.path, path);
  assert.match(found.problem, problem);
};

test("types, integers included, and boolean schemas", () => {
  passes({ type: "integer" }, 3);
  passes({ type: "integer" }, 3.0);
  fails({ type: "integer" }, 3.5, "", /expected an integer, got the number 3.5/);
  passes({ type: ["string", "null"] }, null);
  fails({ type: ["string", "null"] }, 1, "", /expected a string or a null/);
  fails({ type: "object" }, [], "", /got an array/);
  fails({ type: "number" }, "1", "", /got the string "1"/);
  passes(true, { any: "thing" });
  fails(false, 1, "", /no value is allowed/);
  passes({}, null);
});

test("objects: properties, required, additionalProperties and patternProperties, with paths", () => {
  const schema = {
    type: "object",
    properties: { devices: { type: "array", items: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } } },
    patternProperties: { "^x-": { type: "string" } },
    additionalProperties: false,
  };
  passes(schema, { devices: [{ name: "r1" }], "x-note": "n" });
  fails(schema, { devices: [{ name: "r1" }, {}] }, "devices[1].name", /missing required property/);
  fails(schema, { devices: [{ name: 1 }] }, "devices[0].name", /expected a string/);
  fails(schema, { other: 1 }, "other", /unknown property; the properties are: devices/);
  fails(schema, { "x-note": 1 }, "x-note", /expected a string/);
  passes({ additionalProperties: { type: "integer" } }, { a: 1 });
  fails({ additionalProperties: { type: "integer" } }, { a: "1" }, "a", /expected an integer/);
  fails({ minProperties: 1 }, {}, "", /fewer than 1 properties/);
  fails({ maxProperties: 1 }, { a: 1, b: 2 }, "", /more than 1 properties/);
});

test("arrays, strings and numbers", () => {
  passes({ prefixItems: [{ type: "string" }], items: { type: "integer" } }, ["a", 1, 2]);
  fails({ prefixItems: [{ type: "string" }], items: { type: "integer" } }, ["a", "b"], "[1]", /expected an integer/);
  fails({ minItems: 2 }, [1], "", /fewer than 2 items/);
  fails({ maxItems: 1 }, [1, 2], "", /more than 1 items/);
  fails({ uniqueItems: true }, [{ a: 1 }, { a: 1 }], "", /items 0 and 1 are equal/);
  passes({ minLength: 2, maxLength: 2 }, "é😀"); // code points, not UTF-16 units
  fails({ maxLength: 1 }, "ab", "", /longer than 1/);
  fails({ pattern: "^[a-z]+$" }, "R1", "", /does not match the pattern/);
  passes({ pattern: "(?<!x)y" }, "y");
  fails({ minimum: 1 }, 0, "", /less than the minimum 1/);
  fails({ exclusiveMaximum: 10 }, 10, "", /not less than 10/);
  passes({ multipleOf: 0.1 }, 0.3);
  fails({ multipleOf: 2 }, 3, "", /not a multiple of 2/);
});

test("enum, const and the combinators", () => {
  passes({ enum: ["up", "down", { a: [1] }] }, { a: [1] });
  fails({ enum: ["up", "down"] }, "sideways", "", /expected one of "up", "down"/);
  fails({ const: 3 }, 4, "", /expected 3/);
  passes({ anyOf: [{ type: "string" }, { type: "integer" }] }, 1);
  fails({ anyOf: [{ type: "string" }, { type: "integer" }] }, null, "", /expected a string, got null or expected an integer/);
  fails({ oneOf: [{ type: "integer" }, { minimum: 0 }] }, 1, "", /matches 2 of the oneOf schemas/);
  fails({ allOf: [{ type: "integer" }, { minimum: 5 }] }, 1, "", /less than the minimum 5 \(allOf\[1\]\)/);
  fails({ not: { type: "null" } }, null, "", /matches the schema under `not`/);
});

test("local references, recursive ones included; unknown keywords pass", () => {
  const tree = {
    type: "object",
    properties: { name: { type: "string" }, children: { type: "array", items: { $ref: "#" } }, owner: { $ref: "#/$defs/Owner" } },
    $defs: { Owner: { type: "object", required: ["email"] } },
  };
  passes(tree, { name: "a", children: [{ name: "b", children: [] }], owner: { email: "x" } });
  fails(tree, { children: [{ name: 2 }] }, "children[0].name", /expected a string/);
  fails(tree, { owner: {} }, "owner.email", /missing required property/);
  passes({ $ref: "https://example.com/remote.json" }, 1);
  passes({ format: "email", if: { type: "string" }, then: { minLength: 100 } }, "x");
});
