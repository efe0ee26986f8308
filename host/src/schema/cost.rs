//! What checking an input against a pack's schema costs, bounded before the check runs.
//!
//! A schema comes from a pack, and JSON Schema can make a validator work exponentially: an
//! `anyOf` of two references to a definition that is itself such an `anyOf`, 32 levels deep, is
//! a 2 KB schema whose check of a failing input visits 2^32 subschemas; the same happens through
//! recursion with a deeply nested input. The validator has no budget of its own, and it runs on
//! the host before the sandbox and its deadline. So the host counts first:
//!
//! - at `pack add` ([`check_static`]): every subschema's *fan*, the subschemas applied to the
//!   same part of the input (through `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`,
//!   `dependentSchemas` and `$ref`), counting repeats, must stay under [`MAX_FAN`]; a schema
//!   that refers to itself without descending into the input never ends and is refused;
//! - before every check ([`evaluation_cost`]): the subschema visits the validator could make on
//!   this very input, counted without running it, must stay under [`MAX_VISITS`].
//!
//! Counting over-approximates (every `anyOf` branch, every `patternProperties` schema applied to
//! every property), so an ordinary schema costs about its size times the input's. References are
//! resolved within the document only (`#`, `#/json/pointer`, `#anchor`): the validator is built
//! without remote resolution, and a reference this module cannot follow is refused rather than
//! left uncounted.

use std::collections::HashMap;

use serde_json::Value;

/// Most subschemas one subschema may apply to the same part of the input (repeats counted).
pub const MAX_FAN: u64 = 10_000;
/// Most subschema visits the check of one input may cost.
pub const MAX_VISITS: u64 = 2_000_000;
/// Deepest chain of subschemas and references followed while counting.
const MAX_DEPTH: usize = 512;

/// Keywords whose subschemas apply to the same part of the input, as one schema or a list.
const IN_PLACE_ONE: [&str; 5] = ["not", "if", "then", "else", "$ref"];
const IN_PLACE_LIST: [&str; 3] = ["allOf", "anyOf", "oneOf"];
/// Keywords whose values are maps of subschemas applied to the same part of the input.
const IN_PLACE_MAP: [&str; 2] = ["dependentSchemas", "dependencies"];
/// Keywords this module cannot follow (their targets depend on the evaluation path).
const DYNAMIC: [&str; 2] = ["$dynamicRef", "$recursiveRef"];

/// Why a schema or an input is refused.
pub type CostError = String;

/// The document a schema lives in, with its `$anchor`s.
struct Document<'a> {
    root: &'a Value,
    anchors: HashMap<&'a str, &'a Value>,
}

impl<'a> Document<'a> {
    fn new(root: &'a Value) -> Self {
        let mut anchors = HashMap::new();
        collect_anchors(root, &mut anchors);
        Self { root, anchors }
    }

    /// The subschema a `$ref` names.
    fn resolve(&self, reference: &str) -> Result<&'a Value, CostError> {
        let unsupported = || {
            format!(
                "it uses the reference {reference:?}; the host follows references inside the \
                 schema only (`#`, `#/$defs/...` pointers, `#anchor`)"
            )
        };
        let Some(fragment) = reference.strip_prefix('#') else {
            return Err(unsupported());
        };
        if fragment.is_empty() {
            return Ok(self.root);
        }
        if let Some(pointer) = fragment.strip_prefix('/') {
            let mut node = self.root;
            for token in pointer.split('/') {
                let token = percent_decode(token).replace("~1", "/").replace("~0", "~");
                node = match node {
                    Value::Object(map) => map.get(&token),
                    Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                    _ => None,
                }
                .ok_or_else(|| format!("its reference {reference:?} points at nothing"))?;
            }
            return Ok(node);
        }
        self.anchors.get(fragment).copied().ok_or_else(unsupported)
    }
}

fn collect_anchors<'a>(value: &'a Value, anchors: &mut HashMap<&'a str, &'a Value>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(anchor)) = map.get("$anchor") {
                anchors.insert(anchor.as_str(), value);
            }
            map.values().for_each(|v| collect_anchors(v, anchors));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_anchors(v, anchors)),
        _ => {}
    }
}

fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The subschemas `schema` applies to the same part of the input, with repeats.
fn in_place<'a>(doc: &Document<'a>, schema: &'a Value) -> Result<Vec<&'a Value>, CostError> {
    let Value::Object(map) = schema else {
        return Ok(Vec::new());
    };
    if let Some(keyword) = DYNAMIC.iter().find(|k| map.contains_key(**k)) {
        return Err(format!(
            "it uses {keyword}, whose target the host cannot bound; use $ref"
        ));
    }
    let mut children = Vec::new();
    for keyword in IN_PLACE_ONE {
        match (keyword, map.get(keyword)) {
            ("$ref", Some(Value::String(reference))) => children.push(doc.resolve(reference)?),
            ("$ref", _) | (_, None) => {}
            (_, Some(child)) => children.push(child),
        }
    }
    for keyword in IN_PLACE_LIST {
        if let Some(Value::Array(items)) = map.get(keyword) {
            children.extend(items);
        }
    }
    for keyword in IN_PLACE_MAP {
        if let Some(Value::Object(entries)) = map.get(keyword) {
            // `dependencies` (draft 7) mixes schemas and lists of names: only objects and
            // booleans are schemas.
            children.extend(entries.values().filter(|v| v.is_object() || v.is_boolean()));
        }
    }
    Ok(children)
}

/// Where a subschema applies inside the input: to one property, to every property (and its
/// key), to every item.
enum Descent<'a> {
    Property(&'a str, &'a Value),
    EveryProperty(&'a Value),
    EveryKey(&'a Value),
    EveryItem(&'a Value),
}

fn descents(schema: &Value) -> Vec<Descent<'_>> {
    let Value::Object(map) = schema else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(Value::Object(properties)) = map.get("properties") {
        out.extend(
            properties
                .iter()
                .map(|(name, child)| Descent::Property(name, child)),
        );
    }
    if let Some(Value::Object(patterns)) = map.get("patternProperties") {
        out.extend(patterns.values().map(Descent::EveryProperty));
    }
    for keyword in ["additionalProperties", "unevaluatedProperties"] {
        if let Some(child) = map.get(keyword) {
            out.push(Descent::EveryProperty(child));
        }
    }
    if let Some(child) = map.get("propertyNames") {
        out.push(Descent::EveryKey(child));
    }
    for keyword in [
        "items",
        "prefixItems",
        "additionalItems",
        "contains",
        "unevaluatedItems",
    ] {
        match map.get(keyword) {
            Some(Value::Array(children)) => out.extend(children.iter().map(Descent::EveryItem)),
            Some(child) => out.push(Descent::EveryItem(child)),
            None => {}
        }
    }
    out
}

/// Keywords whose values are data, not schemas.
const DATA: [&str; 4] = ["const", "enum", "default", "examples"];

/// Every subschema of `value` (where any keyword could hold one), for the static check.
fn subschemas<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            out.push(value);
            map.iter()
                .filter(|(key, _)| !DATA.contains(&key.as_str()))
                .for_each(|(_, v)| subschemas(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| subschemas(v, out)),
        _ => {}
    }
}

/// Checks `schema` at `pack add`: every subschema's fan stays under [`MAX_FAN`], no subschema
/// refers to itself without descending into the input, and every reference can be followed.
pub fn check_static(schema: &Value) -> Result<(), CostError> {
    let doc = Document::new(schema);
    let mut all = Vec::new();
    subschemas(schema, &mut all);
    let mut fans: HashMap<*const Value, u64> = HashMap::new();
    for node in all {
        let fan = fan(&doc, node, &mut fans, &mut Vec::new())?;
        if fan > MAX_FAN {
            return Err(format!(
                "one of its subschemas applies {fan} subschemas to the same value (through \
                 anyOf/allOf/oneOf/not/if/$ref, repeats counted); the host accepts at most \
                 {MAX_FAN}, since checking an input against it could take exponential time"
            ));
        }
    }
    Ok(())
}

