//! `report`: the fleet compliance report from per-device results, and its Markdown summary.
//!
//! The report (JSON, stored by the workflow) has, per device, its status (`compliant`,
//! `non_compliant`, `unreachable`, `error`) and each feature's status; per feature, how many
//! devices are compliant, not compliant, or have a rule that selects nothing. The summary is
//! Markdown for a person: the totals, a table of devices by feature, then what is missing and
//! extra per non-compliant feature, the rules that select nothing and the unreachable devices.

use std::collections::BTreeMap;

use orch_sdk::{ActionError, Context};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One feature of a device's compliance (as `compliance` returns it).
#[derive(Deserialize, Serialize, JsonSchema, Clone)]
pub struct FeatureLine {
    /// Feature name.
    pub feature: String,
    /// `compliant`, `non_compliant` or `no_match`.
    pub status: String,
    /// Missing lines.
    #[serde(default)]
    pub missing: String,
    /// Extra lines.
    #[serde(default)]
    pub extra: String,
    /// Why, when not compliant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A device's compliance (the parts the report reads).
#[derive(Deserialize, JsonSchema)]
pub struct DeviceCompliance {
    /// Platform.
    #[serde(default)]
    pub platform: Option<String>,
    /// Features.
    pub features: Vec<FeatureLine>,
    /// Lines no rule covers.
    #[serde(default)]
    pub uncovered_lines: usize,
}

/// One device's result, as the `device-compliance` workflow returns it.
#[derive(Deserialize, JsonSchema)]
pub struct DeviceResult {
    /// Device name.
    pub device: String,
    /// Whether its compliance could be computed.
    pub ok: bool,
    /// Why not (unreachable, no intended config, …).
    #[serde(default)]
    pub error: Option<String>,
    /// The compliance, when `ok`.
    #[serde(default)]
    pub compliance: Option<DeviceCompliance>,
}

/// Input of `report`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// Per-device results; a list of lists (one per site) is flattened.
    pub results: serde_json::Value,
    /// Title of the summary.
    #[serde(default = "title")]
    pub title: String,
}

fn title() -> String {
    "Configuration compliance".to_owned()
}

/// A device in the report.
#[derive(Serialize, JsonSchema)]
pub struct DeviceRow {
    /// Name.
    pub device: String,
    /// `compliant`, `non_compliant`, `unreachable` (the device could not be read) or `error`.
    pub status: String,
    /// Platform, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Each feature's status.
    pub features: BTreeMap<String, String>,
    /// Lines no rule covers.
    pub uncovered_lines: usize,
    /// The error, for `unreachable` and `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A feature across the fleet.
#[derive(Serialize, JsonSchema, Default)]
pub struct FeatureTotals {
    /// Devices compliant with it.
    pub compliant: usize,
    /// Devices not compliant with it.
    pub non_compliant: usize,
    /// Devices where its rule selects nothing.
    pub no_match: usize,
}

/// The fleet report.
#[derive(Serialize, JsonSchema)]
pub struct Report {
    /// Devices in all.
    pub devices: usize,
    /// Devices compliant in every feature.
    pub compliant: usize,
    /// Devices with a feature not compliant (or a rule selecting nothing).
    pub non_compliant: usize,
    /// Devices that could not be read.
    pub unreachable: usize,
    /// Devices whose check failed otherwise (no intended config, no rules).
    pub errors: usize,
    /// Per feature.
    pub features: BTreeMap<String, FeatureTotals>,
    /// Per device, by name.
    pub by_device: Vec<DeviceRow>,
}

/// Output of `report`.
#[derive(Serialize, JsonSchema)]
pub struct ReportOutput {
    /// The report.
    pub report: Report,
    /// The summary in Markdown.
    pub markdown: String,
}

fn flatten(value: serde_json::Value, out: &mut Vec<serde_json::Value>) {
    match value {
        serde_json::Value::Array(items) => items.into_iter().for_each(|v| flatten(v, out)),
        serde_json::Value::Object(mut map)
            if map.contains_key("results") && !map.contains_key("device") =>
        {
            if let Some(inner) = map.remove("results") {
                flatten(inner, out);
            }
        }
        other => out.push(other),
    }
}

/// Whether an error says the device could not be reached or logged in to.
fn is_unreachable(error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    [
        "unreachable",
        "connection refused",
        "timed out",
        "timeout",
        "connect",
        "auth",
        "host key",
    ]
    .iter()
    .any(|w| e.contains(w))
}

pub fn report(input: ReportInput, ctx: &Context) -> Result<ReportOutput, ActionError> {
    let mut items = Vec::new();
    flatten(input.results, &mut items);
    let mut results = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let result: DeviceResult = serde_json::from_value(item).map_err(|err| {
            ActionError::invalid_input(format!("results[{i}] is not a device result: {err}"))
        })?;
        results.push(result);
    }
    results.sort_by(|a, b| a.device.cmp(&b.device));
    let report = build(&results);
    let markdown = markdown(&input.title, &report, &results);
    ctx.info(&format!(
        "{} devices: {} compliant, {} not, {} unreachable, {} errors",
        report.devices, report.compliant, report.non_compliant, report.unreachable, report.errors
    ));
    Ok(ReportOutput { report, markdown })
}

