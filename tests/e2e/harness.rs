//! The test host: builds the guest components once per test binary, gives each test its own
//! `ORCH_HOME`, and runs the `orch` binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Where guest components are built.
fn guest_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        workspace().join(target)
    };
    target.join("wasm32-wasip2").join("guest")
}

/// The path of the built guest `name` (e.g. `text`, `misbehave`), building all guests on the
/// first call so tests never run against stale components.
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(workspace().join("scripts/build-packs"))
            .current_dir(workspace())
            .status()
            .expect("running scripts/build-packs");
        assert!(status.success(), "scripts/build-packs failed");
    });
    let path = guest_dir().join(format!("{name}.wasm"));
    assert!(path.exists(), "guest {} was not built", path.display());
    path
}

/// The path of the built Python guest `name` (`pyexample`, `pyraw`), building the Python packs
/// on the first call (`scripts/build-python-packs`: skipped when their sources did not change).
pub fn python_guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(workspace().join("scripts/build-python-packs"))
            .current_dir(workspace())
            .status()
            .expect("running scripts/build-python-packs");
        assert!(
            status.success(),
            "scripts/build-python-packs failed (scripts/setup installs componentize-py)"
        );
    });
    let path = guest_dir().join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "python guest {} was not built",
        path.display()
    );
    path
}

/// componentize-py as `scripts/setup` installs it.
pub fn componentize_py() -> PathBuf {
    guest_dir()
        .parent()
        .and_then(Path::parent)
        .expect("the target directory")
        .join("pack-venv/bin/componentize-py")
}

/// The path of the built JavaScript guest `name` (`jsexample`, `jsraw`), building the
/// JavaScript packs once per test binary (scripts/build-js-packs skips what is up to date).
pub fn js_guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(workspace().join("scripts/build-js-packs"))
            .current_dir(workspace())
            .status()
            .expect("running scripts/build-js-packs");
        assert!(
            status.success(),
            "scripts/build-js-packs failed (scripts/setup installs componentize-js and esbuild)"
        );
    });
    let path = guest_dir().join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "JavaScript guest {} was not built",
        path.display()
    );
    path
}

/// The `node_modules/.bin` of the JavaScript pack toolchain scripts/setup installs.
pub fn pack_node_bin() -> PathBuf {
    guest_dir()
        .parent()
        .and_then(Path::parent)
        .expect("the target directory")
        .join("pack-node/node_modules/.bin")
}

/// One `ORCH_HOME` and the `orch` binary; with `ORCH_TEST_BACKEND=postgres`, its store is a new
/// database of the PostgreSQL server the test binary starts (`ORCH_DATABASE_URL`), so the whole
/// suite can run against PostgreSQL.
pub struct TestHost {
    home: tempfile::TempDir,
    database_url: Option<String>,
}

/// What one `orch` command did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        &self.stdout
    }

    /// Asserts the exit code and returns stderr.
    #[track_caller]
    pub fn fails_with(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "expected exit code {code}, got {self:#?}");
        &self.stderr
    }

    /// The action's output from `orch action run --json` (asserting success).
    #[track_caller]
    pub fn output(&self) -> serde_json::Value {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self.json()["output"].clone()
    }

    /// The action error's code and message from `orch action run --json` (asserting the action
    /// failed).
    #[track_caller]
    pub fn action_error(&self) -> (String, String) {
        assert_eq!(self.code, 1, "expected an action error: {self:#?}");
        let error = self.json()["error"].clone();
        (
            error["code"].as_str().unwrap_or_default().to_owned(),
            error["message"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("stdout is not JSON ({err}): {self:#?}"))
    }
}

impl TestHost {
    pub fn new() -> Self {
        let on_postgres = std::env::var("ORCH_TEST_BACKEND").is_ok_and(|b| b == "postgres");
        Self {
            home: tempfile::tempdir().expect("temp dir"),
            database_url: on_postgres.then(|| orch_pg_peer::server().create_database("e2e")),
        }
    }

