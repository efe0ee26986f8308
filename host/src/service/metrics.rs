//! `/metrics` of `orch serve`: what the server did and holds, in the OpenMetrics text format
//! that Prometheus scrapes (encoded by the `prometheus-client` crate).
//!
//! Two kinds of figures:
//! - counted as things happen: pack action attempts by outcome and their durations (a histogram
//!   per action), run drives ended by status (from the engine's notes, [`Metrics::note`]), and
//!   the service's own [`Counters`] (events received by source, rule decisions, webhook
//!   refusals, syslog drops, …), each named as a Prometheus family with a label;
//! - read at scrape time: runs in the store by status (every process's runs, not only this
//!   server's), the event queue's depth and capacity, the runs this server drives.
//!
//! Labels hold only names an operator chose (packs, actions, statuses, event sources): never an
//! input, an output or an error text, so nothing secret and no unbounded cardinality.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use super::Counters;
use crate::engine::Note;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, String)>;

/// Action durations: 1 ms to ~65 s, doubling (17 buckets); a network action takes 10 ms to
/// tens of seconds, a pure one well under a millisecond.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// What `/metrics` shows beyond the [`Counters`].
pub struct Metrics {
    attempts: Family<Labels, Counter>,
    durations: Family<Labels, Histogram, fn() -> Histogram>,
    drives_ended: Family<Labels, Counter>,
    /// Attempts started and not yet finished: their action and start, to time and label them.
    started: Mutex<HashMap<AttemptKey, (String, Instant)>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AttemptKey {
    run: String,
    exec: String,
    item: Option<usize>,
    attempt: u32,
}

/// What is read at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Runs in the store by status.
    pub runs_by_status: Vec<(String, u64)>,
    /// Events waiting in the queue.
    pub queue_depth: usize,
    /// The queue's capacity.
    pub queue_capacity: usize,
    /// Runs this server drives now.
    pub active_runs: usize,
    /// The service's counters.
    pub counters: BTreeMap<String, u64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            attempts: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            drives_ended: Family::default(),
            started: Mutex::new(HashMap::new()),
        }
    }
}

impl Metrics {
    /// Counts what an engine note says happened.
    pub fn note(&self, note: &Note<'_>) {
        match note {
            Note::Started {
                run,
                exec,
                item,
                attempt,
                action,
            } => {
                let key = AttemptKey {
                    run: (*run).to_owned(),
                    exec: (*exec).to_owned(),
                    item: *item,
                    attempt: *attempt,
                };
                self.lock()
                    .insert(key, ((*action).to_owned(), Instant::now()));
            }
            Note::Finished {
                run,
                exec,
                item,
                attempt,
                error,
                elapsed,
            } => {
                let key = AttemptKey {
                    run: (*run).to_owned(),
                    exec: (*exec).to_owned(),
                    item: *item,
                    attempt: *attempt,
                };
                // An attempt finished without a start note was found finished in the journal
                // (a resume): it was counted by the process that ran it.
                let Some((action, since)) = self.lock().remove(&key) else {
                    return;
                };
                let outcome = if error.is_some() {
                    "failed"
                } else {
                    "succeeded"
                };
                let took = elapsed.unwrap_or_else(|| since.elapsed());
                self.finished(&action, outcome, took);
            }
            Note::RunEnded(outcome) => {
                self.drives_ended
                    .get_or_create(&vec![("status", outcome.status.to_string())])
                    .inc();
                // Attempts of a drive that stopped (paused by a signal) never finish here.
                let run = outcome.run.as_str();
                self.lock().retain(|k, _| k.run != run);
            }
            _ => {}
        }
    }

