//! `orch pack check FILE`: the conformance check a vendor runs before shipping a pack, without
//! an orch home. It takes the steps `pack add` takes (compile, contract and imports, describe in
//! the sandbox, names, versions, schemas, destinations) and goes further than `pack add` can:
//! each action's declared examples (the standard JSON Schema `examples` of its input schema)
//! run in a fresh sandbox with no grants, and what they return is held to the action's output
//! schema. Every finding names its subject and, where there is one, the fix.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::manifest::{ActionSpec, Manifest};
use crate::capabilities::broker::{Broker, CapabilityContext};
use crate::contract::CallContext;
use crate::policy::grants::Capability;
use crate::runtime::{Limits, PreparedPack, Runtime};
use crate::schema::Schema;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to fix.
    Note,
    /// Works, but operators or workflows will be misled or miss something.
    Warning,
    /// `pack add` refuses the pack, or an action breaks its own contract.
    Error,
}

/// One thing the check found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// What it is about: `file`, `contract`, `describe`, `imports`, `action NAME`, …
    pub subject: String,
    /// What was found, and the fix.
    pub message: String,
}

/// What the check measured and found.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// The file as given.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Time to compile it to native code (what `pack add` pays once).
    pub compile_ms: f64,
    /// Name, version and vendor, once described.
    pub pack: Option<PackSummary>,
    /// What the component imports.
    pub imports: Vec<String>,
    /// Examples run, and how many of them returned an output that matched its schema.
    pub examples_run: usize,
    /// Examples whose output was held to the output schema and matched it.
    pub examples_matched: usize,
    /// Everything found, in the order found.
    pub findings: Vec<Finding>,
}

/// Who the pack says it is.
#[derive(Debug, Serialize)]
pub struct PackSummary {
    /// Pack name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Vendor.
    pub vendor: String,
    /// Number of actions.
    pub actions: usize,
}

impl CheckReport {
    /// Whether anything found would make `pack add` refuse the pack or an action break its
    /// contract.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    fn found(
        &mut self,
        severity: Severity,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.findings.push(Finding {
            severity,
            subject: subject.into(),
            message: message.into(),
        });
    }
}

/// Limits for running an example: the defaults of `orch action run`, with a shorter deadline
/// (an example is a smoke test, not a job).
const EXAMPLE_LIMITS: Limits = Limits {
    deadline: Duration::from_secs(20),
    ..Limits::DEFAULT
};

/// Checks the pack in `path` with `runtime`. Fails only when the file cannot be read; every
/// problem of the pack itself is a finding.
pub async fn check(runtime: &Runtime, path: &Path) -> anyhow::Result<CheckReport> {
    let shown = path.display().to_string();
    let wasm = std::fs::read(path).map_err(|err| super::PackError::Unreadable {
        path: shown.clone(),
        reason: err.to_string(),
    })?;
    let mut report = CheckReport {
        file: shown,
        size: wasm.len() as u64,
        compile_ms: 0.0,
        pack: None,
        imports: Vec::new(),
        examples_run: 0,
        examples_matched: 0,
        findings: Vec::new(),
    };
    let started = Instant::now();
    let component = match runtime.compile(&wasm) {
        Ok(component) => component,
        Err(err) => {
            report.found(Severity::Error, "file", err.to_string());
            return Ok(report);
        }
    };
    report.compile_ms = started.elapsed().as_secs_f64() * 1000.0;
    let file_name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("pack");
    let prepared = match runtime.prepare(file_name, &component) {
        Ok(prepared) => prepared,
        Err(err) => {
            report.found(Severity::Error, "contract", err.to_string());
            return Ok(report);
        }
    };
    report.imports = prepared.shape().imports.clone();
    let info = match runtime.describe(&prepared).await {
        Ok(info) => info,
        Err(err) => {
            report.found(Severity::Error, "describe", err.to_string());
            return Ok(report);
        }
    };
    let manifest = match Manifest::from_info(info) {
        Ok(manifest) => manifest,
        Err(err) => {
            report.found(Severity::Error, "describe", err.to_string());
            return Ok(report);
        }
    };
    report.pack = Some(PackSummary {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        vendor: manifest.vendor.clone(),
        actions: manifest.actions.len(),
    });
    check_metadata(&mut report, &manifest);
    check_imports(&mut report, &manifest);
    for action in &manifest.actions {
        check_action(&mut report, runtime, &prepared, &manifest.name, action).await;
    }
    Ok(report)
}

fn check_metadata(report: &mut CheckReport, manifest: &Manifest) {
    if manifest.vendor.trim().is_empty() {
        report.found(
            Severity::Warning,
            "pack",
            "no vendor: operators see who ships a pack at `pack add`; set it (PackDef::vendor)",
        );
    }
    if manifest.description.trim().is_empty() {
        report.found(
            Severity::Warning,
            "pack",
            "no description: set one (PackDef::description) so `pack list` says what it does",
        );
    }
    if manifest.actions.is_empty() {
        report.found(
            Severity::Warning,
            "pack",
            "no actions: workflows have nothing to call",
        );
    }
}