    /// A host whose store is a new database of the test binary's PostgreSQL server, whatever
    /// `ORCH_TEST_BACKEND` says; `None` (the caller prints why and returns) when PostgreSQL is
    /// not installed.
    pub fn on_postgres() -> Option<Self> {
        if !orch_pg_peer::available() {
            eprintln!("skipped: PostgreSQL is not installed (scripts/setup installs it)");
            return None;
        }
        Some(Self {
            home: tempfile::tempdir().expect("temp dir"),
            database_url: Some(orch_pg_peer::server().create_database("e2e")),
        })
    }

    /// A host whose store is the home's SQLite file, whatever `ORCH_TEST_BACKEND` says.
    pub fn on_sqlite() -> Self {
        Self {
            home: tempfile::tempdir().expect("temp dir"),
            database_url: None,
        }
    }

    /// This host's home as the library opens it (with its database URL on PostgreSQL), for tests
    /// that drive the library in their own process: `orch_home().open_store()`.
    pub fn orch_home(&self) -> orch::home::Home {
        orch::home::Home::open(self.home.path())
            .expect("home")
            .with_database_url(self.database_url.clone())
    }

    /// The PostgreSQL database this host's store is in, if not its SQLite file.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    /// `ORCH_DATABASE_URL` for the commands of this host (none on SQLite).
    pub fn database_env(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.database_url
            .as_deref()
            .map(|url| ("ORCH_DATABASE_URL", url))
            .into_iter()
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs `orch ARGS` in this home.
    pub fn orch(&self, args: &[&str]) -> Run {
        self.orch_with_stdin(args, "")
    }

    /// Runs `orch ARGS` with `stdin` as standard input.
    pub fn orch_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.orch_env_stdin(args, &[], stdin)
    }

    /// Runs `orch ARGS` with extra environment variables `env` and `stdin` as standard input.
    pub fn orch_env_stdin(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_orch"))
            .args(args)
            .env("ORCH_HOME", self.home.path())
            .env_remove("ORCH_LOG")
            .env_remove("ORCH_MASTER_KEY")
            .env_remove("ORCH_DATABASE_URL")
            .envs(self.database_env())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting orch");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("writing stdin");
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().expect("waiting for orch");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// A host with the given guests installed.
    pub fn with_packs(names: &[&str]) -> Self {
        let host = Self::new();
        for name in names {
            let path = guest(name);
            host.orch(&["pack", "add", path.to_str().expect("utf-8 path")])
                .ok();
        }
        host
    }
}

/// A background `orch` process, killed (SIGKILL) and reaped on drop so a failing test leaves
/// nothing running.
pub struct Background {
    child: std::process::Child,
}

impl Background {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited (reaping it if so); its exit code.
    pub fn try_wait(&mut self) -> Option<i32> {
        self.child
            .try_wait()
            .expect("polling orch")
            .map(|s| s.code().unwrap_or(-1))
    }