/// 1 + the fans of the subschemas `node` applies in place, memoized; a cycle is an error.
fn fan<'a>(
    doc: &Document<'a>,
    node: &'a Value,
    memo: &mut HashMap<*const Value, u64>,
    path: &mut Vec<*const Value>,
) -> Result<u64, CostError> {
    let id: *const Value = node;
    if let Some(known) = memo.get(&id) {
        return Ok(*known);
    }
    if path.contains(&id) {
        return Err(
            "it refers to itself without descending into the input, so checking any input \
             against it never ends"
                .to_owned(),
        );
    }
    if path.len() >= MAX_DEPTH {
        return Err(format!(
            "its references chain more than {MAX_DEPTH} subschemas deep"
        ));
    }
    path.push(id);
    let mut total: u64 = 1;
    for child in in_place(doc, node)? {
        total = total.saturating_add(fan(doc, child, memo, path)?);
    }
    path.pop();
    memo.insert(id, total);
    Ok(total)
}

/// The subschema visits checking `input` against `schema` may cost (an upper bound), or an
/// error once it passes [`MAX_VISITS`].
pub fn evaluation_cost(schema: &Value, input: &Value) -> Result<u64, CostError> {
    let doc = Document::new(schema);
    let mut counter = Counter {
        doc: &doc,
        memo: HashMap::new(),
        depth: 0,
    };
    let cost = counter.visit(schema, input)?;
    if cost > MAX_VISITS {
        return Err(too_costly(cost));
    }
    Ok(cost)
}

fn too_costly(cost: u64) -> CostError {
    format!(
        "checking this input against the action's schema would visit more than {} subschemas \
         (at least {cost}); the host refuses checks that costly: the pack's schema is \
         pathological for an input shaped like this one",
        MAX_VISITS
    )
}

struct Counter<'d, 'a> {
    doc: &'d Document<'a>,
    memo: HashMap<(*const Value, *const Value), u64>,
    depth: usize,
}

