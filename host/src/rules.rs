//! Rules of `orch serve`: one YAML file per rule in the rules directory, each a trigger, criteria,
//! an enrichment from the inventory, a throttle and the workflow to run with its input mapped from
//! the event and its device by the workflow expression language. Loading checks everything and
//! refuses a bad file with its line; [`decide`] is what one rule decides about one event.
//!
//! ```yaml
//! description: A device logged a configuration change; check it for drift.
//! trigger: { type: syslog }
//! criteria:
//!   - event.message: { contains: "%SYS-5-CONFIG_I" }
//!   - device.name: { exists: true }
//! throttle: { once_within: 10m, group_by: [device.name] }
//! run:
//!   workflow: config-drift
//!   input: { device: <% ctx().device.name %> }
//! ```

pub mod criteria;
mod parse;
pub mod schedule;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use orch_workflow::Mapping;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::store::{DeviceRow, EventRow, Store};
pub use criteria::Criterion;
pub use schedule::{CatchUp, OnStart, Schedule};

/// Where rules are read from when neither `--rules` nor `ORCH_RULES` says.
pub const DEFAULT_DIR: &str = "rules";

/// A rule file that cannot be used: file, line, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct RuleError {
    /// The file.
    pub file: String,
    /// Line (1-based; 0 when the whole file is at fault).
    pub line: u64,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Problems of a rules directory, each with file and line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} bad rule file{} in {dir}:{}\ncheck them with: orch rule validate --rules {dir}",
    errors.len(), if errors.len() == 1 { "" } else { "s" },
    errors.iter().map(|e| format!("\n  {e}")).collect::<String>())]
pub struct RulesRefused {
    /// The directory.
    pub dir: String,
    /// The problems.
    pub errors: Vec<RuleError>,
}

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Name: the file's name without `.yaml`.
    pub name: String,
    /// The file.
    pub file: PathBuf,
    /// What it is for.
    pub description: Option<String>,
    /// A disabled rule decides nothing.
    pub enabled: bool,
    /// Which events it looks at.
    pub trigger: Trigger,
    /// All must hold.
    pub criteria: Vec<Criterion>,
    /// How the event's device is found.
    pub enrich: Enrich,
    /// At most one firing per group and window.
    pub throttle: Option<Throttle>,
    /// What it runs.
    pub run: RunSpec,
}

/// Which events a rule looks at.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Every syslog message.
    Syslog,
    /// Requests to `POST /hooks/NAME`, authenticated with the vault credential `secret`.
    Webhook {
        /// The hook's name.
        name: String,
        /// Vault credential (kind `webhook-hmac` or `webhook-token`).
        secret: String,
    },
    /// The rule's own schedule.
    Schedule(Box<Schedule>),
    /// Root runs that finished, optionally of one workflow and with given statuses.
    Run {
        /// Workflow name.
        workflow: Option<String>,
        /// Statuses (`succeeded`, `failed`, `canceled`); empty: any.
        status: Vec<String>,
    },
}

impl Trigger {
    /// The event type it listens to.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Syslog => "syslog",
            Trigger::Webhook { .. } => "webhook",
            Trigger::Schedule(_) => "schedule",
            Trigger::Run { .. } => "run",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Syslog => write!(f, "syslog"),
            Trigger::Webhook { name, .. } => write!(f, "webhook {name}"),
            Trigger::Schedule(s) => write!(f, "schedule {:?} {}", s.cron_text, s.timezone),
            Trigger::Run { workflow, status } => {
                write!(
                    f,
                    "run of {}",
                    workflow.as_deref().unwrap_or("any workflow")
                )?;
                if !status.is_empty() {
                    write!(f, " {}", status.join("|"))?;
                }
                Ok(())
            }
        }
    }
}

/// How an event's device is looked up in the inventory: by name first, then by address (when
/// exactly one device has it). Each is a template over `event`.
#[derive(Debug, Clone, Default)]
pub struct Enrich {
    /// The device's name.
    pub name: Option<Mapping>,
    /// The device's address.
    pub address: Option<Mapping>,
}

