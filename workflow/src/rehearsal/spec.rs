//! The test spec of `orch workflow test`: which workflow, its input, the mocked outcome of each
//! action, and the run expected (executions in order, final status, output, errors).
//!
//! ```yaml
//! workflow: ../config-drift.yaml        # relative to the spec
//! input: { device: r1 }
//! mocks:                                # default: every action succeeds with null
//!   fetch: { succeeded: { config: "hostname r1" } }
//!   push#2: failed                      # the second execution of push
//!   backup[1]: { failed: { message: unreachable } }   # item 1 of a fan-out
//!   poll@3: succeeded                   # the third attempt (a retry)
//!   approve: running                    # never answers: the run stays running
//! expect:
//!   executions: [fetch, compare, push#1, push#2: { status: failed }]
//!   status: failed
//!   output: { changed: true }
//!   errors: [{ kind: task_failed, task: push }]
//! reruns:                               # then re-run the failed run (Orquesta's rerun)
//!   - tasks: [push]                     # default: every task that failed unhandled
//!     mocks: { push: succeeded }        # this rerun's own mocks
//!     expect:                           # the whole history so far
//!       executions: [fetch, compare, push#1, push#2, push#3]
//!     # known_deviation: as at the top, for this rerun
//! ```
//!
//! Parsing checks the spec's own shape; whether its tasks exist is checked against the workflow
//! when it is rehearsed.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::machine::ExecId;

/// Why a spec file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// Not YAML, or not the spec's shape (unknown key, wrong type); the message has the position.
    #[error("{file}: {message}")]
    Yaml {
        /// Spec file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// A value of the right type the spec format still refuses.
    #[error("{file}: {field}: {message}")]
    Invalid {
        /// Spec file.
        file: String,
        /// Where in the spec (`mocks.fetch#0`, `expect.executions[3]`).
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// A parsed spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Where the spec came from (used in messages).
    pub source: String,
    /// The workflow file, relative to the spec's directory.
    pub workflow: String,
    /// What the case is about.
    pub description: Option<String>,
    /// The run's input.
    pub input: Map<String, Value>,
    /// Mocked outcomes, in the order written.
    pub mocks: Vec<Mock>,
    /// The run expected.
    pub expect: Expectation,
    /// A known difference from `expect` (a conformance case the machine does not meet yet).
    pub known_deviation: Option<Deviation>,
    /// Reruns of the finished run, in order, each with its own mocks and expectation.
    pub reruns: Vec<Rerun>,
}

/// One rerun of a failed or canceled run (Orquesta's rerun): which tasks run again, the mocks
/// answering this rerun's actions (the earlier ones do not carry over), and the run expected
/// afterwards, its whole history included.
#[derive(Debug, Clone, PartialEq)]
pub struct Rerun {
    /// Tasks to run again; empty: every task whose last execution failed unhandled or was
    /// canceled.
    pub tasks: Vec<String>,
    /// This rerun's mocks.
    pub mocks: Vec<Mock>,
    /// The run expected after it.
    pub expect: Expectation,
    /// A known difference from this rerun's `expect`.
    pub known_deviation: Option<Deviation>,
}

/// Which action invocations a mock answers: a task, optionally narrowed to one execution, one
/// fan-out item and one attempt. Written `task#occurrence[item]@attempt`, each part optional.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MockKey {
    /// Task name.
    pub task: String,
    /// Execution (1-based), any when `None`.
    pub occurrence: Option<u32>,
    /// Fan-out item (0-based), any when `None`.
    pub item: Option<usize>,
    /// Attempt (1-based), any when `None`.
    pub attempt: Option<u32>,
}

impl MockKey {
    /// Whether this key answers the invocation.
    pub fn matches(&self, exec: &ExecId, item: Option<usize>, attempt: u32) -> bool {
        self.task == exec.task
            && self.occurrence.is_none_or(|o| o == exec.occurrence)
            && self.item.is_none_or(|i| Some(i) == item)
            && self.attempt.is_none_or(|a| a == attempt)
    }

    /// How many parts narrow it: the most specific matching key wins.
    pub fn specificity(&self) -> usize {
        usize::from(self.occurrence.is_some())
            + usize::from(self.item.is_some())
            + usize::from(self.attempt.is_some())
    }
}

impl fmt::Display for MockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.task)?;
        if let Some(o) = self.occurrence {
            write!(f, "#{o}")?;
        }
        if let Some(i) = self.item {
            write!(f, "[{i}]")?;
        }
        if let Some(a) = self.attempt {
            write!(f, "@{a}")?;
        }
        Ok(())
    }
}

