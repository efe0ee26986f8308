//! A real PostgreSQL server for the tests: found among Debian's `/usr/lib/postgresql/*/bin`,
//! initialised in a private temporary directory, started on a free loopback port once per test
//! binary through [`server`], and handing out one empty database per test through
//! [`Server::create_database`].
//!
//! The server runs under a `sh` guard whose stdin is a pipe this process holds: when the pipe
//! closes (the test binary exits, panics or is SIGKILLed and the kernel closes its descriptors)
//! the guard shuts PostgreSQL down and removes its directory. The server lives in a static that
//! is never dropped: the exit of the process is what stops it. As root (CI), PostgreSQL, which
//! refuses to run as root, runs as the system user `orchpg` through `setpriv`.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The address the server listens on.
const HOST: &str = "127.0.0.1";

/// The superuser `initdb` creates, trusted without a password.
const SUPERUSER: &str = "postgres";

/// The unprivileged system user PostgreSQL runs as when the tests run as root.
const SYSTEM_USER: &str = "orchpg";

/// Where Debian installs each major version's server binaries (`<version>/bin`).
const INSTALL_ROOT: &str = "/usr/lib/postgresql";

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// PostgreSQL's identifier limit (NAMEDATALEN - 1): longer names are silently truncated, which
/// could make two databases' names collide.
const MAX_NAME_LEN: usize = 63;

/// The guard. It starts the server (its command as positional arguments, so nothing is quoted)
/// with output appended to `$PG_LOG`, prints the server's pid, and waits for its own stdin to
/// close. Then it asks for a fast shutdown (SIGINT: disconnect clients, checkpoint, exit; SIGTERM
/// would wait for clients to leave), escalates to an immediate shutdown (SIGQUIT) after 10 s and
/// SIGKILL after 15 s, and removes `$PG_DIR` once the server is gone. The shell reaps the server
/// while it waits for `sleep`, which ends `kill -0`'s success; the loop is bounded anyway. A
/// polling loop rather than a background watchdog, so no stray `sleep` outlives the guard.
/// `setpriv` execs, so `$!` is the server's own pid.
const GUARD: &str = r#""$@" </dev/null >>"$PG_LOG" 2>&1 &
pid=$!
echo "$pid"
read _ignored
kill -INT "$pid" 2>/dev/null
n=0
while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 200 ]; do
    n=$((n + 1))
    if [ "$n" -eq 100 ]; then kill -QUIT "$pid" 2>/dev/null; fi
    if [ "$n" -eq 150 ]; then kill -KILL "$pid" 2>/dev/null; fi
    sleep 0.1
done
wait "$pid"
rm -rf "$PG_DIR"
"#;

/// A running PostgreSQL server, reachable as the trusted superuser `postgres` on 127.0.0.1.
pub struct Server {
    port: u16,
    /// The server's binaries (`initdb`, `postgres`, `psql`, `pg_isready`).
    bin: PathBuf,
    /// The private directory: `data/`, the unix socket and `postgres.log`; removed by the guard.
    dir: PathBuf,
    /// Keeps the guard's stdin open: the server runs as long as it does.
    _guard: Guard,
}

/// The shared server, started on first use; stopped when the test binary exits.
///
/// Panics, with the server's log where there is one, when it cannot start; every later call
/// panics with the same message rather than trying again.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    match SERVER.get_or_init(Server::start) {
        Ok(server) => server,
        Err(message) => panic!("{message}"),
    }
}

/// Whether PostgreSQL's server binaries are installed (tests print "skipped: ..." otherwise).
pub fn available() -> bool {
    bin_dir().is_some()
}

impl Server {
    /// postgres://postgres@127.0.0.1:PORT/postgres
    pub fn admin_url(&self) -> String {
        self.url(SUPERUSER)
    }