/// At most one firing per group within `within`.
#[derive(Debug, Clone)]
pub struct Throttle {
    /// The window.
    pub within: Duration,
    /// Fields whose values form the group (none: one group).
    pub group_by: Vec<String>,
}

/// The workflow a rule runs.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Workflow name (or path).
    pub workflow: String,
    /// Its input, rendered with `event` and `device` in `ctx()`.
    pub input: Mapping,
}

/// What a rule decided about an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Verdict {
    /// Start `workflow` with `input`.
    #[serde(rename = "fired")]
    Fire {
        /// Workflow.
        workflow: String,
        /// Rendered input.
        input: Map<String, Value>,
        /// Throttle group, when the rule throttles.
        #[serde(skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    /// A criterion does not hold.
    CriteriaFalse {
        /// The criterion, as written.
        criterion: String,
        /// Its line.
        line: u64,
        /// Why it is false.
        detail: String,
    },
    /// The group fired within the window.
    Throttled {
        /// The group.
        group: String,
        /// When it fired (Unix ms).
        last_fired: i64,
        /// When it may fire again (Unix ms).
        until: i64,
    },
    /// The rule could not decide (an expression failed, the input is not a mapping).
    Error {
        /// What failed.
        message: String,
    },
}

impl Verdict {
    /// The stored name.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Fire { .. } => "fired",
            Verdict::CriteriaFalse { .. } => "criteria_false",
            Verdict::Throttled { .. } => "throttled",
            Verdict::Error { .. } => "error",
        }
    }

    /// For a person.
    pub fn detail(&self) -> String {
        match self {
            Verdict::Fire { workflow, .. } => format!("runs {workflow}"),
            Verdict::CriteriaFalse {
                criterion,
                line,
                detail,
            } => format!("criterion `{criterion}` (line {line}) is false: {detail}"),
            Verdict::Throttled {
                group,
                last_fired,
                until,
            } => format!(
                "throttled: group {group} fired at {} and may fire again at {}",
                crate::store::rfc3339_ms(*last_fired),
                crate::store::rfc3339_ms(*until)
            ),
            Verdict::Error { message } => message.clone(),
        }
    }
}

/// An event as rules see it: its payload with `id`, `type`, `name` and `at` (RFC 3339) added.
pub fn event_value(event: &EventRow) -> Value {
    let mut m = match serde_json::from_str::<Value>(&event.payload) {
        Ok(Value::Object(m)) => m,
        Ok(other) => {
            let mut m = Map::new();
            m.insert("payload".into(), other);
            m
        }
        Err(_) => Map::new(),
    };
    m.insert("id".into(), json!(event.id));
    m.insert("type".into(), json!(event.kind));
    m.insert("name".into(), json!(event.name));
    m.insert(
        "at".into(),
        json!(crate::store::rfc3339_ms(event.received_at)),
    );
    Value::Object(m)
}

/// A device as rules see it.
pub fn device_value(device: &DeviceRow) -> Value {
    json!({
        "name": device.name,
        "address": device.address,
        "port": device.port,
        "platform": device.platform,
        "credential": device.credential,
        "tags": device.tags,
        "vars": device.vars,
    })
}

/// What the rules need of the store while deciding.
pub trait Lookup {
    /// The device called `name`.
    fn device_named(&self, name: &str) -> anyhow::Result<Option<DeviceRow>>;
    /// The devices at `address`.
    fn devices_at(&self, address: &str) -> anyhow::Result<Vec<DeviceRow>>;
    /// When `rule` last fired for `group` (Unix ms).
    fn last_fired(&self, rule: &str, group: &str) -> anyhow::Result<Option<i64>>;
}

