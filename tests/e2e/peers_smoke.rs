//! The test peers work with native tools, so a failing capability test points at the host, not
//! at its peer: OpenSSH's `ssh`/`sftp` against [`Sshd`], paramiko against [`SshdPassword`],
//! netmiko against [`Fakenos`]; and a peer's processes end with the value that owns it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::peers::{self, Fakenos, HOST, Sshd, SshdPassword};

/// `ssh` as a batch client of `sshd`, with `known_hosts` the file of pinned keys.
fn ssh(sshd: &Sshd, known_hosts: &Path, command: &str) -> Output {
    Command::new("ssh")
        .arg("-i")
        .arg(&sshd.client_key_path)
        .args(["-p", &sshd.port.to_string()])
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .arg(format!("{}@{HOST}", sshd.user))
        .arg(command)
        .stdin(Stdio::null())
        .output()
        .expect("running ssh")
}

/// A known_hosts file pinning `host_key` for `[127.0.0.1]:port`.
fn known_hosts(dir: &Path, port: u16, host_key: &str) -> std::path::PathBuf {
    let path = dir.join("known_hosts");
    std::fs::write(&path, format!("[{HOST}]:{port} {host_key}\n")).expect("known_hosts");
    path
}

#[test]
fn sshd_runs_commands_for_the_client_key_with_the_advertised_host_key() {
    let sshd = peers::sshd();
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = ssh(
        sshd,
        &known_hosts(tmp.path(), sshd.port, &sshd.host_key),
        "uname",
    );
    assert!(
        out.status.success(),
        "ssh failed: {out:?}\nsshd log:\n{}",
        sshd.log()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Linux");

    // The brief's form, without pinning, works too.
    let out = Command::new("ssh")
        .arg("-i")
        .arg(&sshd.client_key_path)
        .args(["-p", &sshd.port.to_string()])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR"])
        .arg(format!("{}@{HOST}", sshd.user))
        .arg("uname")
        .stdin(Stdio::null())
        .output()
        .expect("running ssh");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Linux",
        "{out:?}"
    );
}

#[test]
fn sshd_refuses_a_host_key_other_than_the_advertised_one() {
    let sshd = peers::sshd();
    let tmp = tempfile::tempdir().expect("temp dir");
    let other = Sshd::start();
    let out = ssh(
        sshd,
        &known_hosts(tmp.path(), sshd.port, &other.host_key),
        "uname",
    );
    assert!(
        !out.status.success(),
        "ssh accepted a wrong host key: {out:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&sshd.host_key_fingerprint),
        "ssh names the server's real fingerprint {}: {stderr}",
        sshd.host_key_fingerprint
    );
}

#[test]
fn sshd_serves_sftp_in_the_scratch_directory() {
    let sshd = peers::sshd();
    let tmp = tempfile::tempdir().expect("temp dir");
    let local = tmp.path().join("upload.txt");
    std::fs::write(&local, "hello over sftp\n").expect("local file");
    let remote = sshd.scratch.join("smoke-upload.txt");
    let batch = tmp.path().join("batch");
    std::fs::write(
        &batch,
        format!("put {} {}\n", local.display(), remote.display()),
    )
    .expect("batch file");
    let out = Command::new("sftp")
        .arg("-i")
        .arg(&sshd.client_key_path)
        .args(["-P", &sshd.port.to_string()])
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            known_hosts(tmp.path(), sshd.port, &sshd.host_key).display()
        ))
        .arg("-b")
        .arg(&batch)
        .arg(format!("{}@{HOST}", sshd.user))
        .stdin(Stdio::null())
        .output()
        .expect("running sftp");
    assert!(
        out.status.success(),
        "sftp failed: {out:?}\nsshd log:\n{}",
        sshd.log()
    );
    assert_eq!(
        std::fs::read_to_string(&remote).expect("uploaded file"),
        "hello over sftp\n"
    );
}