/// A mocked action outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The action returns this result.
    Succeeded(Value),
    /// The action fails with this error.
    Failed(Value),
    /// The action never answers (the run stays running).
    Running,
}

/// One entry of `mocks`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mock {
    /// What it answers.
    pub key: MockKey,
    /// How.
    pub outcome: Outcome,
}

/// The run a spec expects.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// Every task execution, in an order the run could take (see the module docs of
    /// `rehearsal.rs` on what order is compared).
    pub executions: Vec<ExpectedExec>,
    /// Final status: `succeeded`, `failed`, `canceled`, or `running`/`failing` for a run left
    /// waiting on an action mocked `running`.
    pub status: String,
    /// The whole output, when given.
    pub output: Option<Value>,
    /// The errors, when given: each entry's keys must equal the error's (other keys are ignored).
    pub errors: Option<Vec<Map<String, Value>>>,
}

/// One expected execution, with the details the spec cares about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedExec {
    /// `task#occurrence`.
    pub id: ExecId,
    /// `succeeded` / `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The execution's result (a fan-out: the list of item results).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The rendered input (a fan-out: the list of the inputs of the items that started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// The highest attempt started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

/// A documented difference: what the run does instead of `expect`, and why. Parts not given are
/// the same as in `expect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Deviation {
    /// Why the machine differs (goes into the report).
    pub reason: String,
    /// The run as it really goes.
    pub got: Expectation,
}

// ---------------------------------------------------------------------------------------------
// Parsing.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    workflow: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    input: Map<String, Value>,
    #[serde(default)]
    mocks: IndexMap<String, Value>,
    expect: RawExpect,
    #[serde(default)]
    known_deviation: Option<RawDeviation>,
    #[serde(default)]
    reruns: Vec<RawRerun>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRerun {
    #[serde(default)]
    tasks: Vec<String>,
    #[serde(default)]
    mocks: IndexMap<String, Value>,
    expect: RawExpect,
    #[serde(default)]
    known_deviation: Option<RawDeviation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    executions: Vec<Value>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    output: Option<Value>,
    #[serde(default)]
    errors: Option<Vec<Map<String, Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeviation {
    reason: String,
    #[serde(default)]
    executions: Option<Vec<Value>>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    output: Option<Value>,
    #[serde(default)]
    errors: Option<Vec<Map<String, Value>>>,
}

const STATUSES: [&str; 5] = ["succeeded", "failed", "canceled", "running", "failing"];

impl Spec {
    /// Parses a spec. `source` names the file in errors.
    pub fn parse(source: &str, text: &str) -> Result<Spec, SpecError> {
        let mut options = serde_saphyr::Options::default();
        options.strict_booleans = true;
        options.with_snippet = false;
        let raw: RawSpec =
            serde_saphyr::from_str_with_options(text, options).map_err(|e| SpecError::Yaml {
                file: source.to_string(),
                message: e.to_string(),
            })?;
        let p = SpecParser { file: source };
        let expect = Expectation {
            executions: p.executions(&raw.expect.executions, "expect.executions")?,
            status: p.status(raw.expect.status, "expect.status")?,
            output: raw.expect.output,
            errors: raw.expect.errors,
        };
        let known_deviation = raw
            .known_deviation
            .map(|d| p.deviation(d, &expect, "known_deviation"))
            .transpose()?;
        let mocks = p.mocks(raw.mocks, "mocks")?;
        let mut reruns = Vec::with_capacity(raw.reruns.len());
        for (i, r) in raw.reruns.into_iter().enumerate() {
            let field = format!("reruns[{i}]");
            let expect = Expectation {
                executions: p
                    .executions(&r.expect.executions, &format!("{field}.expect.executions"))?,
                status: p.status(r.expect.status, &format!("{field}.expect.status"))?,
                output: r.expect.output,
                errors: r.expect.errors,
            };
            let known_deviation = r
                .known_deviation
                .map(|d| p.deviation(d, &expect, &format!("{field}.known_deviation")))
                .transpose()?;
            reruns.push(Rerun {
                tasks: r.tasks,
                mocks: p.mocks(r.mocks, &format!("{field}.mocks"))?,
                expect,
                known_deviation,
            });
        }
        Ok(Spec {
            source: source.to_string(),
            workflow: raw.workflow,
            description: raw.description,
            input: raw.input,
            mocks,
            expect,
            known_deviation,
            reruns,
        })
    }
}

struct SpecParser<'a> {
    file: &'a str,
}

