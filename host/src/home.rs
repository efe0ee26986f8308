//! `ORCH_HOME`: where the store and the pack files live, and its layout; and which database is
//! the store (the home's SQLite file, or PostgreSQL when a database URL is given).
//!
//! The directory holds compiled code that this process later maps and runs, so it is created
//! owner-only (0700) and a group- or world-writable home is refused.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// The resolved `ORCH_HOME` directory.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    /// `--database-url` / `ORCH_DATABASE_URL`: PostgreSQL instead of the home's SQLite file.
    database_url: Option<String>,
}

impl Home {
    /// The default home: the per-user data directory (`~/.local/share/orch` on Linux).
    pub fn default_root() -> anyhow::Result<PathBuf> {
        directories::ProjectDirs::from("", "", "orch")
            .map(|dirs| dirs.data_dir().to_path_buf())
            .context("cannot find a home directory for the orch data; set ORCH_HOME")
    }

    /// Opens (creating where missing) the home at `root` and its subdirectories.
    pub fn open(root: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let home = Self {
            root: root.into(),
            database_url: None,
        };
        for dir in [home.root.clone(), home.packs_dir(), home.cache_dir()] {
            ensure_private_dir(&dir)?;
        }
        Ok(home)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The home with its store in the PostgreSQL database at `url` (`None`: the SQLite file).
    #[must_use]
    pub fn with_database_url(mut self, url: Option<String>) -> Self {
        self.database_url = url.filter(|url| !url.is_empty());
        self
    }

    /// The PostgreSQL database the store is in, if it is not the SQLite file.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    /// The SQLite store.
    pub fn database(&self) -> PathBuf {
        self.root.join("orch.db")
    }

    /// Opens the store: the PostgreSQL database when a URL was given, else the SQLite file.
    pub fn open_store(&self) -> anyhow::Result<crate::store::Store> {
        match &self.database_url {
            Some(url) => crate::store::Store::connect(url),
            None => crate::store::Store::open(&self.database()),
        }
    }

    /// Installed pack files, named by digest.
    pub fn packs_dir(&self) -> PathBuf {
        self.root.join("packs")
    }

    /// Compiled artifacts, named by digest and engine key.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The stored copy of the pack whose sha256 is `digest`.
    pub fn pack_file(&self, digest: &str) -> PathBuf {
        self.packs_dir().join(format!("{digest}.wasm"))
    }

    /// The compiled artifact of `digest` for the engine `engine_key`.
    pub fn artifact_file(&self, digest: &str, engine_key: &str) -> PathBuf {
        self.cache_dir()
            .join(format!("{digest}-{engine_key}.cwasm"))
    }
}

fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    match fs::metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() {
                bail!(
                    "{} is not a directory; point ORCH_HOME at a directory",
                    dir.display()
                );
            }
            if meta.permissions().mode() & 0o022 != 0 {
                bail!(
                    "{} is writable by group or others, and orch runs compiled code from it; \
                     fix with: chmod go-w {}",
                    dir.display(),
                    dir.display()
                );
            }
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display())),
        Err(err) => Err(err).with_context(|| format!("reading {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_an_owner_only_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::open(tmp.path().join("home")).unwrap();
        for dir in [
            home.root().to_path_buf(),
            home.packs_dir(),
            home.cache_dir(),
        ] {
            let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", dir.display());
        }
    }

    #[test]
    fn refuses_a_world_writable_home() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("open");
        fs::create_dir(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o777)).unwrap();
        let err = Home::open(&root).unwrap_err().to_string();
        assert!(err.contains("chmod go-w"), "{err}");
    }
}