    fn finished(&self, action: &str, outcome: &str, took: Duration) {
        let pack = action.split_once('.').map_or(action, |(p, _)| p);
        self.attempts
            .get_or_create(&vec![
                ("pack", pack.to_owned()),
                ("action", action.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
        self.durations
            .get_or_create(&vec![
                ("pack", pack.to_owned()),
                ("action", action.to_owned()),
            ])
            .observe(took.as_secs_f64());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AttemptKey, (String, Instant)>> {
        self.started.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The whole text of `/metrics`.
    pub fn render(&self, now: &Snapshot) -> String {
        let mut registry = Registry::with_prefix("orch");
        registry.register(
            "action_attempts",
            "Pack action attempts finished, by pack, action and outcome",
            self.attempts.clone(),
        );
        registry.register_with_unit(
            "action_duration",
            "Wall time of pack action attempts, by pack and action",
            Unit::Seconds,
            self.durations.clone(),
        );
        registry.register(
            "run_drives_ended",
            "Drives of runs by this server that ended, by the run's status then (paused: resumable)",
            self.drives_ended.clone(),
        );

        let runs: Family<Labels, Gauge> = Family::default();
        for (status, n) in &now.runs_by_status {
            runs.get_or_create(&vec![("status", status.clone())])
                .set(*n as i64);
        }
        registry.register("runs", "Runs in the store by status", runs);
        registry.register(
            "event_queue_depth",
            "Events received and not yet stored",
            gauge(now.queue_depth),
        );
        registry.register(
            "event_queue_capacity",
            "Events the queue holds before syslog messages are dropped and webhooks get 503",
            gauge(now.queue_capacity),
        );
        registry.register(
            "active_runs",
            "Runs this server drives now",
            gauge(now.active_runs),
        );
        for (family, help, label, values) in counter_families(&now.counters) {
            let counters: Family<Labels, Counter> = Family::default();
            for (value, n) in values {
                let labels = match label {
                    Some(label) => vec![(label, value)],
                    None => Vec::new(),
                };
                counters.get_or_create(&labels).inc_by(n);
            }
            registry.register(family, help, counters);
        }

        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode_registry(&mut text, &registry);
        let _ = encode_eof(&mut text);
        text
    }
}

fn gauge(value: usize) -> Gauge {
    let g = Gauge::default();
    g.set(i64::try_from(value).unwrap_or(i64::MAX));
    g
}

/// How the service's dotted counter names become Prometheus families: the counter's name
/// starts with `prefix.`, the rest is the label's value (or there is no label).
const FAMILIES: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "events.stored",
        "events_received",
        "Events stored, by source (webhook, syslog, schedule, run)",
        Some("source"),
    ),
    (
        "events.duplicate",
        "events_duplicate",
        "Events refused as already stored (a schedule slot or a webhook replay key seen before)",
        None,
    ),
    (
        "events.store_failed",
        "events_store_failed",
        "Events the store failed to keep",
        None,
    ),
    (
        "rules",
        "rule_decisions",
        "What rules decided about events: fired, throttled, criteria false, error",
        Some("decision"),
    ),
    (
        "hooks.accepted",
        "webhook_requests_accepted",
        "Webhook requests accepted",
        None,
    ),
    (
        "hooks.refused",
        "webhook_requests_refused",
        "Webhook requests refused, by the refusal's code",
        Some("code"),
    ),
    (
        "syslog",
        "syslog_messages",
        "Syslog messages, by what became of them: received, dropped (queue full), oversized, empty",
        Some("outcome"),
    ),
    (
        "schedule.skipped",
        "schedule_slots_skipped",
        "Schedule slots missed while the server was down and skipped, as their rule says",
        None,
    ),
    (
        "api.refused",
        "api_refusals",
        "API requests refused for a missing, unknown or expired token",
        None,
    ),
    (
        "runs.started",
        "runs_started",
        "Runs started by this server (fired by rules or asked for through the API)",
        None,
    ),
];

type CounterFamily = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Vec<(String, u64)>,
);

/// The counters grouped into their families (a counter no family claims is left out: the
/// total `events.stored` is the sum of its sources, for instance).
fn counter_families(counters: &BTreeMap<String, u64>) -> Vec<CounterFamily> {
    FAMILIES
        .iter()
        .map(|(prefix, family, help, label)| {
            let values = counters
                .iter()
                .filter_map(|(name, n)| match label {
                    Some(_) => name
                        .strip_prefix(prefix)
                        .and_then(|rest| rest.strip_prefix('.'))
                        .map(|value| (value.to_owned(), *n)),
                    None => (name == prefix).then(|| (String::new(), *n)),
                })
                .collect();
            (*family, *help, *label, values)
        })
        .collect()
}

impl Counters {
    /// Whether a counter named `name` would show in `/metrics` (a test keeps the two in step).
    #[cfg(test)]
    fn exported(name: &str) -> bool {
        let mut one = BTreeMap::new();
        one.insert(name.to_owned(), 1);
        counter_families(&one).iter().any(|f| !f.3.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Outcome, RunState};

    fn started(m: &Metrics, exec: &str, action: &str) {
        m.note(&Note::Started {
            run: "r1",
            exec,
            item: None,
            attempt: 1,
            action,
        });
    }

    fn finished(m: &Metrics, exec: &str, error: Option<&serde_json::Value>, ms: u64) {
        m.note(&Note::Finished {
            run: "r1",
            exec,
            item: None,
            attempt: 1,
            error,
            elapsed: Some(Duration::from_millis(ms)),
        });
    }

    #[test]
    fn attempts_are_counted_by_outcome_and_timed_per_action() {
        let m = Metrics::default();
        started(&m, "fetch#1", "netdev.get_running_config");
        finished(&m, "fetch#1", None, 30);
        started(&m, "fetch#2", "netdev.get_running_config");
        finished(
            &m,
            "fetch#2",
            Some(&serde_json::json!({"code": "timeout"})),
            5000,
        );
        // Found finished in a journal (no start note): not counted again.
        finished(&m, "old#1", None, 1);
        let text = m.render(&Snapshot::default());
        assert!(
            text.contains(r#"orch_action_attempts_total{pack="netdev",action="netdev.get_running_config",outcome="succeeded"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"orch_action_attempts_total{pack="netdev",action="netdev.get_running_config",outcome="failed"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"orch_action_duration_seconds_count{pack="netdev",action="netdev.get_running_config"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"orch_action_duration_seconds_bucket{le="0.032",pack="netdev",action="netdev.get_running_config"} 1"#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn a_stopped_drive_forgets_its_unfinished_attempts() {
        let m = Metrics::default();
        started(&m, "slow#1", "core.sleep");
        let outcome = Outcome {
            run: "r1".into(),
            status: RunState::Paused,
            output: None,
            errors: Vec::new(),
            reason: None,
            questions: Vec::new(),
        };
        m.note(&Note::RunEnded(&outcome));
        assert!(m.lock().is_empty());
        let text = m.render(&Snapshot::default());
        assert!(
            text.contains(r#"orch_run_drives_ended_total{status="paused"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn scrape_time_figures_and_counters_become_labelled_families() {
        let m = Metrics::default();
        let mut counters = BTreeMap::new();
        for (name, n) in [
            ("events.stored", 7),
            ("events.stored.syslog", 5),
            ("events.stored.webhook", 2),
            ("rules.fired", 3),
            ("rules.throttled", 4),
            ("syslog.dropped", 9),
            ("hooks.refused.bad_signature", 1),
        ] {
            counters.insert(name.to_owned(), n);
        }
        let text = m.render(&Snapshot {
            runs_by_status: vec![("running".into(), 2), ("succeeded".into(), 40)],
            queue_depth: 3,
            queue_capacity: 10_000,
            active_runs: 2,
            counters,
        });
        for line in [
            r#"orch_runs{status="succeeded"} 40"#,
            "orch_event_queue_depth 3",
            "orch_event_queue_capacity 10000",
            "orch_active_runs 2",
            r#"orch_events_received_total{source="syslog"} 5"#,
            r#"orch_events_received_total{source="webhook"} 2"#,
            r#"orch_rule_decisions_total{decision="throttled"} 4"#,
            r#"orch_syslog_messages_total{outcome="dropped"} 9"#,
            r#"orch_webhook_requests_refused_total{code="bad_signature"} 1"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(
            !text.contains("orch_events_received_total 7"),
            "the total is the sum of the sources: {text}"
        );
    }

    #[test]
    fn every_counter_the_service_counts_is_exported() {
        for name in [
            "events.stored.syslog",
            "events.duplicate",
            "events.store_failed",
            "rules.fired",
            "rules.error",
            "syslog.received",
            "syslog.empty",
            "syslog.dropped",
            "syslog.oversized",
            "hooks.accepted",
            "hooks.refused.bad_signature",
            "schedule.skipped",
            "api.refused",
            "runs.started",
        ] {
            assert!(Counters::exported(name), "{name} is not in /metrics");
        }
    }
}
