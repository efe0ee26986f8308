//! Finding workflows: by path, or by name in the workflow directory (`./workflows` by default,
//! `--workflows DIR` or `ORCH_WORKFLOWS`), which is also where sub-workflows are looked up.

use std::path::{Path, PathBuf};

/// A workflow file as found.
#[derive(Debug, Clone)]
pub struct WorkflowFile {
    /// Name: the file stem.
    pub name: String,
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// A workflow that could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// No file by that name in the directory.
    #[error(
        "no workflow named `{name}` in {dir} (looked for {name}.yaml and {name}.yml); pass a path, or \
         point --workflows (or ORCH_WORKFLOWS) at the directory that holds it"
    )]
    NotFound {
        /// Name asked for.
        name: String,
        /// Directory searched.
        dir: String,
    },
    /// The file exists but cannot be read.
    #[error("cannot read workflow {path}: {source}")]
    Unreadable {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Whether `reference` names a workflow rather than `pack.action` or `core.*`: workflow names
/// have no dot.
pub fn is_workflow_name(action: &str) -> bool {
    !action.contains('.')
}

/// Finds `reference`: an existing file path, else a name in `dir`.
pub fn find(reference: &str, dir: &Path) -> Result<WorkflowFile, LookupError> {
    let as_path = Path::new(reference);
    let looks_like_path = reference.contains(std::path::MAIN_SEPARATOR)
        || reference.ends_with(".yaml")
        || reference.ends_with(".yml");
    if looks_like_path || as_path.is_file() {
        return read(as_path, reference);
    }
    for ext in ["yaml", "yml"] {
        let candidate = dir.join(format!("{reference}.{ext}"));
        if candidate.is_file() {
            return read(&candidate, reference);
        }
    }
    Err(LookupError::NotFound {
        name: reference.to_owned(),
        dir: dir.display().to_string(),
    })
}

fn read(path: &Path, reference: &str) -> Result<WorkflowFile, LookupError> {
    let text = std::fs::read_to_string(path).map_err(|source| LookupError::Unreadable {
        path: path.display().to_string(),
        source,
    })?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(reference)
        .to_owned();
    Ok(WorkflowFile {
        name,
        path: path.to_path_buf(),
        text,
    })
}

/// The workflow directory: the flag or `ORCH_WORKFLOWS` (resolved by clap), else `./workflows`,
/// made absolute so a resume from another directory finds the same sub-workflows.
pub fn resolve_dir(dir: Option<&Path>) -> PathBuf {
    let dir = dir.map_or_else(|| PathBuf::from("workflows"), Path::to_path_buf);
    std::path::absolute(&dir).unwrap_or(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_name_in_the_directory_and_names_it_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hello.yml"), "version: 1").unwrap();
        let found = find("hello", dir.path()).unwrap();
        assert_eq!(found.name, "hello");
        assert_eq!(found.text, "version: 1");
        let err = find("absent", dir.path()).unwrap_err().to_string();
        assert!(err.contains("absent") && err.contains(&dir.path().display().to_string()));
        assert!(is_workflow_name("child") && !is_workflow_name("core.echo"));
    }
}