impl Lookup for Store {
    fn device_named(&self, name: &str) -> anyhow::Result<Option<DeviceRow>> {
        self.device(name)
    }
    fn devices_at(&self, address: &str) -> anyhow::Result<Vec<DeviceRow>> {
        Store::devices_at(self, address)
    }
    fn last_fired(&self, rule: &str, group: &str) -> anyhow::Result<Option<i64>> {
        Store::last_fired(self, rule, group)
    }
}

impl Rule {
    /// Whether this rule looks at `event` at all (its trigger's type and filter).
    pub fn listens_to(&self, event: &EventRow, payload: &Value) -> bool {
        if !self.enabled || event.kind != self.trigger.kind() {
            return false;
        }
        match &self.trigger {
            Trigger::Syslog => true,
            Trigger::Webhook { name, .. } => event.name == *name,
            Trigger::Schedule(_) => event.name == self.name,
            Trigger::Run { workflow, status } => {
                workflow.as_ref().is_none_or(|w| event.name == *w)
                    && (status.is_empty()
                        || payload
                            .get("status")
                            .and_then(Value::as_str)
                            .is_some_and(|s| status.iter().any(|x| x == s)))
            }
        }
    }

    /// The device of `event` (`None` when the rule does not enrich, or nothing matches) and a
    /// note when the lookup was ambiguous or failed.
    pub fn enrich(
        &self,
        event: &Value,
        lookup: &dyn Lookup,
    ) -> anyhow::Result<(Option<DeviceRow>, Option<String>)> {
        let mut vars = Map::new();
        vars.insert("event".into(), event.clone());
        let key = |m: &Option<Mapping>, what: &str| -> Option<String> {
            let value = m.as_ref()?.render(&vars, what).ok()?;
            match value {
                Value::String(s) if !s.is_empty() => Some(s),
                _ => None,
            }
        };
        if let Some(name) = key(&self.enrich.name, "enrich.name")
            && let Some(device) = lookup.device_named(&name)?
        {
            return Ok((Some(device), None));
        }
        if let Some(address) = key(&self.enrich.address, "enrich.address") {
            let mut found = lookup.devices_at(&address)?;
            match found.len() {
                0 => {}
                1 => return Ok((found.pop(), None)),
                n => {
                    let names: Vec<&str> = found.iter().map(|d| d.name.as_str()).collect();
                    return Ok((
                        None,
                        Some(format!(
                            "{n} inventory devices have address {address} ({}); the event names \
                             none of them",
                            names.join(", ")
                        )),
                    ));
                }
            }
        }
        Ok((None, None))
    }
}

/// What `rule` decides about `event` (which it listens to) at `now` (Unix ms), with its device;
/// `pending` are the groups of this rule fired earlier in the same batch (not yet in the store).
pub fn decide(
    rule: &Rule,
    event: &Value,
    device: Option<&DeviceRow>,
    lookup: &dyn Lookup,
    pending: &[(String, i64)],
    now: i64,
) -> Verdict {
    let mut vars = Map::new();
    vars.insert("event".into(), event.clone());
    vars.insert("device".into(), device.map_or(Value::Null, device_value));
    for criterion in &rule.criteria {
        if let Err(detail) = criteria::check(criterion, &vars) {
            return Verdict::CriteriaFalse {
                criterion: criterion.to_string(),
                line: criterion.line,
                detail,
            };
        }
    }
    let group = rule.throttle.as_ref().map(|t| group_key(t, &vars));
    if let (Some(throttle), Some(group)) = (&rule.throttle, &group) {
        let in_batch = pending
            .iter()
            .filter(|(g, _)| g == group)
            .map(|(_, at)| *at)
            .max();
        let stored = match lookup.last_fired(&rule.name, group) {
            Ok(at) => at,
            Err(err) => {
                return Verdict::Error {
                    message: format!("reading the throttle state: {err:#}"),
                };
            }
        };
        if let Some(last) = in_batch.max(stored) {
            let window = i64::try_from(throttle.within.as_millis()).unwrap_or(i64::MAX);
            let until = last.saturating_add(window);
            if now < until {
                return Verdict::Throttled {
                    group: group.clone(),
                    last_fired: last,
                    until,
                };
            }
        }
    }
    match rule.run.input.render(&vars, "run.input") {
        Ok(Value::Object(input)) => Verdict::Fire {
            workflow: rule.run.workflow.clone(),
            input,
            group,
        },
        Ok(other) => Verdict::Error {
            message: format!("run.input gives {other}, not a mapping of inputs"),
        },
        Err(e) => Verdict::Error {
            message: format!("run.input: {}: {}", e.expression, e.message),
        },
    }
}

