//! Real test peers for the brokered capabilities: an OpenSSH `sshd` with key auth (exec, SFTP), a
//! second `sshd` with password auth (only when the tests run as root), and a `fakenos` Cisco IOS
//! device. Each starts on a free loopback port, once per test binary through [`sshd`],
//! [`sshd_password`] and [`fakenos`], or per test through `start` (stopped on drop).
//!
//! Every peer runs under a `sh` guard whose stdin is a pipe this process holds: when the pipe
//! closes (the owning value is dropped, or the test binary exits, panics or is SIGKILLed and the
//! kernel closes its descriptors) the guard kills the peer and removes its temporary directory.
//! Shared peers live in statics, which are never dropped: the exit of the process stops them.

#![allow(
    dead_code,
    reason = "shared by the e2e test files; each uses part of the API"
)]

use std::ffi::OsStr;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::harness::workspace;

/// The address every peer listens on.
pub const HOST: &str = "127.0.0.1";

/// How long a peer may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The target directory (`CARGO_TARGET_DIR` or `<workspace>/target`), like the harness's.
fn target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    if target.is_absolute() {
        target
    } else {
        workspace().join(target)
    }
}

/// The Python virtual environment holding `fakenos`, `netmiko` and `paramiko`, created by
/// `scripts/setup`.
pub fn venv() -> PathBuf {
    target_dir().join("peers-venv")
}

/// The venv's `python`; panics with the fix when the venv is missing.
pub fn venv_python() -> PathBuf {
    let python = venv().join("bin").join("python");
    assert!(
        python.exists(),
        "{} is missing; run scripts/setup to create the test peers' venv",
        python.display()
    );
    python
}

/// Whether the tests run as root (CI does): needed for password auth against sshd.
pub fn is_root() -> bool {
    output("id", &["-u"]).trim() == "0"
}

/// A free port on 127.0.0.1 for a peer to take (see [`orch_pg_peer::free_port`]: outside the
/// range the local ends of outgoing connections use, never the same one twice).
pub fn free_port() -> u16 {
    orch_pg_peer::free_port().unwrap_or_else(|err| panic!("{err}"))
}