/// The capabilities a pack imports against the destinations it declares: an import without a
/// declared destination leaves the operator guessing what to grant.
fn check_imports(report: &mut CheckReport, manifest: &Manifest) {
    // componentize-py and componentize-js import every interface of the world, used or not:
    // an import then says nothing about what the pack does, so say that once, not per import.
    let imports_everything = [Capability::Http, Capability::Ssh, Capability::Catalog]
        .iter()
        .all(|c| {
            report
                .imports
                .iter()
                .any(|i| Capability::of_import(i) == Some(*c))
        });
    if imports_everything {
        report.found(
            Severity::Note,
            "imports",
            "the component imports every interface of the contract (componentize-py and \
             componentize-js always do): operators are asked only for the destinations it \
             declares",
        );
    }
    for capability in [Capability::Http, Capability::Ssh] {
        let (kind, interface) = (capability.as_str(), capability.interface());
        let imported = report
            .imports
            .iter()
            .find(|i| Capability::of_import(i) == Some(capability))
            .map(|i| i.split('@').next().unwrap_or(i).to_owned());
        let declared = manifest.destinations.iter().any(|d| d.kind == kind);
        if let Some(interface) = &imported
            && !declared
            && !imports_everything
        {
            report.found(
                Severity::Note,
                "imports",
                format!(
                    "the component imports {interface} but declares no {kind} destination: if \
                     an action uses it, declare where it goes (PackDef::destination) so \
                     operators are asked at `pack add`"
                ),
            );
        }
        if declared && imported.is_none() {
            report.found(
                Severity::Warning,
                "imports",
                format!(
                    "a {kind} destination is declared but the component does not import \
                     {interface}: nothing can use it; remove the destination"
                ),
            );
        }
    }
}

async fn check_action(
    report: &mut CheckReport,
    runtime: &Runtime,
    prepared: &PreparedPack,
    pack: &str,
    action: &ActionSpec,
) {
    let subject = format!("action {}", action.name);
    let action_ref = format!("{pack}.{}", action.name);
    if action.description.trim().is_empty() {
        report.found(
            Severity::Warning,
            &subject,
            "no description: the console and `pack show` have nothing to say about it",
        );
    }
    if action.output_schema == Value::Bool(true) || action.output_schema == serde_json::json!({}) {
        report.found(
            Severity::Warning,
            &subject,
            "the output schema allows anything: workflows cannot rely on its shape and its \
             outputs are never checked; declare the output type",
        );
    }
    // `Manifest::from_info` compiled both already; a failure here is a host bug, not the pack's.
    let (Ok(input_schema), Ok(output_schema)) = (
        Schema::compile(&action.input_schema),
        Schema::compile(&action.output_schema),
    ) else {
        report.found(Severity::Error, &subject, "its schemas do not compile");
        return;
    };
    let examples = match action.input_schema.get("examples") {
        Some(Value::Array(examples)) if !examples.is_empty() => examples.clone(),
        _ => {
            report.found(
                Severity::Note,
                &subject,
                "no examples, so its output was not checked here: an action that computes \
                 declares one (orch_sdk Action::example, or `examples` in its input schema); one \
                 that reaches the network is tested natively with orch_sdk::testing",
            );
            return;
        }
    };
    let lent = CapabilityContext::nothing(pack, &Broker::detached());
    for (index, example) in examples.iter().enumerate() {
        let which = format!("{subject}, example {}", index + 1);
        if let Err(rejected) = input_schema.check(&action_ref, example) {
            report.found(
                Severity::Error,
                &which,
                format!("the example does not match the input schema: {rejected}"),
            );
            continue;
        }
        let context = CallContext {
            run_id: String::new(),
            task: "check".to_owned(),
            attempt: 1,
            idempotency_key: format!("check-{}-{}", action.name, index + 1),
        };
        report.examples_run += 1;
        let outcome = runtime
            .invoke(
                prepared,
                &action.name,
                &example.to_string(),
                &context,
                &EXAMPLE_LIMITS,
                &lent,
            )
            .await;
        let mut invocation = match outcome {
            Ok(invocation) => invocation,
            Err(stopped) => {
                report.found(
                    Severity::Error,
                    &which,
                    format!("the sandbox stopped it: {stopped}"),
                );
                continue;
            }
        };
        invocation.check_output(&output_schema, &action_ref);
        match &invocation.result {
            Ok(_) => report.examples_matched += 1,
            Err(error) if error.code == "invalid_output" => {
                report.found(Severity::Error, &which, error.message.clone());
            }
            // The check grants nothing: an example that reaches a device or an API is refused
            // there, and what it would return cannot be seen.
            Err(error) if error.code == "denied" => report.found(
                Severity::Note,
                &which,
                "it reaches beyond the sandbox (denied: the check grants nothing), so its output \
                 was not checked; test it natively with orch_sdk::testing",
            ),
            Err(error) => report.found(
                Severity::Warning,
                &which,
                format!(
                    "it failed with {}: {} (an example should show a successful call)",
                    error.code, error.message
                ),
            ),
        }
    }
}
