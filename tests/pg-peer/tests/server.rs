//! The shared PostgreSQL server as its users see it: databases that are separate and reachable
//! by their URLs, a server that runs as an unprivileged user, and a server that is gone, with its
//! directory, once the test binary that started it ends, whether it exits, panics or is killed.

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Selects what [`child_holds_a_server`] does when this binary runs it in a child process.
const CHILD_MODE: &str = "ORCH_PG_PEER_CHILD";

/// What the child prints before its server's port and data directory (libtest may have written
/// the test's name on the same line).
const READY: &str = "orch-pg-peer child ready: ";

/// `psql -d URL -c SQL`'s unaligned, tuples-only output; panics with its stderr and the server's
/// log on failure.
fn query(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("running psql");
    assert!(
        out.status.success(),
        "psql -d {url} -c {sql:?} failed ({}): {}\nserver log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        orch_pg_peer::server().log()
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The server's data directory, as it reports it.
fn data_directory() -> PathBuf {
    PathBuf::from(query(
        &orch_pg_peer::server().admin_url(),
        "SHOW data_directory",
    ))
}

#[test]
fn creates_separate_databases_reachable_by_their_urls() {
    if !orch_pg_peer::available() {
        eprintln!("skipped: PostgreSQL's server binaries are not installed");
        return;
    }
    let server = orch_pg_peer::server();
    let port = server.port();
    assert_eq!(
        server.admin_url(),
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    );

    let first = server.create_database("Pg-Peer test");
    let second = server.create_database("Pg-Peer test");
    assert_ne!(first, second);
    let prefix = format!("postgres://postgres@127.0.0.1:{port}/pg_peer_test_");
    assert!(first.starts_with(&prefix), "{first}");

    for url in [&first, &second] {
        assert_eq!(query(url, "SELECT 1"), "1", "{url}");
        let name = url.rsplit('/').next().expect("a database in the URL");
        assert_eq!(query(url, "SELECT current_database()"), name);
    }
    // Separate databases: a table made in one is not in the other.
    query(&first, "CREATE TABLE only_here (id int)");
    assert_eq!(query(&first, "SELECT count(*) FROM only_here"), "0");
    assert_eq!(
        query(&second, "SELECT to_regclass('only_here') IS NULL"),
        "t"
    );
}

#[test]
fn runs_postgres_as_an_unprivileged_user_and_logs() {
    if !orch_pg_peer::available() {
        eprintln!("skipped: PostgreSQL's server binaries are not installed");
        return;
    }
    use std::os::unix::fs::MetadataExt as _;
    let owner = std::fs::metadata(data_directory())
        .expect("the data directory")
        .uid();
    assert_ne!(owner, 0, "the data directory belongs to root");
    let log = orch_pg_peer::server().log();
    assert!(
        log.contains("database system is ready to accept connections"),
        "{log}"
    );
}

#[test]
fn stops_when_the_test_binary_is_killed() {
    stops_when_the_child_ends("kill");
}

#[test]
fn stops_when_the_test_binary_panics() {
    stops_when_the_child_ends("panic");
}

/// Runs [`child_holds_a_server`] in a child process in `mode`, kills it (`kill`, SIGKILL) or
/// lets it panic (`panic`), and checks that its server stops and its directory goes.
fn stops_when_the_child_ends(mode: &str) {
    if !orch_pg_peer::available() {
        eprintln!("skipped: PostgreSQL's server binaries are not installed");
        return;
    }
    let child = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "child_holds_a_server",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting this test binary as a child");
    // Killed if this test fails first, so its server does not wait out the child's sleep.
    let mut child = KillOnDrop(child);
    let child = &mut child.0;
    let stdout = child.stdout.take().expect("the child's stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.split_once(READY).map(|(_, rest)| rest.to_owned()));
    let Some(ready) = ready else {
        let _ = child.kill();
        let status = child.wait().expect("waiting for the child");
        panic!("the child ended ({status}) without starting its server");
    };
    let (port, data) = ready.split_once(' ').expect("PORT DATA_DIR");
    let port: u16 = port.parse().expect("a port");
    let data = PathBuf::from(data);
    let dir = data.parent().expect("the server's directory").to_owned();
    assert!(
        accepts(port),
        "the child's server is not listening on {port}"
    );
    assert!(dir.is_dir(), "{} is missing", dir.display());

    if mode == "kill" {
        child.kill().expect("killing the child");
    }
    let status = child.wait().expect("waiting for the child");
    assert!(!status.success(), "the child succeeded: {status}");
    // Drain the rest so a child that is still writing is not blocked (it has ended).
    lines.for_each(drop);

    let deadline = Instant::now() + Duration::from_secs(20);
    while (accepts(port) || dir.exists()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !accepts(port),
        "the server on {port} outlived its test binary"
    );
    assert!(!dir.exists(), "{} outlived its test binary", dir.display());
}

/// A child process killed (SIGKILL) and reaped when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// Not a test of its own: run by [`stops_when_the_child_ends`] in a child process, where it
/// starts the server, prints [`READY`] `PORT DATA_DIR` and then waits to be killed or panics.
#[test]
#[ignore = "run in a child process by stops_when_the_child_ends"]
fn child_holds_a_server() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let server = orch_pg_peer::server();
    let data = data_directory();
    assert!(Path::new(&data).is_dir(), "{}", data.display());
    println!("{READY}{} {}", server.port(), data.display());
    match mode.as_str() {
        "panic" => panic!("panicking on purpose with the server running"),
        _ => std::thread::sleep(Duration::from_secs(120)),
    }
}
