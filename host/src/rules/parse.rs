//! A rule file's YAML to a [`Rule`], every error with its line: serde-saphyr reads the shape
//! (unknown keys, wrong types, duplicate keys) with positions, then each part is checked here
//! (trigger types and their fields, criteria, expressions, cron and time zone, durations).

use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;
use orch_workflow::{Loc, Mapping};
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::{Enrich, Rule, RuleError, RunSpec, Schedule, Throttle, Trigger, criteria};

/// Trigger types, as written.
pub const TRIGGER_TYPES: [&str; 4] = ["syslog", "webhook", "schedule", "run"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    description: Option<String>,
    enabled: Option<bool>,
    trigger: Spanned<RawTrigger>,
    #[serde(default)]
    criteria: Vec<Spanned<Value>>,
    enrich: Option<Spanned<Value>>,
    throttle: Option<Spanned<RawThrottle>>,
    run: Spanned<RawRun>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    name: Option<Spanned<String>>,
    secret: Option<Spanned<String>>,
    cron: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    catch_up: Option<Spanned<String>>,
    workflow: Option<Spanned<String>>,
    status: Option<Spanned<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThrottle {
    once_within: Spanned<String>,
    #[serde(default)]
    group_by: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    workflow: Spanned<String>,
    #[serde(default)]
    input: IndexMap<String, Spanned<Value>>,
}

fn loc<T>(s: &Spanned<T>) -> Loc {
    Loc {
        line: s.referenced.line(),
        column: s.referenced.column(),
    }
}

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, line: u64, message: impl Into<String>) -> RuleError {
        RuleError {
            file: self.file.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// Parses the rule `name` from `text` (the file `file`, shown as `shown`).
pub fn parse(shown: &str, name: &str, file: &Path, text: &str) -> Result<Rule, RuleError> {
    let cx = Ctx { file: shown };
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.with_snippet = false;
    let raw: RawRule = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        let mut message = e.to_string();
        // The message repeats the position the error already carries.
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        if message.contains("unknown field") {
            message.push_str(
                "; a rule has: description, enabled, trigger, criteria, enrich, throttle, run",
            );
        }
        cx.err(line, message)
    })?;
    let trigger = trigger(&cx, name, &raw.trigger)?;
    let mut criteria = Vec::with_capacity(raw.criteria.len());
    for item in &raw.criteria {
        criteria
            .push(criteria::parse(&item.value, loc(item)).map_err(|m| cx.err(loc(item).line, m))?);
    }
    let enrich = enrich(&cx, &trigger, raw.enrich.as_ref())?;
    let throttle = match &raw.throttle {
        None => None,
        Some(t) => Some(throttle(&cx, t)?),
    };
    let run = run(&cx, &raw.run)?;
    Ok(Rule {
        name: name.to_owned(),
        file: file.to_path_buf(),
        description: raw.description,
        enabled: raw.enabled.unwrap_or(true),
        trigger,
        criteria,
        enrich,
        throttle,
        run,
    })
}

