//! The oracle: every case of `workflow/tests/yaql/cases.json` (Python's yaql 3 with Orquesta's
//! functions, see `generate.py` there) evaluated through orch's real `<% %>` path and compared,
//! types included; for errors, both must fail. Deliberate deviations carry orch's own expected
//! outcome and the reason.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::{Scope, eval_expr, to_mj};
use crate::model::{Delim, Expr, Loc};

const FIXTURE: &str = include_str!("../../tests/yaql/cases.json");

fn sorted(v: &Value) -> Vec<String> {
    let mut items: Vec<String> = v
        .as_array()
        .map(|a| a.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    items.sort();
    items
}

#[test]
fn orch_agrees_with_python_yaql_on_every_case() {
    let fixture: Value = serde_json::from_str(FIXTURE).expect("cases.json is JSON");
    let mut ctx = IndexMap::new();
    if let Some(data) = fixture["data"].as_object() {
        for (k, v) in data {
            ctx.insert(k.clone(), to_mj(v));
        }
    }
    let scope = Scope {
        ctx: Arc::new(ctx),
        ..Scope::default()
    };
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 300, "only {} cases", cases.len());
    let mut wrong = Vec::new();
    let mut deviations = 0;
    for case in cases {
        let code = case["expr"].as_str().expect("expr");
        let got = eval_expr(&Expr::new(code, Delim::Percent, Loc::default()), &scope);
        let expected = match case.get("orch") {
            Some(o) => {
                deviations += 1;
                o
            }
            None => case,
        };
        let ok = match (&got, expected.get("value")) {
            (Ok(v), Some(want))
                if case.get("unordered").is_some() && case.get("orch").is_none() =>
            {
                sorted(v) == sorted(want)
            }
            (Ok(v), Some(want)) => v == want,
            (Err(_), None) => true,
            _ => false,
        };
        if !ok {
            let want = expected
                .get("value")
                .map(|v| format!("value {v}"))
                .unwrap_or_else(|| format!("error ({})", case["error"].as_str().unwrap_or("")));
            let got = match &got {
                Ok(v) => format!("value {v}"),
                Err(e) => format!("error ({})", e.message),
            };
            wrong.push(format!("<% {code} %>\n    yaql: {want}\n    orch: {got}"));
        }
    }
    assert!(deviations > 5, "the deviations are part of the fixture");
    assert!(
        wrong.is_empty(),
        "{} of {} cases differ from Python yaql:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

/// Every function of yaql's standard library is either implemented or refused with a reason,
/// so no yaql name falls through to a bare "unknown function".
#[test]
fn every_yaql_function_is_implemented_or_refused() {
    let fixture: Value = serde_json::from_str(FIXTURE).expect("cases.json is JSON");
    let names = fixture["functions"].as_array().expect("functions");
    assert!(
        names.len() > 100,
        "only {} yaql functions listed",
        names.len()
    );
    let unclassified: Vec<&str> = names
        .iter()
        .filter_map(Value::as_str)
        .filter(|n| !crate::yaql::is_classified(n))
        .collect();
    assert!(
        unclassified.is_empty(),
        "neither implemented nor refused: {unclassified:?}"
    );
}