    /// Creates a new empty database with a unique name (prefix + counter + pid) and returns its URL.
    ///
    /// The name is `{prefix}_{pid}_{counter}`, lowercased, with anything outside `[a-z0-9_]`
    /// replaced by `_` and the prefix shortened to fit PostgreSQL's 63-byte identifiers. Panics
    /// with psql's stderr when the database cannot be created.
    pub fn create_database(&self, prefix: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = database_name(
            prefix,
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
        );
        let out = self
            .psql()
            .args(["-d", SUPERUSER, "-c"])
            .arg(format!("CREATE DATABASE \"{name}\""))
            .output()
            .unwrap_or_else(|err| panic!("running psql: {err}"));
        assert!(
            out.status.success(),
            "creating database {name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(&name)
    }

    /// Everything database `url` (one [`create_database`](Self::create_database) made) holds,
    /// as `pg_dump --data-only` writes it: what a test searches for a secret that must not be
    /// stored in clear.
    pub fn dump(&self, url: &str) -> Vec<u8> {
        let out = Command::new(tool(&self.bin, "pg_dump"))
            .args(["--data-only", "--no-owner", "--dbname"])
            .arg(url)
            .output()
            .unwrap_or_else(|err| panic!("running pg_dump: {err}"));
        assert!(
            out.status.success(),
            "pg_dump of {url} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The first column of the first row `sql` gives in database `url`, as text (`psql -At`);
    /// `None` when it gives no row or fails (a table not created yet).
    pub fn query(&self, url: &str, sql: &str) -> Option<String> {
        self.rows(url, sql)
            .ok()?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
            .filter(|v| !v.is_empty())
    }

    /// Every row `sql` gives in database `url`, each as its columns' texts (NULL as ""); also
    /// runs statements that give none. Errors carry what psql said.
    pub fn rows(&self, url: &str, sql: &str) -> Result<Vec<Vec<String>>, String> {
        let out = Command::new(tool(&self.bin, "psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-q",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "--dbname",
            ])
            .arg(url)
            .arg("-c")
            .arg(sql)
            .output()
            .map_err(|err| format!("running psql: {err}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect())
    }

    /// The server's log so far (for panic messages).
    pub fn log(&self) -> String {
        read_log(&self.dir)
    }

    /// The TCP port the server listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` for the superuser.
    fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@{HOST}:{}/{database}", self.port)
    }

    /// `psql` against this server as the superuser, quiet, without `~/.psqlrc`, stopping at the
    /// first error; the caller adds `-d` and the command.
    fn psql(&self) -> Command {
        let mut psql = Command::new(tool(&self.bin, "psql"));
        psql.args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            HOST,
            "-U",
            SUPERUSER,
        ])
        .arg("-p")
        .arg(self.port.to_string())
        .stdin(Stdio::null());
        psql
    }

    /// Initialises a cluster in a new temporary directory and starts the server on a free port;
    /// waits until it accepts connections. Every failure leaves nothing behind.
    fn start() -> Result<Self, String> {
        let bin = bin_dir().ok_or_else(|| {
            format!(
                "PostgreSQL's server binaries are not installed (no {INSTALL_ROOT}/*/bin with \
                 postgres and initdb); run scripts/setup as root, or apt-get install postgresql"
            )
        })?;
        let dir = tempfile::Builder::new()
            .prefix("orch-pg-")
            .tempdir()
            .map_err(|err| format!("creating a temp dir for PostgreSQL: {err}"))?
            .keep();
        match Self::start_in(bin, &dir) {
            Ok(server) => Ok(server),
            Err(message) => {
                // The guard, if it ran, has already removed it; otherwise nothing else will.
                let _ = std::fs::remove_dir_all(&dir);
                Err(message)
            }
        }
    }

    /// [`Server::start`] inside `dir`.
    fn start_in(bin: PathBuf, dir: &Path) -> Result<Self, String> {
        let as_user = if is_root() {
            ensure_system_user()?;
            let (uid, gid) = (id(&["-u", SYSTEM_USER])?, id(&["-g", SYSTEM_USER])?);
            // The socket goes in `dir` too, so the user needs it whole. Its parent is the temp
            // dir (/tmp, world-searchable) so the user can reach it.
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .map_err(|err| format!("chown {} to {SYSTEM_USER}: {err}", dir.display()))?;
            true
        } else {
            false
        };
        let as_server_user = |program: PathBuf| -> Command {
            let mut command = if as_user {
                let mut setpriv = Command::new("setpriv");
                setpriv
                    .arg(format!("--reuid={SYSTEM_USER}"))
                    .arg(format!("--regid={SYSTEM_USER}"))
                    .args(["--clear-groups", "--"])
                    .arg(program);
                setpriv
            } else {
                Command::new(program)
            };
            // The caller's working directory may be closed to the server's user.
            command.current_dir(dir);
            command
        };

        let data = dir.join("data");
        // -N: no fsync; a test cluster need not survive a power cut.
        let out = as_server_user(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "-N",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("running initdb: {err}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb -D {} failed ({}){}: {}{}",
                data.display(),
                out.status,
                if as_user {
                    format!(" as user {SYSTEM_USER}")
                } else {
                    String::new()
                },
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }

        let port = free_port()?;
        let mut postgres = as_server_user(bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            // The unix socket in the private directory, never the shared /var/run/postgresql.
            .arg("-k")
            .arg(dir)
            .args(["-c", &format!("listen_addresses={HOST}")])
            // Durability buys nothing in a throwaway cluster and costs test time.
            .args(["-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            // Room for every test's pool at once.
            .args(["-c", "max_connections=300"]);
        let (guard, pid) = Guard::spawn(&postgres, dir)?;
        let server = Self {
            port,
            bin,
            dir: dir.to_owned(),
            _guard: guard,
        };
        server.wait_ready(pid)?;
        Ok(server)
    }

    /// Polls `pg_isready` until the server accepts connections; fails with the log when the
    /// server exits or [`START_TIMEOUT`] passes (dropping `self` then stops the guard).
    fn wait_ready(&self, pid: u32) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last = String::new();
        loop {
            let out = Command::new(tool(&self.bin, "pg_isready"))
                .args([
                    "-h", HOST, "-U", SUPERUSER, "-d", SUPERUSER, "-t", "2", "-p",
                ])
                .arg(self.port.to_string())
                .stdin(Stdio::null())
                .output()
                .map_err(|err| format!("running pg_isready: {err}"))?;
            if out.status.success() {
                return Ok(());
            }
            last = describe(&out, &last);
            if !is_running(pid) {
                // The log may still be filling: the server just exited.
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!(
                    "PostgreSQL exited before accepting connections on {HOST}:{}; its log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "PostgreSQL did not accept connections on {HOST}:{} within {START_TIMEOUT:?} \
                     (pg_isready: {last}); its log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The server process under its `sh` guard.
struct Guard {
    guard: Child,
    /// Closing it stops the server; `None` once stopped.
    stdin: Option<ChildStdin>,
}

impl Guard {
    /// Starts `command` under the guard, which removes `dir` once the server has ended and
    /// appends the server's output to `dir/postgres.log`. Returns the guard and the server's pid.
    fn spawn(command: &Command, dir: &Path) -> Result<(Self, u32), String> {
        use std::os::unix::process::CommandExt as _;
        let mut guard = Command::new("sh");
        guard
            .arg("-c")
            .arg(GUARD)
            .arg("sh")
            .arg(command.get_program())
            .args(command.get_args())
            .env("PG_LOG", log_path(dir))
            .env("PG_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C at the terminal must not kill the guard before the
            // test binary (its exit is what triggers the cleanup) nor the server behind its back.
            .process_group(0);
        if let Some(cwd) = command.get_current_dir() {
            guard.current_dir(cwd);
        }
        let mut guard = guard
            .spawn()
            .map_err(|err| format!("starting PostgreSQL's guard: {err}"))?;
        let stdin = guard.stdin.take();
        let stdout = guard.stdout.take();
        let mut guard = Self { guard, stdin };
        let mut line = String::new();
        if let Some(stdout) = stdout {
            BufReader::new(stdout)
                .read_line(&mut line)
                .map_err(|err| format!("reading the server's pid from its guard: {err}"))?;
        }
        match line.trim().parse() {
            Ok(pid) => Ok((guard, pid)),
            Err(_) => {
                guard.stop();
                Err(format!(
                    "PostgreSQL's guard printed {line:?} instead of the server's pid; the log:\n{}",
                    read_log(dir)
                ))
            }
        }
    }

    /// Stops the server and waits for the guard (bounded: a guard that hangs is killed).
    fn stop(&mut self) {
        if self.stdin.take().is_none() {
            return;
        }
        // The guard gives up on the server after about 20 s.
        let deadline = Instant::now() + Duration::from_secs(25);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.guard.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.guard.kill();
        let _ = self.guard.wait();
    }
}

impl Drop for Guard {
    /// Only a server that failed to start is dropped; the shared one lives until exit.
    fn drop(&mut self) {
        self.stop();
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding both `postgres` and `initdb`.
fn bin_dir() -> Option<PathBuf> {
    std::fs::read_dir(INSTALL_ROOT)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("postgres").is_file() && bin.join("initdb").is_file())
        .max_by_key(|bin| version_key(bin))
}

/// `<version>` of `.../<version>/bin` as numbers ("9.6" → [9, 6]), so 15 sorts above 9.6; a
/// name that is not a version sorts lowest.
fn version_key(bin: &Path) -> Vec<u32> {
    bin.parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .and_then(|name| name.split('.').map(|part| part.parse().ok()).collect())
        .unwrap_or_default()
}

/// The client tool `name` from the server's version when installed there, else from `PATH`
/// (Debian's wrappers in /usr/bin).
fn tool(bin: &Path, name: &str) -> PathBuf {
    let own = bin.join(name);
    if own.is_file() {
        own
    } else {
        PathBuf::from(name)
    }
}

/// `{prefix}_{pid}_{counter}`, lowercased, limited to `[a-z0-9_]` and to [`MAX_NAME_LEN`] bytes
/// (by shortening the prefix, so the unique part survives).
fn database_name(prefix: &str, pid: u32, counter: u64) -> String {
    let suffix = format!("_{pid}_{counter}");
    let prefix: String = prefix
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME_LEN - suffix.len())
        .collect();
    format!("{prefix}{suffix}")
}

/// Where the guard appends the server's output.
fn log_path(dir: &Path) -> PathBuf {
    dir.join("postgres.log")
}

/// The server's log in `dir`; empty once the guard has removed it.
fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(log_path(dir)).unwrap_or_default()
}

/// A free port on 127.0.0.1 for a server a test starts (also the e2e peers' ports).
///
/// Taken below the kernel's ephemeral range (32768 and up), where the local ends of outgoing
/// connections never land: a port bound to 0 and released can be taken by any connection the
/// tests open before the server binds it (a fakenos fleet of 20 devices lost that race under
/// load). Ports are handed out in turn from a random start, so one process never hands out a
/// port twice and two test binaries at once rarely meet; each is checked free by binding it.
pub fn free_port() -> Result<u16, String> {
    use std::hash::BuildHasher as _;
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 32_768 - FIRST;
    static NEXT: LazyLock<AtomicU32> = LazyLock::new(|| {
        let start = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        AtomicU32::new(u32::try_from(start % u64::from(COUNT)).unwrap_or(0))
    });
    for _ in 0..COUNT {
        let port = FIRST + NEXT.fetch_add(1, Ordering::Relaxed) % COUNT;
        let port = u16::try_from(port).map_err(|err| err.to_string())?;
        if TcpListener::bind((HOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(format!("no free port on {HOST} between {FIRST} and 32767"))
}

/// Whether this process runs as root (CI does).
fn is_root() -> bool {
    id(&["-u"]) == Ok(0)
}

/// `id ARGS` as a number.
fn id(args: &[&str]) -> Result<u32, String> {
    let out = Command::new("id")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("running id: {err}"))?;
    if !out.status.success() {
        return Err(format!(
            "id {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|err| format!("id {}: {err}", args.join(" ")))
}

/// Creates [`SYSTEM_USER`] when missing. Test binaries start in parallel, so another one may
/// create it between the check and `useradd`: a failed `useradd` is fine once the user exists.
fn ensure_system_user() -> Result<(), String> {
    if id(&["-u", SYSTEM_USER]).is_ok() {
        return Ok(());
    }
    let out = Command::new("useradd")
        .args(["-r", "-M", "-s", "/usr/sbin/nologin", SYSTEM_USER])
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("running useradd: {err}"))?;
    if out.status.success() || id(&["-u", SYSTEM_USER]).is_ok() {
        return Ok(());
    }
    Err(format!(
        "useradd {SYSTEM_USER} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// Whether process `pid` is alive: it exists and is not a zombie (the guard, blocked on its
/// stdin, does not reap a server that died). Assumes so where /proc is missing.
fn is_running(pid: u32) -> bool {
    if !Path::new("/proc/self/stat").exists() {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(')')?;
            rest.trim_start().chars().next()
        })
        .is_some_and(|state| !matches!(state, 'Z' | 'X'))
}

/// A command's status and output in one line, or `previous` when it printed nothing.
fn describe(out: &Output, previous: &str) -> String {
    let said = [&out.stdout, &out.stderr]
        .map(|bytes| String::from_utf8_lossy(bytes).trim().to_owned())
        .join(" ");
    if said.trim().is_empty() {
        previous.to_owned()
    } else {
        format!("{}: {}", out.status, said.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_keep_only_lowercase_letters_digits_and_underscores() {
        assert_eq!(database_name("Store-Test.v2", 42, 7), "store_test_v2_42_7");
    }

    #[test]
    fn database_names_shorten_the_prefix_to_fit_identifiers() {
        let name = database_name(&"x".repeat(100), 4_194_304, 123);
        assert_eq!(name.len(), MAX_NAME_LEN);
        assert!(name.ends_with("_4194304_123"), "{name}");
    }

    #[test]
    fn the_newest_version_sorts_highest() {
        assert!(
            version_key(Path::new("/usr/lib/postgresql/15/bin"))
                > version_key(Path::new("/usr/lib/postgresql/9.6/bin"))
        );
        assert!(
            version_key(Path::new("/usr/lib/postgresql/9.6/bin"))
                > version_key(Path::new("/usr/lib/postgresql/custom/bin"))
        );
    }
}