    /// Sends `signal` (e.g. `-INT`, `-KILL`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Waits for the exit and returns what it printed.
    pub fn wait(mut self) -> Run {
        use std::io::Read as _;
        let status = self.child.wait().expect("waiting for orch");
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(mut s) = self.child.stdout.take() {
            let _ = s.read_to_string(&mut stdout);
        }
        if let Some(mut s) = self.child.stderr.take() {
            let _ = s.read_to_string(&mut stderr);
        }
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestHost {
    /// Starts `orch ARGS` in the background (output to files-backed pipes is not read until
    /// `wait`, so keep its output small).
    pub fn spawn(&self, args: &[&str]) -> Background {
        let child = Command::new(env!("CARGO_BIN_EXE_orch"))
            .args(args)
            .env("ORCH_HOME", self.home.path())
            .env_remove("ORCH_LOG")
            .env_remove("ORCH_DATABASE_URL")
            .envs(self.database_env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting orch");
        Background { child }
    }

    /// The first column of the first row `sql` gives on this host's store (its SQLite file or
    /// its PostgreSQL database), as text; `None` when it gives no row or orch has not created
    /// the store yet: what a test watching a run from outside polls.
    pub fn sql(&self, sql: &str) -> Option<String> {
        if let Some(url) = &self.database_url {
            return orch_pg_peer::server().query(url, sql);
        }
        let path = self.home.path().join("orch.db");
        if !path.exists() {
            return None;
        }
        let conn = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).ok()?;
        conn.query_row(sql, [], |r| {
            Ok(match r.get_ref(0)? {
                rusqlite::types::ValueRef::Null => None,
                rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                rusqlite::types::ValueRef::Text(v) | rusqlite::types::ValueRef::Blob(v) => {
                    Some(String::from_utf8_lossy(v).into_owned())
                }
            })
        })
        .ok()
        .flatten()
    }

    /// Every row `sql` gives on this host's store, each as its columns' texts (NULL as ""); also
    /// runs a statement that changes the store (a test planting what a pack could not).
    pub fn sql_rows(&self, sql: &str) -> Vec<Vec<String>> {
        if let Some(url) = &self.database_url {
            return orch_pg_peer::server()
                .rows(url, sql)
                .unwrap_or_else(|err| panic!("{sql}: {err}"));
        }
        let conn = rusqlite::Connection::open(self.home.path().join("orch.db"))
            .expect("opening the store");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        let mut stmt = conn
            .prepare(sql)
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap_or_else(|err| panic!("{sql}: {err}"));
        let mut out = Vec::new();
        while let Some(row) = rows.next().expect("a row") {
            out.push(
                (0..columns)
                    .map(|i| match row.get_ref(i).expect("a column") {
                        rusqlite::types::ValueRef::Null => String::new(),
                        rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                        rusqlite::types::ValueRef::Real(v) => v.to_string(),
                        rusqlite::types::ValueRef::Text(v) | rusqlite::types::ValueRef::Blob(v) => {
                            String::from_utf8_lossy(v).into_owned()
                        }
                    })
                    .collect(),
            );
        }
        out
    }

    /// [`sql`](Self::sql) as a number (a count), 0 when there is none yet.
    pub fn sql_count(&self, sql: &str) -> i64 {
        self.sql(sql).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// Loads the TextFSM templates `netdev.facts` reads into this home's catalog with
    /// `scripts/load-templates` (ntc-templates from the peers' venv, our corrections).
    pub fn load_templates(&self) {
        let out = Command::new(workspace().join("scripts/load-templates"))
            .args(["--orch", env!("CARGO_BIN_EXE_orch"), "--python"])
            .arg(crate::peers::venv_python())
            .current_dir(workspace())
            .env("ORCH_HOME", self.home.path())
            .env_remove("ORCH_DATABASE_URL")
            .envs(self.database_env())
            .output()
            .expect("running scripts/load-templates");
        assert!(
            out.status.success(),
            "scripts/load-templates failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The workspace's example workflow directory.
    pub fn examples() -> PathBuf {
        workspace().join("workflows")
    }
}

/// Asserts that `secret` appears in no file under the host's ORCH_HOME (database, WAL, stored
/// packs, key file) and in no output of `outputs`. A multi-line secret (a private key) is
/// searched line by line: each line of 8 or more characters, PEM armour lines excepted.
#[track_caller]
pub fn assert_no_leak(host: &TestHost, secret: &str, outputs: &[&Run]) {
    let needles: Vec<&str> = if secret.contains('\n') {
        secret
            .lines()
            .map(str::trim)
            .filter(|line| line.len() >= 8 && !line.starts_with("-----"))
            .collect()
    } else {
        vec![secret]
    };
    assert!(!needles.is_empty(), "nothing to search for in the secret");
    let mut files = Vec::new();
    let mut stack = vec![host.home().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("reading ORCH_HOME") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let dump = host
        .database_url()
        .map(|url| orch_pg_peer::server().dump(url));
    assert!(
        dump.is_some() || files.iter().any(|f| f.ends_with("orch.db")),
        "ORCH_HOME has no store to search: {files:?}"
    );
    for needle in &needles {
        if let Some(dump) = &dump {
            assert!(
                !dump.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "secret found in the PostgreSQL store"
            );
        }
        for file in &files {
            let bytes = std::fs::read(file).expect("reading a file of ORCH_HOME");
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "secret found in {}",
                file.display()
            );
        }
        for run in outputs {
            assert!(
                !run.stdout.contains(needle) && !run.stderr.contains(needle),
                "secret in output: {run:#?}"
            );
        }
    }
}