/// What `orch rule test` found: what a rule would decide about an event, nothing started.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// The rule.
    pub rule: String,
    /// Whether the rule listens to this event at all (its trigger's type and filter).
    pub listens: bool,
    /// The event as the rule sees it.
    pub event: Value,
    /// The device the enrichment found.
    pub device: Option<Value>,
    /// Why no device was found, when the lookup was ambiguous.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What it would decide (none when it does not listen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

/// What `rule` would decide about an event of type `kind` named `name` with `payload`, with
/// the inventory and throttle state of `lookup`, at `now`; nothing is recorded or started.
pub fn test(
    rule: &Rule,
    kind: &str,
    name: &str,
    payload: Map<String, Value>,
    lookup: &dyn Lookup,
    now: i64,
) -> anyhow::Result<TestReport> {
    let row = EventRow {
        id: 0,
        kind: kind.to_owned(),
        name: name.to_owned(),
        received_at: now,
        payload: Value::Object(payload).to_string(),
        decided_at: None,
    };
    let event = event_value(&row);
    if !rule.listens_to(&row, &event) {
        return Ok(TestReport {
            rule: rule.name.clone(),
            listens: false,
            event,
            device: None,
            note: None,
            verdict: None,
        });
    }
    let (device, note) = rule.enrich(&event, lookup)?;
    let verdict = decide(rule, &event, device.as_ref(), lookup, &[], now);
    Ok(TestReport {
        rule: rule.name.clone(),
        listens: true,
        device: device.as_ref().map(device_value),
        event,
        note,
        verdict: Some(verdict),
    })
}

impl Rule {
    /// The name of the events this rule's trigger produces or matches (for `orch rule test`
    /// when the event does not say).
    pub fn default_event_name(&self) -> String {
        match &self.trigger {
            Trigger::Syslog => "udp".into(),
            Trigger::Webhook { name, .. } => name.clone(),
            Trigger::Schedule(_) => self.name.clone(),
            Trigger::Run { workflow, .. } => workflow.clone().unwrap_or_default(),
        }
    }
}

/// The throttle group of an event: its `group_by` values as a JSON list.
fn group_key(throttle: &Throttle, vars: &Map<String, Value>) -> String {
    let values: Vec<Value> = throttle
        .group_by
        .iter()
        .map(|path| criteria::lookup(vars, path).cloned().unwrap_or(Value::Null))
        .collect();
    Value::Array(values).to_string()
}

/// The rules directory: `dir`, else `ORCH_RULES`, else `./rules`.
pub fn resolve_dir(dir: Option<&Path>) -> PathBuf {
    dir.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("ORCH_RULES").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

/// Reads and checks one rule file.
pub fn load_file(path: &Path) -> Result<Rule, RuleError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| RuleError {
        file: shown.clone(),
        line: 0,
        message: format!("cannot read the rule file: {e}"),
    })?;
    let name = rule_name(path).map_err(|message| RuleError {
        file: shown.clone(),
        line: 0,
        message,
    })?;
    parse::parse(&shown, &name, path, &text)
}

