//! Benchmark of the `ssh` capability (run with `cargo bench -p orch --bench ssh` after
//! `scripts/build-packs`; needs OpenSSH's `sshd`): `echo hi` on a local unprivileged sshd with
//! key authentication,
//! (a) native russh on a connected, authenticated session reused across calls, one channel per
//!     exec (the lowest possible cost of a command);
//! (b) through the host: `Runtime::invoke` of `broker.ssh_exec` in a fresh sandbox, which checks
//!     grants and addresses, opens the credential, connects, verifies the host key against the
//!     store, logs in, runs the command, masks and disconnects (what one pack call costs);
//! (c) native russh doing what (b) does on the wire: connect, key exchange, login, exec,
//!     disconnect — the fair baseline for (b), since a pack call opens its own session.
//!
//! Prints medians (and p90) and the ratios (b)/(a) and (b)/(c).

#[path = "support/guests.rs"]
mod guests;
#[path = "support/hosted.rs"]
mod hosted;
#[path = "support/sampling.rs"]
mod sampling;
use hosted::Hosted;
use sampling::{Figure, count, sample};

/// What `peers.rs` needs from the e2e harness.
mod harness {
    use std::path::PathBuf;

    /// The workspace root.
    pub fn workspace() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }
}

#[path = "../../tests/e2e/peers.rs"]
mod peers;

use std::sync::Arc;
use std::time::Duration;

use orch::capabilities::ssh::hostkeys::PresentedKey;
use orch::vault::{Kind, MasterKey, NewCredential, PublicField, Vault};
use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use serde_json::json;
use zeroize::Zeroizing;

const FULL_WARMUP: usize = 10;
const FULL_SAMPLES_REUSED: usize = 500;
const FULL_SAMPLES_CONNECT: usize = 150;
/// A fixed key: the bench's vault lives in a temporary directory.
const MASTER_KEY: &str = "5f1c0e2a9b8d7c6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a090807";

fn show(label: &str, Figure { median, p90 }: Figure) {
    println!(
        "{label:<56} median {:>8.2} ms   p90 {:>8.2} ms",
        median.as_secs_f64() * 1e3,
        p90.as_secs_f64() * 1e3
    );
}

/// Accepts the bench server's key only.
struct Pinned(String);

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                PresentedKey::from_key(key).public_key == self.0
            }
            PublicKeyOrCertificate::Certificate(_) => false,
        })
    }
}

async fn native_session(sshd: &peers::Sshd, host_key: &str) -> Handle<Pinned> {
    let config = Arc::new(client::Config {
        nodelay: true,
        ..Default::default()
    });
    let mut handle = client::connect(
        config,
        ("127.0.0.1", sshd.port),
        Pinned(host_key.to_owned()),
    )
    .await
    .expect("connect");
    let key = russh::keys::decode_secret_key(&sshd.client_key, None).expect("client key");
    let auth = handle
        .authenticate_publickey(
            sshd.user.as_str(),
            PrivateKeyWithHashAlg::new(Arc::new(key), None),
        )
        .await
        .expect("auth");
    assert!(
        matches!(auth, client::AuthResult::Success),
        "key login refused"
    );
    handle
}

async fn native_exec(handle: &Handle<Pinned>) -> Vec<u8> {
    let mut channel = handle.channel_open_session().await.expect("channel");
    channel.exec(true, "echo hi").await.expect("exec");
    let mut out = Vec::new();
    while let Some(message) = channel.wait().await {
        match message {
            ChannelMsg::Data { data } => out.extend_from_slice(&data),
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    out
}

fn main() {
    let warmup = count(FULL_WARMUP);
    let (samples_reused, samples_connect) =
        (count(FULL_SAMPLES_REUSED), count(FULL_SAMPLES_CONNECT));
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let sshd = peers::Sshd::start();
    let host_key = PresentedKey::parse(&sshd.host_key).expect("host key");

    // (a) native, one session reused.
    let session = tokio.block_on(native_session(&sshd, &host_key.public_key));
    let reused = tokio.block_on(sample(warmup, samples_reused, || async {
        assert_eq!(native_exec(&session).await, b"hi\n");
    }));

    // (c) native, a session per command.
    let per_call = tokio.block_on(sample(warmup, samples_connect, || async {
        let handle = native_session(&sshd, &host_key.public_key).await;
        assert_eq!(native_exec(&handle).await, b"hi\n");
        let _ = handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }));

    // (b) through the host.
    let hosted = Hosted::with_broker(&tokio);
    let address = format!("127.0.0.1:{}", sshd.port);
    hosted
        .store
        .add_grants("broker", &[format!("ssh:{address}")])
        .expect("grant");
    hosted
        .store
        .add_host_key(&host_key.row("127.0.0.1", sshd.port, "bench"))
        .expect("host key");
    let key = MasterKey::parse(MASTER_KEY, "the bench").expect("master key");
    Vault::new(&hosted.store)
        .set(
            &key,
            NewCredential {
                name: "key".into(),
                kind: Kind::SshKey,
                bindings: vec![address],
                packs: vec![],
                public: vec![(PublicField::Username, sshd.user.clone())],
                secrets: vec![(
                    "private_key",
                    Zeroizing::new(sshd.client_key.clone().into_bytes()),
                )],
            },
        )
        .expect("credential");
    let invoker = hosted.invoker(MasterKey::parse(MASTER_KEY, "the bench").expect("master key"));
    let input = json!({
        "host": "127.0.0.1", "port": sshd.port, "credential": "key", "command": "echo hi"
    })
    .to_string();
    let through_host = tokio.block_on(sample(warmup, samples_connect, || async {
        let output = invoker.call("ssh_exec", &input).await;
        assert!(output.contains(r#""stdout":"hi\n""#), "{output}");
    }));

    println!("`echo hi` on a local sshd (ed25519 host and client keys):");
    show(
        &format!("(a) native russh, session reused ({samples_reused} samples)"),
        reused,
    );
    show(
        &format!("(b) through the host, broker.ssh_exec ({samples_connect})"),
        through_host,
    );
    show(
        &format!("(c) native russh, connect+login+exec ({samples_connect})"),
        per_call,
    );
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "ratio (b)/(a): {:.1}x   ratio (b)/(c): {:.2}x   (b)-(c): {:.2} ms",
        ratio(through_host.median, reused.median),
        ratio(through_host.median, per_call.median),
        (through_host.median.as_secs_f64() - per_call.median.as_secs_f64()) * 1e3
    );
}