fn trigger(cx: &Ctx<'_>, rule: &str, raw: &Spanned<RawTrigger>) -> Result<Trigger, RuleError> {
    let t = &raw.value;
    let kind = t.kind.value.as_str();
    let line = loc(&t.kind).line;
    let allowed: &[&str] = match kind {
        "syslog" => &[],
        "webhook" => &["name", "secret"],
        "schedule" => &["cron", "timezone", "catch_up"],
        "run" => &["workflow", "status"],
        other => {
            return Err(cx.err(
                line,
                format!(
                    "unknown trigger type `{other}`; trigger types: {}",
                    TRIGGER_TYPES.join(", ")
                ),
            ));
        }
    };
    let given = [
        ("name", t.name.as_ref().map(loc)),
        ("secret", t.secret.as_ref().map(loc)),
        ("cron", t.cron.as_ref().map(loc)),
        ("timezone", t.timezone.as_ref().map(loc)),
        ("catch_up", t.catch_up.as_ref().map(loc)),
        ("workflow", t.workflow.as_ref().map(loc)),
        ("status", t.status.as_ref().map(loc)),
    ];
    for (field, at) in given {
        if let Some(at) = at
            && !allowed.contains(&field)
        {
            let takes = if allowed.is_empty() {
                "takes no other field".to_owned()
            } else {
                format!("takes: {}", allowed.join(", "))
            };
            return Err(cx.err(
                at.line,
                format!("a {kind} trigger has no `{field}`; it {takes}"),
            ));
        }
    }
    let required = |v: &Option<Spanned<String>>, field: &str, example: &str| {
        v.as_ref()
            .map(|s| s.value.clone())
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                cx.err(
                    loc(raw).line,
                    format!("a {kind} trigger needs `{field}`, e.g. {example}"),
                )
            })
    };
    Ok(match kind {
        "syslog" => Trigger::Syslog,
        "webhook" => {
            let name = required(
                &t.name,
                "name",
                "`name: monitoring` (POST /hooks/monitoring)",
            )?;
            let secret = required(
                &t.secret,
                "secret",
                "`secret: monitoring-hook` (orch secret set monitoring-hook --kind webhook-hmac)",
            )?;
            let ok = |s: &str| {
                s.len() <= 128
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            };
            if !ok(&name) {
                let line = t.name.as_ref().map_or(line, |n| loc(n).line);
                return Err(cx.err(
                    line,
                    format!("webhook name {name:?} must be letters, digits, '-', '_' or '.'"),
                ));
            }
            Trigger::Webhook { name, secret }
        }
        "schedule" => {
            let cron = required(&t.cron, "cron", "`cron: \"0 2 * * *\"`")?;
            let cron_line = t.cron.as_ref().map_or(line, |c| loc(c).line);
            let schedule = Schedule::parse(
                &cron,
                t.timezone.as_ref().map(|z| z.value.as_str()),
                t.catch_up.as_ref().map(|c| c.value.as_str()),
            )
            .map_err(|m| {
                let at = if m.contains("time zone") {
                    t.timezone.as_ref().map_or(cron_line, |z| loc(z).line)
                } else if m.contains("catch_up") {
                    t.catch_up.as_ref().map_or(cron_line, |c| loc(c).line)
                } else {
                    cron_line
                };
                cx.err(at, m)
            })?;
            let _ = rule;
            Trigger::Schedule(Box::new(schedule))
        }
        _ => {
            let status = match &t.status {
                None => Vec::new(),
                Some(s) => {
                    let list = match &s.value {
                        Value::String(one) => vec![one.clone()],
                        Value::Array(items) => items
                            .iter()
                            .map(|i| i.as_str().map(str::to_owned))
                            .collect::<Option<Vec<_>>>()
                            .unwrap_or_default(),
                        _ => Vec::new(),
                    };
                    const FINISHED: [&str; 3] = ["succeeded", "failed", "canceled"];
                    if list.is_empty() || list.iter().any(|x| !FINISHED.contains(&x.as_str())) {
                        return Err(cx.err(
                            loc(s).line,
                            format!(
                                "`status` is one of {} or a list of them",
                                FINISHED.join(", ")
                            ),
                        ));
                    }
                    list
                }
            };
            Trigger::Run {
                workflow: t.workflow.as_ref().map(|w| w.value.clone()),
                status,
            }
        }
    })
}

fn enrich(
    cx: &Ctx<'_>,
    trigger: &Trigger,
    raw: Option<&Spanned<Value>>,
) -> Result<Enrich, RuleError> {
    let default = || -> Enrich {
        match trigger {
            // A device's syslog carries its address (the datagram's source) and often its name.
            Trigger::Syslog => Enrich {
                name: Mapping::compile(
                    &Value::String("<% ctx().event.host %>".into()),
                    "enrich.name",
                    Loc::default(),
                )
                .ok(),
                address: Mapping::compile(
                    &Value::String("<% ctx().event.source_address %>".into()),
                    "enrich.address",
                    Loc::default(),
                )
                .ok(),
            },
            _ => Enrich::default(),
        }
    };
    let Some(raw) = raw else {
        return Ok(default());
    };
    let line = loc(raw).line;
    match &raw.value {
        Value::Bool(false) => Ok(Enrich::default()),
        Value::Bool(true) => Ok(default()),
        Value::Object(m) => {
            let mut out = Enrich::default();
            for (key, value) in m {
                let compiled = Mapping::compile(value, &format!("enrich.{key}"), loc(raw))
                    .map_err(|e| cx.err(line, e.to_string()))?;
                match key.as_str() {
                    "name" => out.name = Some(compiled),
                    "address" => out.address = Some(compiled),
                    other => {
                        return Err(cx.err(
                            line,
                            format!(
                                "unknown key `{other}` in enrich; it takes `name` and `address` \
                                 (templates giving the device's name or address), or false"
                            ),
                        ));
                    }
                }
            }
            Ok(out)
        }
        _ => Err(cx.err(
            line,
            "enrich is false, true, or a mapping of `name` and `address` templates, e.g. \
             `enrich: { name: <% ctx().event.body.device %> }`",
        )),
    }
}

fn throttle(cx: &Ctx<'_>, raw: &Spanned<RawThrottle>) -> Result<Throttle, RuleError> {
    let t = &raw.value;
    let within: Duration = humantime::parse_duration(t.once_within.value.trim()).map_err(|e| {
        cx.err(
            loc(&t.once_within).line,
            format!(
                "once_within {:?} is not a duration ({e}); write e.g. 10m, 1h, 30s",
                t.once_within.value
            ),
        )
    })?;
    if within.is_zero() {
        return Err(cx.err(
            loc(&t.once_within).line,
            "once_within must be longer than 0s",
        ));
    }
    let mut group_by = Vec::new();
    for g in &t.group_by {
        criteria::check_path(&g.value)
            .map_err(|m| cx.err(loc(g).line, format!("group_by: {m}")))?;
        group_by.push(g.value.clone());
    }
    Ok(Throttle { within, group_by })
}

