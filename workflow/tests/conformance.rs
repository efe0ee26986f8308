//! The Orquesta conformance suite: every case under `tests/conformance/` (a workflow of ours
//! with the task graph of an Orquesta fixture, and a spec with the mocked outcomes and the
//! executions and final status Orquesta's conducting test expects) rehearsed on the machine, one
//! trial per case, reported by name.
//!
//! A case whose spec records a `known_deviation` passes only while the run differs exactly as
//! recorded, and is reported as ignored with the reason; when the run matches Orquesta again it
//! fails, so the record gets removed. One more trial checks that every Orquesta conducting test
//! (`orquesta-cases.txt`) is mirrored by a spec; Orquesta's rerun tests are specs with `reruns`. A few cases mirror fixtures that only
//! Orquesta's composition tests use (the retry command); their specs say how the expected run
//! follows from Orquesta's code.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use orch_workflow::rehearsal::{self, Report, Spec, Verdict};
use orch_workflow::{ActionKnown, ActionLookup};

/// Every spec's first line names the Orquesta test it mirrors.
const MIRRORS: &str = "# mirrors orquesta tests/unit/";
/// Where the conducting tests are, the ones `orquesta-cases.txt` lists.
const CONDUCTING: &str = "conducting/native/";

/// The built-ins the cases use; anything else is a typo in a case.
struct Builtins;

impl ActionLookup for Builtins {
    fn lookup(&self, action: &str) -> ActionKnown {
        match action {
            "core.noop" | "core.echo" | "core.fail" | "core.sleep" => {
                ActionKnown::Known { input_schema: None }
            }
            _ => ActionKnown::Unknown,
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

fn specs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(root()) else {
        return out;
    };
    for dir in dirs.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        out.extend(
            files
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".test.yaml")),
        );
    }
    out.sort();
    out
}

/// `fixture/case` for a spec path.
fn name(spec: &Path) -> String {
    let case = spec
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".test.yaml"))
        .unwrap_or("?");
    let fixture = spec
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("?");
    format!("{fixture}/{case}")
}

fn rehearse(path: &Path) -> Result<Report, Failed> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec = Spec::parse(&path.display().to_string(), &text).map_err(|e| e.to_string())?;
    if !text.starts_with(MIRRORS) {
        return Err(format!(
            "{}: the first line must be `{MIRRORS}FILE::TEST …`",
            path.display()
        )
        .into());
    }
    let workflow = path.parent().unwrap_or(Path::new(".")).join(&spec.workflow);
    let source = workflow.display().to_string();
    let wf_text = std::fs::read_to_string(&workflow).map_err(|e| format!("{source}: {e}"))?;
    Ok(rehearsal::rehearse(&spec, &source, &wf_text, &Builtins))
}

fn case(path: &Path) -> Result<Completion, Failed> {
    let report = rehearse(path)?;
    let sequences = format!(
        "\n  expected: {}\n  got:      {}",
        report.expected.join(" "),
        report.got.join(" ")
    );
    match report.verdict {
        Verdict::Passed => Ok(Completion::Completed),
        Verdict::KnownDeviation { reason, .. } => Ok(Completion::ignored_with(format!(
            "known deviation: {reason}"
        ))),
        Verdict::Failed { divergences } => {
            let lines: Vec<String> = divergences.iter().map(|d| format!("  {d}")).collect();
            Err(format!(
                "the run differs from Orquesta's:\n{}{sequences}",
                lines.join("\n")
            )
            .into())
        }
        Verdict::DeviationGone { reason } => Err(format!(
            "the run now matches Orquesta's: remove the spec's known_deviation ({reason})"
        )
        .into()),
        Verdict::Error { message } => Err(message.into()),
    }
}

/// Every Orquesta conducting test listed in `orquesta-cases.txt` has a spec mirroring it.
fn coverage(specs: &[PathBuf]) -> Result<(), Failed> {
    let listed = std::fs::read_to_string(root().join("orquesta-cases.txt"))
        .map_err(|e| format!("orquesta-cases.txt: {e}"))?;
    let mut mirrored = BTreeSet::new();
    for spec in specs {
        let text = std::fs::read_to_string(spec).map_err(|e| format!("{}: {e}", spec.display()))?;
        if let Some(rest) = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix(MIRRORS))
            .and_then(|l| l.strip_prefix(CONDUCTING))
        {
            mirrored.insert(rest.split_whitespace().next().unwrap_or("").to_string());
        }
    }
    let missing: Vec<&str> = listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| !mirrored.contains(*l))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("no spec mirrors: {}", missing.join(", ")).into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let specs = specs();
    let mut trials: Vec<Trial> = specs
        .iter()
        .map(|path| {
            let path = path.clone();
            Trial::ignorable_test(name(&path), move || case(&path))
        })
        .collect();
    let covered = specs.clone();
    trials.push(Trial::test("every-orquesta-case-is-mirrored", move || {
        if covered.is_empty() {
            return Err("no specs found under tests/conformance".into());
        }
        coverage(&covered)
    }));
    libtest_mimic::run(&args, trials).exit();
}