fn build(results: &[DeviceResult]) -> Report {
    let mut report = Report {
        devices: results.len(),
        compliant: 0,
        non_compliant: 0,
        unreachable: 0,
        errors: 0,
        features: BTreeMap::new(),
        by_device: Vec::new(),
    };
    for r in results {
        let (status, platform, features, uncovered) = match (&r.compliance, r.ok) {
            (Some(c), true) => {
                let mut features = BTreeMap::new();
                for f in &c.features {
                    let totals = report.features.entry(f.feature.clone()).or_default();
                    match f.status.as_str() {
                        "compliant" => totals.compliant += 1,
                        "no_match" => totals.no_match += 1,
                        _ => totals.non_compliant += 1,
                    }
                    features.insert(f.feature.clone(), f.status.clone());
                }
                let all = c.features.iter().all(|f| f.status == "compliant");
                let status = if all { "compliant" } else { "non_compliant" };
                (status, c.platform.clone(), features, c.uncovered_lines)
            }
            _ => {
                let unreachable = r.error.as_deref().is_some_and(is_unreachable);
                let status = if unreachable { "unreachable" } else { "error" };
                (status, None, BTreeMap::new(), 0)
            }
        };
        match status {
            "compliant" => report.compliant += 1,
            "non_compliant" => report.non_compliant += 1,
            "unreachable" => report.unreachable += 1,
            _ => report.errors += 1,
        }
        report.by_device.push(DeviceRow {
            device: r.device.clone(),
            status: status.to_owned(),
            platform,
            features,
            uncovered_lines: uncovered,
            error: if status == "compliant" || status == "non_compliant" {
                None
            } else {
                r.error.clone()
            },
        });
    }
    report
}

/// Markdown-safe cell text.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn fenced(out: &mut String, label: &str, text: &str) {
    if text.is_empty() {
        return;
    }
    out.push_str(&format!("{label}:\n\n```\n{text}```\n\n"));
}