#[test]
fn sshd_password_logs_in_the_test_user_with_its_password_only() {
    let Some(sshd) = peers::sshd_password() else {
        eprintln!("skipped: needs root");
        return;
    };
    // paramiko from the venv: OpenSSH's ssh cannot take a password non-interactively.
    let script = r#"
import sys, paramiko
port, user, password, host_key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def login(pw):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    kind, b64 = host_key.split()
    c.get_host_keys().add(f"[127.0.0.1]:{port}", kind, paramiko.PKey.from_type_string(kind, __import__("base64").b64decode(b64)))
    c.connect("127.0.0.1", port, user, pw, look_for_keys=False, allow_agent=False, timeout=10)
    return c
try:
    login(password + "x")
    print("wrong password accepted")
except paramiko.AuthenticationException:
    print("wrong password refused")
c = login(password)
_, out, _ = c.exec_command("id -un")
print(out.read().decode().strip())
"#;
    let out = Command::new(peers::venv_python())
        .args([
            "-c",
            script,
            &sshd.port.to_string(),
            &sshd.user,
            &sshd.password,
        ])
        .arg(&sshd.host_key)
        .output()
        .expect("running python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "paramiko failed: {}\nsshd log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        sshd.log()
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["wrong password refused", SshdPassword::USER]
    );
}

#[test]
fn fakenos_answers_show_running_config_after_enable_via_netmiko() {
    let device = peers::fakenos();
    let script = r#"
import sys
from netmiko import ConnectHandler
port, username, password, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = ConnectHandler(device_type="cisco_ios", host="127.0.0.1", port=port, username=username,
                   password=password, secret=secret, conn_timeout=10)
print(c.find_prompt())
c.enable()
print(c.find_prompt())
print(c.send_command("show running-config"))
print("key", c.remote_conn.get_transport().get_remote_server_key().get_base64())
c.disconnect()
"#;
    let out = Command::new(peers::venv_python())
        .args(["-c", script, &device.port.to_string()])
        .args([&device.username, &device.password, &device.enable_password])
        .output()
        .expect("running python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "netmiko failed: {}\nfakenos log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        device.log()
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..2], [Fakenos::USER_PROMPT, Fakenos::ENABLE_PROMPT]);
    assert!(stdout.contains("\nhostname R1\n"), "{stdout}");
    let key = device
        .host_key
        .split_whitespace()
        .nth(1)
        .expect("base64 of the host key");
    assert_eq!(lines.last(), Some(&format!("key {key}").as_str()));
}

#[test]
fn dropping_a_peer_stops_it() {
    let sshd = Sshd::start();
    let port = sshd.port;
    assert!(std::net::TcpStream::connect((HOST, port)).is_ok());
    drop(sshd);
    // sshd closes its listener as it exits; allow it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect((HOST, port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "sshd still listens on {port} after drop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Set in the child process of [`peers_end_when_their_test_process_is_killed`].
const OWNER_ENV: &str = "ORCH_PEER_OWNER_TEST";

/// Not a test by itself: the child that [`peers_end_when_their_test_process_is_killed`] starts
/// and SIGKILLs. It starts the shared sshd, prints its port and waits to be killed.
#[test]
#[ignore = "run only as the child of peers_end_when_their_test_process_is_killed"]
fn peer_owner_for_the_kill_test() {
    if std::env::var_os(OWNER_ENV).is_none() {
        return;
    }
    let sshd = peers::sshd();
    println!("peer-port {}", sshd.port);
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn peers_end_when_their_test_process_is_killed() {
    use std::io::BufRead as _;
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "peers_smoke::peer_owner_for_the_kill_test",
            "--exact",
            "--ignored",
        ])
        .arg("--nocapture")
        .env(OWNER_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the test binary");
    let stdout = child.stdout.take().expect("stdout");
    let port: Option<u16> = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("peer-port ")?.trim().parse().ok());
    // SIGKILL: no destructor, no atexit; only the kernel closing the guard's pipe is left.
    child.kill().expect("killing the child");
    child.wait().expect("reaping the child");
    let port = port.expect("the child printed its sshd's port");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect((HOST, port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "sshd on {port} outlived its killed test process"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