impl<'a> Counter<'_, 'a> {
    fn visit(&mut self, schema: &'a Value, input: &Value) -> Result<u64, CostError> {
        let key: (*const Value, *const Value) = (schema, input);
        if let Some(known) = self.memo.get(&key) {
            return Ok(*known);
        }
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "checking this input follows more than {MAX_DEPTH} nested subschemas"
            ));
        }
        self.depth += 1;
        let result = self.visit_uncached(schema, input);
        self.depth -= 1;
        let cost = result?;
        if cost > MAX_VISITS {
            return Err(too_costly(cost));
        }
        self.memo.insert(key, cost);
        Ok(cost)
    }

    fn visit_uncached(&mut self, schema: &'a Value, input: &Value) -> Result<u64, CostError> {
        let mut total: u64 = 1;
        for child in in_place(self.doc, schema)? {
            total = total.saturating_add(self.visit(child, input)?);
            if total > MAX_VISITS {
                return Ok(total);
            }
        }
        for descent in descents(schema) {
            let added = match (descent, input) {
                (Descent::Property(name, child), Value::Object(map)) => match map.get(name) {
                    Some(value) => self.visit(child, value)?,
                    None => 0,
                },
                (Descent::EveryProperty(child), Value::Object(map)) => {
                    let mut sum: u64 = 0;
                    for value in map.values() {
                        sum = sum.saturating_add(self.visit(child, value)?);
                    }
                    sum
                }
                (Descent::EveryKey(child), Value::Object(map)) => {
                    let per_key = self.visit(child, &Value::Null)?;
                    per_key.saturating_mul(map.len() as u64)
                }
                (Descent::EveryItem(child), Value::Array(items)) => {
                    let mut sum: u64 = 0;
                    for value in items {
                        sum = sum.saturating_add(self.visit(child, value)?);
                    }
                    sum
                }
                _ => 0,
            };
            total = total.saturating_add(added);
            if total > MAX_VISITS {
                return Ok(total);
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `levels` levels of `anyOf: [$ref next, {allOf: [$ref next]}]`.
    fn bomb(levels: usize) -> Value {
        let mut defs = serde_json::Map::new();
        for level in 0..levels {
            let next = json!({ "$ref": format!("#/$defs/l{}", level + 1) });
            defs.insert(
                format!("l{level}"),
                json!({ "anyOf": [next.clone(), { "allOf": [next] }] }),
            );
        }
        defs.insert(format!("l{levels}"), json!({ "type": "string" }));
        json!({ "$defs": defs, "$ref": "#/$defs/l0" })
    }

    #[test]
    fn ordinary_schemas_pass_and_cost_about_their_size() {
        let schema = json!({
            "type": "object",
            "properties": {
                "device": { "$ref": "#/$defs/name" },
                "commands": { "type": "array", "items": { "type": "string" } },
                "mode": { "anyOf": [{ "const": "merge" }, { "const": "replace" }] }
            },
            "required": ["device"],
            "$defs": { "name": { "type": "string", "minLength": 1 } }
        });
        check_static(&schema).unwrap();
        let input = json!({ "device": "r1", "commands": ["a", "b", "c"], "mode": "merge" });
        let cost = evaluation_cost(&schema, &input).unwrap();
        assert!((5..30).contains(&cost), "{cost}");
    }

    #[test]
    fn refuses_an_exponential_fan_of_references() {
        assert!(check_static(&bomb(8)).is_ok(), "2^8 paths is fine");
        let err = check_static(&bomb(32)).unwrap_err();
        assert!(err.contains("at most 10000"), "{err}");
        let err = evaluation_cost(&bomb(32), &json!(1)).unwrap_err();
        assert!(err.contains("more than 2000000"), "{err}");
    }

    #[test]
    fn refuses_a_schema_that_refers_to_itself_in_place() {
        for schema in [
            json!({ "$ref": "#" }),
            json!({ "$defs": { "a": { "anyOf": [{ "$ref": "#/$defs/b" }] }, "b": { "not": { "$ref": "#/$defs/a" } } }, "$ref": "#/$defs/a" }),
            json!({ "$defs": { "a": { "$anchor": "x", "allOf": [{ "$ref": "#x" }] } }, "$ref": "#x" }),
        ] {
            let err = check_static(&schema).unwrap_err();
            assert!(err.contains("never ends"), "{schema}: {err}");
        }
    }

    #[test]
    fn bounds_recursion_through_the_input_by_the_input() {
        // A tree: fine for any input, since each level descends into a different value.
        let tree = json!({
            "$defs": { "node": { "type": "object", "properties": {
                "left": { "$ref": "#/$defs/node" }, "right": { "$ref": "#/$defs/node" } } } },
            "$ref": "#/$defs/node"
        });
        check_static(&tree).unwrap();
        let mut input = json!({});
        for _ in 0..60 {
            input = json!({ "left": input.clone(), "right": {} });
        }
        assert!(evaluation_cost(&tree, &input).unwrap() < 1_000);
        // Two branches applied to the same child at every level: 2^depth visits.
        let doubling = json!({
            "$defs": { "node": { "anyOf": [
                { "properties": { "x": { "$ref": "#/$defs/node" } } },
                { "properties": { "x": { "$ref": "#/$defs/node" } }, "required": ["x"] } ] } },
            "$ref": "#/$defs/node"
        });
        check_static(&doubling).unwrap();
        let mut shallow = json!(1);
        for _ in 0..5 {
            shallow = json!({ "x": shallow });
        }
        assert!(evaluation_cost(&doubling, &shallow).is_ok());
        let mut deep = json!(1);
        for _ in 0..40 {
            deep = json!({ "x": deep });
        }
        assert!(evaluation_cost(&doubling, &deep).is_err());
    }

    #[test]
    fn refuses_references_it_cannot_follow() {
        for schema in [
            json!({ "$ref": "other.json#/a" }),
            json!({ "$ref": "#/$defs/missing" }),
            json!({ "$dynamicRef": "#meta" }),
        ] {
            assert!(check_static(&schema).is_err(), "{schema}");
        }
        // Pointer escapes are followed.
        let escaped = json!({ "$defs": { "a/b": { "type": "string" } }, "$ref": "#/$defs/a~1b" });
        check_static(&escaped).unwrap();
    }
}