fn markdown(title: &str, report: &Report, results: &[DeviceResult]) -> String {
    let mut out = format!("# {title}\n\n");
    out.push_str(&format!(
        "**{} devices**: {} compliant, {} not compliant, {} unreachable, {} errors.\n\n",
        report.devices, report.compliant, report.non_compliant, report.unreachable, report.errors
    ));
    let features: Vec<&String> = report.features.keys().collect();
    if !features.is_empty() {
        out.push_str(
            "| feature | compliant | not compliant | rule selects nothing |\n|---|---|---|---|\n",
        );
        for (name, t) in &report.features {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(name),
                t.compliant,
                t.non_compliant,
                t.no_match
            ));
        }
        out.push('\n');
    }
    out.push_str("| device | platform | status |");
    for f in &features {
        out.push_str(&format!(" {} |", cell(f)));
    }
    out.push_str("\n|---|---|---|");
    for _ in &features {
        out.push_str("---|");
    }
    out.push('\n');
    for row in &report.by_device {
        out.push_str(&format!(
            "| {} | {} | {} |",
            cell(&row.device),
            cell(row.platform.as_deref().unwrap_or("")),
            row.status.replace('_', " ")
        ));
        for f in &features {
            let mark = match row.features.get(*f).map(String::as_str) {
                Some("compliant") => "ok",
                Some("non_compliant") => "**no**",
                Some("no_match") => "no match",
                _ => "",
            };
            out.push_str(&format!(" {mark} |"));
        }
        out.push('\n');
    }
    let mut details = String::new();
    let mut no_match = String::new();
    for r in results {
        let Some(c) = &r.compliance else { continue };
        for f in &c.features {
            match f.status.as_str() {
                "non_compliant" => {
                    details.push_str(&format!("### {} / {}\n\n", r.device, f.feature));
                    if let Some(m) = &f.message {
                        details.push_str(&format!("{m}.\n\n"));
                    }
                    fenced(&mut details, "missing", &f.missing);
                    fenced(&mut details, "extra", &f.extra);
                }
                "no_match" => no_match.push_str(&format!(
                    "- {} / {}: {}\n",
                    r.device,
                    f.feature,
                    f.message.as_deref().unwrap_or("the rule selects nothing")
                )),
                _ => {}
            }
        }
    }
    if !details.is_empty() {
        out.push_str("\n## Not compliant\n\n");
        out.push_str(&details);
    }
    if !no_match.is_empty() {
        out.push_str("\n## Rules that select nothing\n\n");
        out.push_str(&no_match);
    }
    let failed: Vec<&DeviceRow> = report
        .by_device
        .iter()
        .filter(|r| r.error.is_some())
        .collect();
    if !failed.is_empty() {
        out.push_str("\n## Not checked\n\n");
        for row in failed {
            out.push_str(&format!(
                "- {} ({}): {}\n",
                row.device,
                row.status,
                cell(row.error.as_deref().unwrap_or(""))
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_devices_and_features_and_writes_markdown() {
        let results = serde_json::json!([
            [
                { "device": "R2", "ok": true, "compliance": { "platform": "cisco_ios", "uncovered_lines": 3, "features": [
                    { "feature": "ntp", "status": "non_compliant", "missing": "ntp server 192.0.2.2\n", "extra": "ntp server 192.0.2.9\n", "message": "1 line(s) missing, 1 extra" },
                    { "feature": "aaa", "status": "no_match", "message": "rule \"aaa\" selects no line" } ] } },
                { "device": "DEAD1", "ok": false, "error": "device unreachable: connection refused" }
            ],
            { "results": [
                { "device": "R1", "ok": true, "compliance": { "platform": "cisco_ios", "features": [
                    { "feature": "ntp", "status": "compliant" }, { "feature": "aaa", "status": "compliant" } ] } },
                { "device": "R9", "ok": false, "error": "no intended config configs/R9/intended" }
            ] }
        ]);
        let out = report(
            ReportInput {
                results,
                title: title(),
            },
            &Context::for_tests(),
        )
        .expect("report");
        let r = &out.report;
        assert_eq!(
            (
                r.devices,
                r.compliant,
                r.non_compliant,
                r.unreachable,
                r.errors
            ),
            (4, 1, 1, 1, 1)
        );
        assert_eq!(r.features["ntp"].non_compliant, 1);
        assert_eq!(r.features["aaa"].no_match, 1);
        let names: Vec<&str> = r.by_device.iter().map(|d| d.device.as_str()).collect();
        assert_eq!(names, ["DEAD1", "R1", "R2", "R9"]);
        let md = &out.markdown;
        for needle in [
            "**4 devices**: 1 compliant, 1 not compliant, 1 unreachable, 1 errors.",
            "| R2 | cisco_ios | non compliant | no match | **no** |",
            "### R2 / ntp",
            "missing:\n\n```\nntp server 192.0.2.2\n```",
            "- R2 / aaa: rule \"aaa\" selects no line",
            "- DEAD1 (unreachable): device unreachable: connection refused",
            "- R9 (error): no intended config",
        ] {
            assert!(md.contains(needle), "{needle:?} not in\n{md}");
        }
    }
}