impl SpecParser<'_> {
    fn invalid(&self, field: &str, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            file: self.file.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// A recorded deviation: what it gives, the rest taken from `expect`; it must differ.
    fn deviation(
        &self,
        d: RawDeviation,
        expect: &Expectation,
        field: &str,
    ) -> Result<Deviation, SpecError> {
        if d.reason.trim().is_empty() {
            return Err(self.invalid(&format!("{field}.reason"), "say why the run differs"));
        }
        let got = Expectation {
            executions: match &d.executions {
                Some(e) => self.executions(e, &format!("{field}.executions"))?,
                None => expect.executions.clone(),
            },
            status: match d.status {
                Some(s) => self.status(Some(s), &format!("{field}.status"))?,
                None => expect.status.clone(),
            },
            output: d.output.or_else(|| expect.output.clone()),
            errors: d.errors.or_else(|| expect.errors.clone()),
        };
        if got == *expect {
            return Err(self.invalid(
                field,
                "it repeats `expect`; give what the run does instead (executions, status, output or errors)",
            ));
        }
        Ok(Deviation {
            reason: d.reason,
            got,
        })
    }

    fn mocks(&self, raw: IndexMap<String, Value>, field: &str) -> Result<Vec<Mock>, SpecError> {
        let mut mocks = Vec::with_capacity(raw.len());
        for (key, value) in raw {
            let field = format!("{field}.{key}");
            let parsed = parse_mock_key(&key).map_err(|m| self.invalid(&field, m))?;
            let outcome = self.outcome(value, &field)?;
            mocks.push(Mock {
                key: parsed,
                outcome,
            });
        }
        Ok(mocks)
    }

    fn status(&self, status: Option<String>, field: &str) -> Result<String, SpecError> {
        let status = status.unwrap_or_else(|| "succeeded".into());
        if STATUSES.contains(&status.as_str()) {
            Ok(status)
        } else {
            Err(self.invalid(
                field,
                format!(
                    "`{status}` is not a run status; one of: {}",
                    STATUSES.join(", ")
                ),
            ))
        }
    }

    fn outcome(&self, value: Value, field: &str) -> Result<Outcome, SpecError> {
        let shape =
            "`succeeded`, `failed`, `running`, `{ succeeded: RESULT }` or `{ failed: ERROR }`";
        match value {
            Value::String(s) => match s.as_str() {
                "succeeded" => Ok(Outcome::Succeeded(Value::Null)),
                "failed" => Ok(Outcome::Failed(
                    serde_json::json!({"message": "mocked failure"}),
                )),
                "running" => Ok(Outcome::Running),
                other => Err(self.invalid(field, format!("`{other}` is not {shape}"))),
            },
            Value::Object(m) if m.len() == 1 => {
                let Some((k, v)) = m.into_iter().next() else {
                    return Err(self.invalid(field, format!("expected {shape}")));
                };
                match k.as_str() {
                    "succeeded" => Ok(Outcome::Succeeded(v)),
                    // A bare message is the usual case: the machine's errors are objects.
                    "failed" => Ok(Outcome::Failed(match v {
                        Value::String(message) => serde_json::json!({"message": message}),
                        other => other,
                    })),
                    other => Err(self.invalid(field, format!("`{other}` is not {shape}"))),
                }
            }
            _ => Err(self.invalid(field, format!("expected {shape}"))),
        }
    }

    /// Execution entries: `task`, `task#n`, or `{ task#n: { status, result, input, attempts } }`.
    /// A plain `task` is the lowest occurrence of that task not named otherwise, so `[a, b, a]`
    /// means `a#1, b#1, a#2`.
    fn executions(&self, entries: &[Value], field: &str) -> Result<Vec<ExpectedExec>, SpecError> {
        let mut parsed: Vec<(String, Option<u32>, ExpectedExec)> = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let f = format!("{field}[{i}]");
            let (name, details) = match entry {
                Value::String(s) => (s.as_str(), None),
                Value::Object(m) if m.len() == 1 => match m.iter().next() {
                    Some((k, v)) => (k.as_str(), Some(v)),
                    None => return Err(self.invalid(&f, "an empty entry")),
                },
                _ => {
                    return Err(self.invalid(
                        &f,
                        "expected `task`, `task#n` or `task#n: { status, result, input, attempts }`",
                    ));
                }
            };
            let (task, occurrence) = parse_exec_name(name).map_err(|m| self.invalid(&f, m))?;
            let mut exec = ExpectedExec {
                id: ExecId {
                    task: task.clone(),
                    occurrence: occurrence.unwrap_or(0),
                },
                status: None,
                result: None,
                input: None,
                attempts: None,
            };
            if let Some(details) = details {
                self.details(details, &f, &mut exec)?;
            }
            parsed.push((task, occurrence, exec));
        }
        // Explicit occurrences first, then the plain names take the lowest free ones in order.
        let mut taken: std::collections::BTreeSet<(String, u32)> = Default::default();
        for (i, (task, occ, _)) in parsed.iter().enumerate() {
            if let Some(o) = occ
                && !taken.insert((task.clone(), *o))
            {
                return Err(self.invalid(
                    &format!("{field}[{i}]"),
                    format!("`{task}#{o}` is listed twice"),
                ));
            }
        }
        let mut out = Vec::with_capacity(parsed.len());
        for (task, occ, mut exec) in parsed {
            if occ.is_none() {
                let mut n = 1;
                while taken.contains(&(task.clone(), n)) {
                    n += 1;
                }
                taken.insert((task.clone(), n));
                exec.id.occurrence = n;
            }
            out.push(exec);
        }
        Ok(out)
    }

    fn details(&self, v: &Value, field: &str, exec: &mut ExpectedExec) -> Result<(), SpecError> {
        let Value::Object(m) = v else {
            return Err(self.invalid(
                field,
                "details must be a mapping of status, result, input, attempts",
            ));
        };
        for (k, v) in m {
            match k.as_str() {
                "status" => match v.as_str() {
                    Some(s @ ("succeeded" | "failed" | "running" | "canceled")) => {
                        exec.status = Some(s.to_string());
                    }
                    _ => {
                        return Err(self.invalid(
                            &format!("{field}.status"),
                            "one of: succeeded, failed, running, canceled",
                        ));
                    }
                },
                "result" => exec.result = Some(v.clone()),
                "input" => exec.input = Some(v.clone()),
                "attempts" => {
                    exec.attempts = Some(
                        v.as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .filter(|n| *n >= 1)
                            .ok_or_else(|| {
                                self.invalid(&format!("{field}.attempts"), "a positive integer")
                            })?,
                    );
                }
                other => {
                    return Err(self.invalid(
                        field,
                        format!(
                            "unknown detail `{other}`; expected status, result, input, attempts"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `task` or `task#n`.
fn parse_exec_name(s: &str) -> Result<(String, Option<u32>), String> {
    let key = parse_mock_key(s)?;
    if key.item.is_some() || key.attempt.is_some() {
        return Err(format!(
            "`{s}` names an item or an attempt; an execution is `task` or `task#n`"
        ));
    }
    Ok((key.task, key.occurrence))
}

/// `task`, `task#2`, `task[0]`, `task@3`, `task#2[0]@3`.
fn parse_mock_key(s: &str) -> Result<MockKey, String> {
    let bad = || {
        format!(
            "`{s}` is not `task`, optionally followed by #occurrence (from 1), [item] (from 0) and \
             @attempt (from 1), in that order"
        )
    };
    let s = s.trim();
    let (rest, attempt) = match s.rsplit_once('@') {
        Some((rest, a)) => (rest, Some(positive(a).ok_or_else(bad)?)),
        None => (s, None),
    };
    let (rest, item) = match rest.strip_suffix(']').and_then(|r| r.rsplit_once('[')) {
        Some((rest, i)) => (rest, Some(i.parse::<usize>().map_err(|_| bad())?)),
        None => (rest, None),
    };
    let (task, occurrence) = match rest.rsplit_once('#') {
        Some((task, o)) => (task, Some(positive(o).ok_or_else(bad)?)),
        None => (rest, None),
    };
    if task.is_empty() || task.contains(['#', '[', ']', '@']) || task.contains(char::is_whitespace)
    {
        return Err(bad());
    }
    Ok(MockKey {
        task: task.to_string(),
        occurrence,
        item,
        attempt,
    })
}

fn positive(s: &str) -> Option<u32> {
    s.parse::<u32>().ok().filter(|n| *n >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(yaml: &str) -> Spec {
        Spec::parse("t.yaml", yaml).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(yaml: &str) -> String {
        match Spec::parse("t.yaml", yaml) {
            Ok(s) => panic!("expected an error, got {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn mock_keys_narrow_by_occurrence_item_and_attempt() {
        let k = parse_mock_key("fetch#2[3]@4").expect("parses");
        assert_eq!(
            (k.task.as_str(), k.occurrence, k.item, k.attempt),
            ("fetch", Some(2), Some(3), Some(4))
        );
        assert_eq!(k.to_string(), "fetch#2[3]@4");
        assert_eq!(k.specificity(), 3);
        let k = parse_mock_key("fetch[0]").expect("parses");
        let id = ExecId {
            task: "fetch".into(),
            occurrence: 7,
        };
        assert!(k.matches(&id, Some(0), 2));
        assert!(!k.matches(&id, Some(1), 1));
        for bad in ["", "#1", "a#0", "a@0", "a[x]", "a@1#2", "a b"] {
            assert!(parse_mock_key(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn plain_names_take_the_next_free_occurrence() {
        let s = spec(
            "workflow: w.yaml\nexpect:\n  executions: [a, b, a#3, a, { b: { status: failed, attempts: 2 } }]\n",
        );
        let ids: Vec<String> = s
            .expect
            .executions
            .iter()
            .map(|e| e.id.to_string())
            .collect();
        assert_eq!(ids, ["a#1", "b#1", "a#3", "a#2", "b#2"]);
        assert_eq!(s.expect.executions[4].status.as_deref(), Some("failed"));
        assert_eq!(s.expect.executions[4].attempts, Some(2));
        assert_eq!(s.expect.status, "succeeded");
        let e = err("workflow: w.yaml\nexpect:\n  executions: [a#1, a#1]\n");
        assert!(e.contains("listed twice"), "{e}");
    }

    #[test]
    fn outcomes_have_short_and_long_forms() {
        let s = spec(
            "workflow: w.yaml\nmocks:\n  a: failed\n  b: { failed: boom }\n  c: { succeeded: [1] }\n  d: running\n  e: succeeded\nexpect:\n  executions: []\n",
        );
        let outcomes: Vec<&Outcome> = s.mocks.iter().map(|m| &m.outcome).collect();
        assert_eq!(
            outcomes,
            [
                &Outcome::Failed(json!({"message": "mocked failure"})),
                &Outcome::Failed(json!({"message": "boom"})),
                &Outcome::Succeeded(json!([1])),
                &Outcome::Running,
                &Outcome::Succeeded(Value::Null),
            ]
        );
        let e = err("workflow: w.yaml\nmocks:\n  a: { passed: 1 }\nexpect:\n  executions: []\n");
        assert!(e.contains("mocks.a") && e.contains("`passed`"), "{e}");
    }

    #[test]
    fn unknown_keys_and_statuses_are_refused() {
        let e = err("workflow: w.yaml\nexpected:\n  executions: []\n");
        assert!(e.contains("expected"), "{e}");
        let e = err("workflow: w.yaml\nexpect:\n  executions: []\n  status: ok\n");
        assert!(e.contains("not a run status"), "{e}");
    }

    #[test]
    fn reruns_have_their_own_tasks_mocks_and_expectation() {
        let s = spec(
            "workflow: w.yaml\nmocks:\n  a: failed\nexpect:\n  executions: [a]\n  status: failed\nreruns:\n  - tasks: [a]\n    mocks:\n      a#2: succeeded\n    expect:\n      executions: [a, a]\n  - expect:\n      executions: [a, a]\n      status: failed\n",
        );
        assert_eq!(s.reruns.len(), 2);
        assert_eq!(s.reruns[0].tasks, ["a"]);
        assert_eq!(s.reruns[0].mocks[0].key.occurrence, Some(2));
        assert_eq!(s.reruns[0].expect.status, "succeeded");
        let ids: Vec<String> = s.reruns[0]
            .expect
            .executions
            .iter()
            .map(|e| e.id.to_string())
            .collect();
        assert_eq!(ids, ["a#1", "a#2"]);
        assert!(s.reruns[1].tasks.is_empty() && s.reruns[1].mocks.is_empty());
        let e = err(
            "workflow: w.yaml\nexpect:\n  executions: []\nreruns:\n  - mocks: { a: maybe }\n    expect: { executions: [] }\n",
        );
        assert!(e.contains("reruns[0].mocks.a"), "{e}");
    }

    #[test]
    fn a_deviation_inherits_what_it_does_not_change_and_must_change_something() {
        let s = spec(
            "workflow: w.yaml\nexpect:\n  executions: [a]\n  output: { x: 1 }\nknown_deviation:\n  reason: one context\n  status: failed\n",
        );
        let d = s.known_deviation.expect("deviation");
        assert_eq!(d.got.status, "failed");
        assert_eq!(d.got.output, Some(json!({"x": 1})));
        assert_eq!(d.got.executions, s.expect.executions);
        let e = err(
            "workflow: w.yaml\nexpect:\n  executions: [a]\nknown_deviation:\n  reason: r\n  status: succeeded\n",
        );
        assert!(e.contains("repeats `expect`"), "{e}");
    }
}