/// A random lowercase hex string of `bytes` bytes from the kernel's generator: unique secrets
/// that a test can search for in outputs, logs and the database.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("reading /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `command` to completion and returns its stdout; panics with its stderr on failure.
fn run(command: &mut Command) -> String {
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("running {command:?}: {err}"));
    assert!(
        out.status.success(),
        "{command:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `program ARGS`'s stdout (see [`run`]).
fn output(program: &str, args: &[&str]) -> String {
    run(Command::new(program).args(args))
}

/// A temporary directory kept on disk: the peer's guard removes it after the peer ends, even when
/// this process dies first.
fn peer_dir(prefix: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("creating a temp dir")
        .keep()
}

/// A key pair made by `ssh-keygen` at `path` (private) and `path.pub`.
struct KeyPair {
    private: String,
    /// `TYPE BASE64`, without comment.
    public: String,
    /// `SHA256:...`.
    fingerprint: String,
}

fn keygen(path: &Path, kind: &str) -> KeyPair {
    let mut keygen = Command::new("ssh-keygen");
    keygen
        .args(["-q", "-t", kind, "-N", "", "-C", "orch-test", "-f"])
        .arg(path);
    if kind == "rsa" {
        // paramiko (fakenos) reads RSA host keys in PEM only.
        keygen.args(["-b", "2048", "-m", "PEM"]);
    }
    run(&mut keygen);
    let pub_path = path.with_extension("pub");
    let public_line = std::fs::read_to_string(&pub_path).expect("reading the public key");
    let public = public_line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let listing = run(Command::new("ssh-keygen").arg("-lf").arg(&pub_path));
    let fingerprint = listing
        .split_whitespace()
        .find(|field| field.starts_with("SHA256:"))
        .unwrap_or_else(|| panic!("no SHA256 fingerprint in {listing:?}"))
        .to_owned();
    KeyPair {
        private: std::fs::read_to_string(path).expect("reading the private key"),
        public,
        fingerprint,
    }
}

/// A peer process under its `sh` guard.
pub struct PeerProcess {
    name: String,
    guard: Child,
    /// Closing it stops the peer; `None` once stopped.
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

/// The guard: runs the peer with stdin from /dev/null and output to `$PEER_LOG`, waits for its
/// own stdin to close, then stops the peer and removes `$PEER_DIR`. The peer's command comes as
/// positional arguments, so nothing is quoted.
const GUARD: &str = r#""$@" </dev/null >>"$PEER_LOG" 2>&1 &
pid=$!
read _ignored
kill "$pid" 2>/dev/null
wait "$pid"
rm -rf "$PEER_DIR"
"#;

impl PeerProcess {
    /// Starts `program ARGS` under the guard; `dir` is removed when the peer ends and holds the
    /// log `peer.log`.
    pub fn spawn<I, S>(name: &str, dir: &Path, program: impl AsRef<OsStr>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let log = dir.join("peer.log");
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(GUARD)
            .arg("sh")
            .arg(program)
            .args(args)
            .env("PEER_LOG", &log)
            .env("PEER_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("starting {name}: {err}"));
        let stdin = guard.stdin.take();
        Self {
            name: name.to_owned(),
            guard,
            stdin,
            log,
        }
    }

    /// What the peer wrote so far (its stderr and stdout).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `port` answers with an SSH banner; panics with the peer's log otherwise.
    pub fn wait_for_ssh(&self, port: u16) {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last_error = String::new();
        while Instant::now() < deadline {
            match ssh_banner(port) {
                Ok(banner) if banner.starts_with("SSH-") => return,
                Ok(other) => last_error = format!("unexpected banner {other:?}"),
                Err(err) => last_error = err.to_string(),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} did not accept SSH on {HOST}:{port} within {START_TIMEOUT:?} ({last_error}); its log:\n{}",
            self.name,
            self.log()
        );
    }

    /// Stops the peer and waits for the guard (bounded: a guard that hangs is killed).
    fn stop(&mut self) {
        if self.stdin.take().is_none() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
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

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The first line a server sends on `port`.
fn ssh_banner(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut banner = Vec::new();
    let mut byte = [0u8; 1];
    while banner.len() < 255 {
        if stream.read(&mut byte)? == 0 || byte[0] == b'\n' {
            break;
        }
        banner.push(byte[0]);
    }
    // Say goodbye in the protocol's terms so the server logs no broken handshake.
    let _ = stream.write_all(b"SSH-2.0-orch-peer-probe\r\n");
    Ok(String::from_utf8_lossy(&banner).trim_end().to_owned())
}

/// `sshd -V`'s version as (major, minor).
fn openssh_version() -> (u32, u32) {
    let out = Command::new("/usr/sbin/sshd")
        .arg("-V")
        .output()
        .expect("running /usr/sbin/sshd -V (install openssh-server)");
    let text = String::from_utf8_lossy(&out.stderr);
    let version = text.split("OpenSSH_").nth(1).and_then(|rest| {
        let (major, rest) = rest.split_once('.')?;
        let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((major.parse().ok()?, minor.parse().ok()?))
    });
    version.unwrap_or_else(|| panic!("cannot read the OpenSSH version from {text:?}"))
}

/// sshd_config lines shared by both sshd peers.
fn sshd_common_config(dir: &Path, port: u16, host_key: &Path) -> String {
    let mut config = format!(
        "Port {port}\n\
         ListenAddress {HOST}\n\
         HostKey {host_key}\n\
         PidFile {pid}\n\
         StrictModes no\n\
         UsePAM no\n\
         KbdInteractiveAuthentication no\n\
         Subsystem sftp internal-sftp\n\
         PrintMotd no\n\
         LogLevel VERBOSE\n\
         MaxStartups 200\n\
         MaxSessions 200\n",
        host_key = host_key.display(),
        pid = dir.join("sshd.pid").display(),
    );
    // OpenSSH 9.8 penalises addresses that fail to log in; the tests' wrong passwords would lock
    // 127.0.0.1 out of every later test. Older versions refuse the unknown keyword.
    if openssh_version() >= (9, 8) {
        config.push_str("PerSourcePenalties no\n");
    }
    config
}

/// Starts `/usr/sbin/sshd -D -e -f CONFIG` under a guard and waits for its banner.
fn start_sshd(name: &str, dir: &Path, config: &str, port: u16) -> PeerProcess {
    let config_path = dir.join("sshd_config");
    std::fs::write(&config_path, config).expect("writing sshd_config");
    if is_root() {
        // Privilege separation needs it when sshd runs as root.
        std::fs::create_dir_all("/run/sshd").expect("creating /run/sshd");
    }
    let process = PeerProcess::spawn(
        name,
        dir,
        "/usr/sbin/sshd",
        [
            "-D".as_ref(),
            "-e".as_ref(),
            "-f".as_ref(),
            config_path.as_os_str(),
        ],
    );
    process.wait_for_ssh(port);
    process
}

/// OpenSSH `sshd` on 127.0.0.1 with public-key auth for the user running the tests, exec and
/// SFTP (`internal-sftp`); password auth off.
pub struct Sshd {
    /// Port on [`HOST`].
    pub port: u16,
    /// The login user: the user running the tests.
    pub user: String,
    /// The client's ed25519 private key, OpenSSH format: the secret of an `ssh-key` credential.
    pub client_key: String,
    /// Where the client's private key is (mode 0600), for `ssh -i` or `--from-file`.
    pub client_key_path: PathBuf,
    /// The client's public key line `ssh-ed25519 AAAA...` (as in `authorized_keys`).
    pub client_public_key: String,
    /// The server's host public key line `ssh-ed25519 AAAA...`, without comment.
    pub host_key: String,
    /// The host key's fingerprint as `ssh-keygen -lf` prints it: `SHA256:...`.
    pub host_key_fingerprint: String,
    /// An empty directory owned by [`user`](Self::user) for SFTP files (an absolute path on
    /// this machine, which is also the server's file system).
    pub scratch: PathBuf,
    process: PeerProcess,
}

impl Sshd {
    /// Starts a new sshd on a free port, stopped when the value is dropped.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts a new sshd on `port` with a fresh host key: after dropping one, start another on
    /// the same port to present a changed host key.
    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, None)
    }

    /// Starts a new sshd on a free port whose every session (shell or exec) runs the `sh`
    /// script `script` instead (`command=` in `authorized_keys`): a device with a dialogue of
    /// its own, such as a login prompt inside the shell.
    pub fn start_with_script(script: &str) -> Self {
        Self::start_with(free_port(), Some(script))
    }

    fn start_with(port: u16, script: Option<&str>) -> Self {
        let dir = peer_dir("orch-sshd-");
        let host_key_path = dir.join("host_ed25519");
        let host = keygen(&host_key_path, "ed25519");
        let client_key_path = dir.join("client_ed25519");
        let client = keygen(&client_key_path, "ed25519");
        let authorized = dir.join("authorized_keys");
        let options = match script {
            Some(script) => {
                let path = dir.join("session.sh");
                std::fs::write(&path, script).expect("writing the session script");
                format!("command=\"/bin/sh {}\" ", path.display())
            }
            None => String::new(),
        };
        std::fs::write(&authorized, format!("{options}{}\n", client.public))
            .expect("authorized_keys");
        let scratch = dir.join("scratch");
        std::fs::create_dir(&scratch).expect("creating the scratch dir");
        let user = output("id", &["-un"]).trim().to_owned();
        let config = format!(
            "{}AuthorizedKeysFile {authorized}\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             PermitRootLogin prohibit-password\n\
             AllowUsers {user}\n",
            sshd_common_config(&dir, port, &host_key_path),
            authorized = authorized.display(),
        );
        let process = start_sshd("sshd", &dir, &config, port);
        Self {
            port,
            user,
            client_key: client.private,
            client_key_path,
            client_public_key: client.public,
            host_key: host.public,
            host_key_fingerprint: host.fingerprint,
            scratch,
            process,
        }
    }

    /// `127.0.0.1:PORT`, as `--bind` and grants take it.
    pub fn address(&self) -> String {
        format!("{HOST}:{}", self.port)
    }

    /// What sshd logged so far (`LogLevel VERBOSE`): logins, refusals, subsystems.
    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// The shared key-auth sshd of this test binary, started on first use.
pub fn sshd() -> &'static Sshd {
    static SSHD: OnceLock<Sshd> = OnceLock::new();
    SSHD.get_or_init(Sshd::start)
}

/// OpenSSH `sshd` with password auth (`UsePAM no`, so sshd must run as root) for the test user
/// [`SshdPassword::USER`]; public-key auth off.
pub struct SshdPassword {
    /// Port on [`HOST`].
    pub port: u16,
    /// The login user, [`SshdPassword::USER`].
    pub user: String,
    /// Its password: random, kept in `<target>/peers/orchtest.password` so that test binaries
    /// running at the same time agree on it (each sets it with `chpasswd`).
    pub password: String,
    /// The server's host public key line `ssh-ed25519 AAAA...`, without comment.
    pub host_key: String,
    /// The host key's fingerprint, `SHA256:...`.
    pub host_key_fingerprint: String,
    /// An empty directory owned by the test user for SFTP files.
    pub scratch: PathBuf,
    process: PeerProcess,
}

impl SshdPassword {
    /// The test user, created with `useradd -m` when missing.
    pub const USER: &'static str = "orchtest";

    /// Starts a new password sshd on a free port, stopped when dropped; `None` unless root.
    pub fn start() -> Option<Self> {
        if !is_root() {
            return None;
        }
        let password = ensure_test_user();
        let port = free_port();
        let dir = peer_dir("orch-sshd-password-");
        let host_key_path = dir.join("host_ed25519");
        let host = keygen(&host_key_path, "ed25519");
        let scratch = dir.join("scratch");
        std::fs::create_dir(&scratch).expect("creating the scratch dir");
        let uid: u32 = output("id", &["-u", Self::USER])
            .trim()
            .parse()
            .expect("numeric uid");
        std::os::unix::fs::chown(&scratch, Some(uid), None).expect("chown scratch");
        // The test user must reach its scratch directory inside root's 0700 temp dir.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
            .expect("chmod the peer dir");
        let config = format!(
            "{}PubkeyAuthentication no\n\
             PasswordAuthentication yes\n\
             PermitEmptyPasswords no\n\
             PermitRootLogin no\n\
             AllowUsers {user}\n",
            sshd_common_config(&dir, port, &host_key_path),
            user = Self::USER,
        );
        let process = start_sshd("sshd (password)", &dir, &config, port);
        Some(Self {
            port,
            user: Self::USER.to_owned(),
            password,
            host_key: host.public,
            host_key_fingerprint: host.fingerprint,
            scratch,
            process,
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("{HOST}:{}", self.port)
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// The shared password sshd, started on first use; `None` when the tests do not run as root
/// (the caller prints `skipped: needs root` and returns).
pub fn sshd_password() -> Option<&'static SshdPassword> {
    static SSHD: OnceLock<Option<SshdPassword>> = OnceLock::new();
    SSHD.get_or_init(SshdPassword::start).as_ref()
}

/// Creates the test user if missing and sets its password to the one kept in the target dir
/// (created at first use). Idempotent and safe when several test binaries race.
fn ensure_test_user() -> String {
    use std::os::unix::fs::OpenOptionsExt as _;
    let user = SshdPassword::USER;
    let user_exists = || {
        Command::new("id")
            .arg(user)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !user_exists() {
        let status = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", user])
            .status()
            .expect("running useradd");
        // Another test binary may have created it meanwhile.
        assert!(
            status.success() || user_exists(),
            "useradd -m {user} failed"
        );
    }
    let dir = target_dir().join("peers");
    std::fs::create_dir_all(&dir).expect("creating <target>/peers");
    let file = dir.join("orchtest.password");
    let candidate = format!("pw-{}", random_hex(12));
    // create_new: the first binary writes it, every other one reads the same value.
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| f.write_all(candidate.as_bytes()));
    let password = match created {
        Ok(()) => candidate,
        Err(_) => {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                if !text.trim().is_empty() {
                    break text.trim().to_owned();
                }
                assert!(Instant::now() < deadline, "{} stays empty", file.display());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    let mut chpasswd = Command::new("chpasswd")
        .stdin(Stdio::piped())
        .spawn()
        .expect("running chpasswd");
    chpasswd
        .stdin
        .take()
        .expect("chpasswd stdin")
        .write_all(format!("{user}:{password}\n").as_bytes())
        .expect("writing to chpasswd");
    assert!(
        chpasswd.wait().expect("waiting for chpasswd").success(),
        "chpasswd failed"
    );
    password
}

/// A `fakenos` device: Cisco IOS (`cisco_ios`), hostname [`Fakenos::DEVICE`], password auth,
/// interactive shell only.
///
/// What it does, checked by hand with paramiko and netmiko 4.8 against fakenos 1.2.1:
/// - exec requests are refused (the channel closes); only `shell` works. It prints
///   `Custom SSH Shell\r\nR1>` on login, echoes every line typed, and ends lines with `\r\n`.
/// - Prompts: `R1>` (user mode), `R1#` (enable mode), `R1(config)#`.
/// - `enable` asks `Password:` here (this inventory overrides fakenos's default, which asks for
///   none): typing [`enable_password`](Self::enable_password) gives `R1#`. The password is
///   **echoed** like any input, so a transcript contains it unless the host masks it. A wrong
///   password answers `% Invalid input detected at '^' marker.` and stays at `Password:`.
/// - `show running-config` needs enable mode (at `R1>` it answers `% Invalid input detected at
///   '^' marker.`); at `R1#` it returns about 4 KB starting `service timestamps debug datetime
///   msec` and ending `end`, containing `hostname R1`.
/// - `terminal length 0` and `show clock` work in both modes and print nothing / the time.
/// - Unknown commands answer `% Invalid input detected at '^' marker.`
/// - The host key is an RSA key generated per start (fakenos accepts only RSA host keys).
pub struct Fakenos {
    /// Port on [`HOST`].
    pub port: u16,
    /// Login user.
    pub username: String,
    /// Login password (random per start).
    pub password: String,
    /// Secret that `enable` asks for (random per start).
    pub enable_password: String,
    /// The server's host public key line `ssh-rsa AAAA...`, without comment.
    pub host_key: String,
    /// The host key's fingerprint, `SHA256:...`.
    pub host_key_fingerprint: String,
    process: PeerProcess,
}

impl Fakenos {
    /// The device's hostname, and so its prompts' base.
    pub const DEVICE: &'static str = "R1";
    /// The fakenos platform.
    pub const PLATFORM: &'static str = "cisco_ios";
    /// The user-mode prompt.
    pub const USER_PROMPT: &'static str = "R1>";
    /// The enable-mode prompt.
    pub const ENABLE_PROMPT: &'static str = "R1#";

    /// Starts a new device on a free port, stopped when dropped.
    pub fn start() -> Self {
        let python = venv_python();
        let port = free_port();
        let dir = peer_dir("orch-fakenos-");
        let host_key_path = dir.join("host_rsa");
        let host = keygen(&host_key_path, "rsa");
        let username = "admin".to_owned();
        let password = format!("fk-{}", random_hex(8));
        let enable_password = format!("en-{}", random_hex(8));
        // JSON is YAML: serde_json writes the inventory without a YAML dependency.
        let inventory = serde_json::json!({
            "default": {
                "username": username,
                "password": password,
                "server": {
                    "plugin": "ParamikoSshServer",
                    "configuration": {
                        "address": HOST,
                        "timeout": 1,
                        "ssh_key_file": host_key_path,
                    },
                },
            },
            "hosts": {
                Self::DEVICE: {
                    "port": port,
                    "platform": Self::PLATFORM,
                    "nos": {
                        "plugin": Self::PLATFORM,
                        "configuration": {
                            "commands": {
                                // fakenos's IOS enters enable mode without a password; real
                                // devices ask, and the host's `send-secret` needs one to type.
                                "enable": {
                                    "output": null,
                                    "new_prompt": "Password:",
                                    "prompt": "{base_prompt}>",
                                    "help": "enter enable mode",
                                },
                                enable_password.as_str(): {
                                    "output": null,
                                    "new_prompt": "{base_prompt}#",
                                    "prompt": "Password:",
                                    "help": "the enable secret",
                                },
                            },
                        },
                    },
                },
            },
        });
        let inventory_path = dir.join("inventory.yaml");
        std::fs::write(&inventory_path, inventory.to_string()).expect("writing the inventory");
        let process = PeerProcess::spawn(
            "fakenos",
            &dir,
            &python,
            [
                OsStr::new("-c"),
                OsStr::new(
                    "import sys; from fakenos.plugins.utils.cli import run_cli; run_cli(sys.argv[1:])",
                ),
                OsStr::new("-i"),
                inventory_path.as_os_str(),
                OsStr::new("-l"),
                OsStr::new("warning"),
            ],
        );
        process.wait_for_ssh(port);
        Self {
            port,
            username,
            password,
            enable_password,
            host_key: host.public,
            host_key_fingerprint: host.fingerprint,
            process,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("{HOST}:{}", self.port)
    }

    /// What fakenos logged so far (warnings and errors).
    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// The shared fakenos device of this test binary, started on first use.
pub fn fakenos() -> &'static Fakenos {
    static FAKENOS: OnceLock<Fakenos> = OnceLock::new();
    FAKENOS.get_or_init(Fakenos::start)
}