fn run(cx: &Ctx<'_>, raw: &Spanned<RawRun>) -> Result<RunSpec, RuleError> {
    let r = &raw.value;
    let workflow = r.workflow.value.trim().to_owned();
    if workflow.is_empty() {
        return Err(cx.err(
            loc(&r.workflow).line,
            "run.workflow is empty; name a workflow",
        ));
    }
    let mut input = serde_json::Map::new();
    for (key, value) in &r.input {
        // Compiled one key at a time so an error points at the key's line.
        Mapping::compile(&value.value, &format!("run.input.{key}"), loc(value))
            .map_err(|e| cx.err(loc(value).line, e.to_string()))?;
        input.insert(key.clone(), value.value.clone());
    }
    let input = Mapping::compile(&Value::Object(input), "run.input", loc(raw))
        .map_err(|e| cx.err(loc(raw).line, e.to_string()))?;
    Ok(RunSpec { workflow, input })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> RuleError {
        match parse("bad.yaml", "bad", Path::new("bad.yaml"), yaml) {
            Ok(_) => panic!("expected an error for:\n{yaml}"),
            Err(e) => e,
        }
    }

    const RUN: &str = "run:\n  workflow: w\n";

    #[test]
    fn a_bad_rule_file_is_refused_with_its_line_and_the_fix() {
        let cases = [
            (
                format!("trigger:\n  type: sislog\n{RUN}"),
                2,
                "unknown trigger type `sislog`; trigger types: syslog, webhook",
            ),
            (
                format!(
                    "trigger: {{ type: syslog }}\ncriteria:\n  - event.message: {{ equals: 1 }}\n  - event.x: {{ like: 2 }}\n{RUN}"
                ),
                4,
                "unknown operator `like`",
            ),
            (
                format!("trigger:\n  type: schedule\n  cron: \"0 25 * * *\"\n{RUN}"),
                3,
                "does not parse",
            ),
            (
                format!(
                    "trigger:\n  type: schedule\n  cron: \"0 2 * * *\"\n  timezone: Mars/Base\n{RUN}"
                ),
                4,
                "unknown time zone",
            ),
            (
                format!(
                    "trigger: {{ type: syslog }}\n{RUN}  input:\n    device: <% ctx().device.name\n"
                ),
                5,
                "not closed",
            ),
            (
                format!(
                    "trigger: {{ type: syslog }}\n{RUN}  input:\n    device: \"<% ctx(. %>\"\n"
                ),
                5,
                "run.input.device",
            ),
            (
                format!("trigger: {{ type: syslog }}\nthrottle:\n  once_within: soon\n{RUN}"),
                3,
                "not a duration",
            ),
            (
                format!("trigger: {{ type: syslog }}\ntrigers: 1\n{RUN}"),
                2,
                "unknown field",
            ),
            (
                format!("trigger: {{ type: webhook, name: mon }}\n{RUN}"),
                1,
                "needs `secret`",
            ),
            (
                format!("trigger:\n  type: syslog\n  cron: \"* * * * *\"\n{RUN}"),
                3,
                "a syslog trigger has no `cron`",
            ),
            (
                format!("trigger: {{ type: run, status: exploded }}\n{RUN}"),
                1,
                "`status` is one of",
            ),
            (
                format!("trigger: {{ type: syslog }}\nenrich: {{ serial: x }}\n{RUN}"),
                2,
                "unknown key `serial` in enrich",
            ),
            ("trigger: { type: syslog }\n".to_owned(), 0, "run"),
            ("trigger: [\n".to_owned(), 0, ""),
        ];
        for (yaml, line, why) in cases {
            let e = err(&yaml);
            assert!(e.message.contains(why), "{yaml}\n→ {e}");
            if line > 0 {
                assert_eq!(e.line, line, "{yaml}\n→ {e}");
            }
            assert!(e.to_string().starts_with("bad.yaml:"), "{e}");
        }
    }

    #[test]
    fn a_full_rule_parses_with_defaults() {
        let rule = parse(
            "ok.yaml",
            "ok",
            Path::new("ok.yaml"),
            "trigger: { type: run, workflow: config-drift, status: failed }\nrun:\n  workflow: notify\n  input: { run: <% ctx().event.run %> }\n",
        )
        .expect("parses");
        assert!(rule.enabled);
        assert!(
            matches!(&rule.trigger, Trigger::Run { workflow: Some(w), status } if w == "config-drift" && status == &["failed"])
        );
        assert!(rule.enrich.name.is_none() && rule.enrich.address.is_none());
        assert_eq!(rule.trigger.to_string(), "run of config-drift failed");
    }
}
