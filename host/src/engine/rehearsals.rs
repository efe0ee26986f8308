//! `orch workflow test`: finding and reading test specs and their workflows, each rehearsed by
//! [`orch_workflow::rehearsal`] on the real machine with every action mocked. Nothing here opens
//! the store or runs a pack: built-ins are known by name, sub-workflows by their file in the
//! workflow's directory, and pack actions are taken on trust (they are mocked anyway).

use std::path::{Path, PathBuf};

use orch_workflow::rehearsal::{self, Report, Spec, Verdict};
use orch_workflow::{ActionKnown, ActionLookup};
use serde::Serialize;

use super::builtins::{self, ActionKind};
use super::workflows;

/// A spec path that names nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum SpecsError {
    /// Neither a file nor a directory.
    #[error("no spec file or directory at {0}")]
    Missing(String),
    /// A directory without any `*.test.yaml`.
    #[error("no test specs (*.test.yaml) under {0}")]
    Empty(String),
    /// A directory that cannot be listed.
    #[error("cannot list {path}: {source}")]
    Unlistable {
        /// Directory.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// How many specs ended which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Ran as expected.
    pub passed: usize,
    /// Differed from what they expect (or a recorded deviation is gone).
    pub failed: usize,
    /// Differed exactly as their `known_deviation` records.
    pub known_deviations: usize,
    /// Could not be rehearsed (unreadable, invalid, a workflow that does not validate).
    pub errors: usize,
}

impl Summary {
    /// Tallies reports.
    pub fn of(reports: &[Report]) -> Summary {
        let mut s = Summary::default();
        for r in reports {
            match r.verdict {
                Verdict::Passed => s.passed += 1,
                Verdict::KnownDeviation { .. } => s.known_deviations += 1,
                Verdict::Failed { .. } | Verdict::DeviationGone { .. } => s.failed += 1,
                Verdict::Error { .. } => s.errors += 1,
            }
        }
        s
    }
}

/// The spec files named: files as given, directories searched (recursively) for
/// `*.test.yaml` / `*.test.yml`, in path order.
pub fn find(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SpecsError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_file() {
            out.push(path.clone());
        } else if path.is_dir() {
            let before = out.len();
            walk(path, &mut out)?;
            if out.len() == before {
                return Err(SpecsError::Empty(path.display().to_string()));
            }
        } else {
            return Err(SpecsError::Missing(path.display().to_string()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SpecsError> {
    let unlistable = |source| SpecsError::Unlistable {
        path: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unlistable)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(unlistable)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads and rehearses one spec file. Every failure becomes the report's verdict.
pub fn rehearse(path: &Path) -> Report {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return Report::unrehearsed(&name, format!("cannot read the spec: {e}")),
    };
    let spec = match Spec::parse(&name, &text) {
        Ok(s) => s,
        Err(e) => return Report::unrehearsed(&name, e.to_string()),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let workflow = dir.join(&spec.workflow);
    let source = workflow.display().to_string();
    let text = match std::fs::read_to_string(&workflow) {
        Ok(t) => t,
        Err(e) => {
            return Report::unrehearsed(&name, format!("cannot read workflow {source}: {e}"));
        }
    };
    let lookup = Offline {
        dir: workflow.parent().unwrap_or(Path::new(".")),
    };
    rehearsal::rehearse(&spec, &source, &text, &lookup)
}

/// What validation can know without the store: built-ins by name, sub-workflows by file.
struct Offline<'a> {
    dir: &'a Path,
}

impl ActionLookup for Offline<'_> {
    fn lookup(&self, action: &str) -> ActionKnown {
        match builtins::classify(action) {
            ActionKind::Workflow => match workflows::find(action, self.dir) {
                Ok(_) => ActionKnown::Known { input_schema: None },
                Err(_) => ActionKnown::Unknown,
            },
            ActionKind::Pack { .. } => ActionKnown::NotInstalled,
            _ => builtins::known(action),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_workflow_has_specs_and_passes_them() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows");
        let specs = find(&[examples.join("tests")]).expect("workflows/tests holds specs");
        let reports: Vec<Report> = specs.iter().map(|p| rehearse(p)).collect();
        for r in &reports {
            assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
        }
        let rehearsed: std::collections::BTreeSet<String> = specs
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|t| Spec::parse("spec", &t).ok())
            .map(|s| s.workflow.trim_start_matches("../").to_string())
            .collect();
        let mut examples: Vec<String> = std::fs::read_dir(&examples)
            .expect("workflows/")
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        examples.sort();
        assert_eq!(
            examples.len(),
            13,
            "a new example needs specs in workflows/tests"
        );
        for name in &examples {
            assert!(
                rehearsed.contains(name),
                "no spec in workflows/tests rehearses {name}"
            );
        }
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn a_directory_yields_its_test_specs_in_path_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "wf.yaml", "tasks:\n  a: {}\n");
        write(dir.path(), "b.test.yaml", "");
        write(dir.path(), "sub/a.test.yml", "");
        let found = find(&[dir.path().to_path_buf()]).expect("found");
        let names: Vec<_> = found
            .iter()
            .map(|p| {
                p.strip_prefix(dir.path())
                    .expect("inside")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["b.test.yaml", "sub/a.test.yml"]);
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            find(&[empty.path().to_path_buf()]),
            Err(SpecsError::Empty(_))
        ));
        assert!(matches!(
            find(&[dir.path().join("nope")]),
            Err(SpecsError::Missing(_))
        ));
    }

    #[test]
    fn rehearses_with_the_workflow_beside_and_sub_workflows_known_by_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "child.yaml",
            "tasks:\n  x:\n    action: core.noop\n",
        );
        write(
            dir.path(),
            "parent.yaml",
            "tasks:\n  a:\n    action: child\n    next: [{ do: b }]\n  b:\n    action: vendor.thing\n",
        );
        let spec = write(
            dir.path(),
            "tests/parent.test.yaml",
            "workflow: ../parent.yaml\nexpect:\n  executions: [a, b]\n",
        );
        let report = rehearse(&spec);
        assert_eq!(report.verdict, Verdict::Passed, "{report:#?}");
        std::fs::remove_file(dir.path().join("child.yaml")).expect("rm");
        let report = rehearse(&spec);
        assert!(
            matches!(&report.verdict, Verdict::Error { message } if message.contains("unknown action `child`")),
            "{report:#?}"
        );
        let missing = write(
            dir.path(),
            "m.test.yaml",
            "workflow: gone.yaml\nexpect:\n  executions: []\n",
        );
        assert!(matches!(rehearse(&missing).verdict, Verdict::Error { .. }));
    }
}