/// Every rule of `dir` (`*.yaml`, `*.yml`), by name; the rules that load and the errors of
/// those that do not. A missing directory has no rules.
pub fn load_dir(dir: &Path) -> anyhow::Result<(Vec<Rule>, Vec<RuleError>)> {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((rules, errors)),
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("reading the rules directory {}", dir.display())));
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    for path in paths {
        match load_file(&path) {
            Ok(rule) => {
                if let Some(other) = rules.iter().find(|r: &&Rule| r.name == rule.name) {
                    errors.push(RuleError {
                        file: path.display().to_string(),
                        line: 0,
                        message: format!(
                            "rule {} is also defined by {}; rule names (file names) are unique",
                            rule.name,
                            other.file.display()
                        ),
                    });
                } else {
                    rules.push(rule);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    errors.extend(check_hooks(&rules));
    Ok((rules, errors))
}

/// Hooks declared by several rules must name the same secret.
fn check_hooks(rules: &[Rule]) -> Vec<RuleError> {
    let mut errors = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let Trigger::Webhook { name, secret } = &rule.trigger else {
            continue;
        };
        if let Some(first) = rules[..i].iter().find(|r| {
            matches!(&r.trigger, Trigger::Webhook { name: n, secret: s } if n == name && s != secret)
        }) {
            errors.push(RuleError {
                file: rule.file.display().to_string(),
                line: 0,
                message: format!(
                    "webhook {name} is declared with another secret by rule {} ({}); a hook has \
                     one secret",
                    first.name,
                    first.file.display()
                ),
            });
        }
    }
    errors
}

/// A rule's name from its file: letters, digits, `-`, `_`, `.`.
fn rule_name(path: &Path) -> Result<String, String> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let ok = !stem.is_empty()
        && stem.len() <= 128
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(stem)
    } else {
        Err(format!(
            "the file name gives the rule's name, and {stem:?} is not one: use 1 to 128 letters, \
             digits, '-', '_' or '.'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;

    struct Fake {
        devices: Vec<DeviceRow>,
        fired: Mutex<BTreeMap<String, i64>>,
    }

    impl Lookup for Fake {
        fn device_named(&self, name: &str) -> anyhow::Result<Option<DeviceRow>> {
            Ok(self.devices.iter().find(|d| d.name == name).cloned())
        }
        fn devices_at(&self, address: &str) -> anyhow::Result<Vec<DeviceRow>> {
            Ok(self
                .devices
                .iter()
                .filter(|d| d.address == address)
                .cloned()
                .collect())
        }
        fn last_fired(&self, _: &str, group: &str) -> anyhow::Result<Option<i64>> {
            Ok(self.fired.lock().unwrap().get(group).copied())
        }
    }

    fn device(name: &str, address: &str) -> DeviceRow {
        DeviceRow {
            name: name.into(),
            address: address.into(),
            port: 22,
            platform: "cisco_ios".into(),
            credential: None,
            tags: [("site".to_owned(), "lab".to_owned())].into(),
            vars: json!({}),
        }
    }

    fn fake() -> Fake {
        Fake {
            devices: vec![
                device("R1", "10.0.0.1"),
                device("R2", "10.0.0.2"),
                device("S1", "10.0.0.9"),
                device("S2", "10.0.0.9"),
            ],
            fired: Mutex::new(BTreeMap::new()),
        }
    }

    fn rule(yaml: &str) -> Rule {
        parse::parse("r.yaml", "r", Path::new("r.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"))
    }

    const CONFIG_CHANGED: &str = r#"
trigger: { type: syslog }
criteria:
  - event.message: { contains: "%SYS-5-CONFIG_I" }
  - device.name: { exists: true }
throttle: { once_within: 10m, group_by: [device.name] }
run:
  workflow: config-drift
  input: { device: <% ctx().device.name %>, site: "{{ ctx().device.tags.site }}" }
"#;

    fn syslog(host: &str, address: &str, message: &str) -> Value {
        json!({"type": "syslog", "name": "udp", "host": host, "source_address": address, "message": message})
    }

    #[test]
    fn a_config_change_from_a_known_device_fires_once_per_window_per_device() {
        let r = rule(CONFIG_CHANGED);
        let f = fake();
        let now = 1_000_000;
        let e = syslog("-", "10.0.0.1", "%SYS-5-CONFIG_I: Configured from console");
        let (d, note) = r.enrich(&e, &f).unwrap();
        assert_eq!(note, None);
        let v = decide(&r, &e, d.as_ref(), &f, &[], now);
        let Verdict::Fire {
            workflow,
            input,
            group,
        } = &v
        else {
            panic!("{v:?}")
        };
        assert_eq!(workflow, "config-drift");
        assert_eq!(
            Value::Object(input.clone()),
            json!({"device": "R1", "site": "lab"})
        );
        assert_eq!(group.as_deref(), Some("[\"R1\"]"));
        // Fired earlier in this batch: throttled.
        let again = decide(&r, &e, d.as_ref(), &f, &[("[\"R1\"]".into(), now)], now + 1);
        assert!(
            matches!(again, Verdict::Throttled { until, .. } if until == now + 600_000),
            "{again:?}"
        );
        // Fired 9 minutes ago (stored): throttled; 11 minutes ago: fires.
        f.fired
            .lock()
            .unwrap()
            .insert("[\"R1\"]".into(), now - 540_000);
        assert_eq!(decide(&r, &e, d.as_ref(), &f, &[], now).name(), "throttled");
        f.fired
            .lock()
            .unwrap()
            .insert("[\"R1\"]".into(), now - 660_000);
        assert_eq!(decide(&r, &e, d.as_ref(), &f, &[], now).name(), "fired");
        // Another device is another group.
        let e2 = syslog(
            "R2",
            "192.0.2.7",
            "%SYS-5-CONFIG_I: Configured from console",
        );
        let (d2, _) = r.enrich(&e2, &f).unwrap();
        assert_eq!(
            d2.as_ref().map(|d| d.name.as_str()),
            Some("R2"),
            "found by name"
        );
        assert_eq!(
            decide(&r, &e2, d2.as_ref(), &f, &[("[\"R1\"]".into(), now)], now).name(),
            "fired"
        );
    }

    #[test]
    fn an_unknown_or_ambiguous_source_has_no_device_and_the_criterion_says_so() {
        let r = rule(CONFIG_CHANGED);
        let f = fake();
        let e = syslog("-", "192.0.2.99", "%SYS-5-CONFIG_I: x");
        let (d, note) = r.enrich(&e, &f).unwrap();
        assert!(d.is_none() && note.is_none());
        let v = decide(&r, &e, None, &f, &[], 0);
        assert!(
            matches!(&v, Verdict::CriteriaFalse { detail, line: 5, .. } if detail == "device.name is missing"),
            "{v:?}"
        );
        let shared = syslog("-", "10.0.0.9", "%SYS-5-CONFIG_I: x");
        let (d, note) = r.enrich(&shared, &f).unwrap();
        assert!(d.is_none());
        assert!(
            note.unwrap()
                .contains("2 inventory devices have address 10.0.0.9 (S1, S2)")
        );
        let other = syslog("-", "10.0.0.1", "%LINK-3-UPDOWN: x");
        let (d, _) = r.enrich(&other, &f).unwrap();
        let v = decide(&r, &other, d.as_ref(), &f, &[], 0);
        assert!(
            v.detail()
                .contains("`event.message contains \"%SYS-5-CONFIG_I\"` (line 4) is false"),
            "{}",
            v.detail()
        );
    }

    #[test]
    fn an_input_that_fails_to_render_is_an_error_decision() {
        let r = rule(
            "trigger: { type: webhook, name: mon, secret: s }\nrun:\n  workflow: w\n  input: { host: <% ctx().event.body.host %> }\n",
        );
        let f = fake();
        let v = decide(&r, &json!({"body": {}}), None, &f, &[], 0);
        assert!(
            matches!(&v, Verdict::Error { message } if message.contains("run.input")),
            "{v:?}"
        );
        let v = decide(&r, &json!({"body": {"host": "h1"}}), None, &f, &[], 0);
        assert_eq!(v.name(), "fired");
    }
}
