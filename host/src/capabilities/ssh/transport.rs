//! The SSH transport: TCP to an already checked address, the handshake, and the host-key check
//! run inside it ([`Verifier`]), before any credential is sent.
//!
//! russh asks the handler about the server key during key exchange; the verdict comes from the
//! pure [`hostkeys::judge`] over the keys read from the store before connecting, and is kept so
//! the caller can report a refusal with its full message (russh itself only says "unknown key")
//! and record a key accepted under `accept-new` once the handshake completed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::PublicKeyOrCertificate;
use russh::keys::ssh_key::{self, Algorithm};

use super::hostkeys::{self, PresentedKey, Verdict};
use crate::capabilities::HostKeyPolicy;
use crate::contract::orch::pack::types::{ErrorCode, HostError};
use crate::store::HostKeyRow;

/// What the verifier does with the presented key.
enum Mode {
    /// Judge it against the recorded keys under a policy.
    Check {
        known: Vec<HostKeyRow>,
        policy: HostKeyPolicy,
        host: String,
        port: u16,
    },
    /// Accept whatever is presented and keep it (`orch hostkey trust` fetching a key; nothing
    /// is authenticated on such a connection).
    Capture,
}

/// The key the server presented and the verdict on it, shared between the handler (which
/// russh owns during the handshake) and the caller.
type Seen = Arc<Mutex<Option<(PresentedKey, Verdict)>>>;

/// The russh handler of a host-made connection: it only verifies the server key.
pub struct Verifier {
    mode: Mode,
    seen: Seen,
}

impl Verifier {
    fn new(mode: Mode) -> (Self, Seen) {
        let seen = Arc::new(Mutex::new(None));
        (
            Self {
                mode,
                seen: Arc::clone(&seen),
            },
            seen,
        )
    }
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => PresentedKey::from_key(key),
            PublicKeyOrCertificate::Certificate(_) => {
                *seen = Some((
                    PresentedKey {
                        algorithm: "certificate".into(),
                        public_key: String::new(),
                        fingerprint: String::new(),
                    },
                    Verdict::Refuse(HostError {
                        code: ErrorCode::HostKey,
                        message: "the server presented a host certificate, which the host does \
                                  not verify; configure the server to offer a plain host key"
                            .into(),
                    }),
                ));
                return Ok(false);
            }
        };
        // A re-key must present the key accepted by the first exchange.
        if let Some((first, verdict)) = seen.as_ref() {
            return Ok(*first == key && !matches!(verdict, Verdict::Refuse(_)));
        }
        let verdict = match &self.mode {
            Mode::Check {
                known,
                policy,
                host,
                port,
            } => hostkeys::judge(known, &key, *policy, host, *port),
            Mode::Capture => Verdict::Known,
        };
        let accept = !matches!(verdict, Verdict::Refuse(_));
        *seen = Some((key, verdict));
        Ok(accept)
    }
}

/// An open transport and what was decided about its key.
pub struct Transport {
    /// The russh handle (not yet authenticated).
    pub handle: Handle<Verifier>,
    /// The server's key.
    pub key: PresentedKey,
    /// `Record` when the key is new and accepted under `accept-new`.
    pub verdict: Verdict,
}

/// The client configuration. Host-key algorithms of the keys already recorded for the
/// destination go first (as OpenSSH orders them by `known_hosts`): a server holding an RSA and
/// an ed25519 key, of which only the RSA one is trusted, must present the RSA one, or its
/// trusted key would look changed.
fn config(known: &[HostKeyRow]) -> Arc<client::Config> {
    let mut preferred = russh::Preferred::default();
    preferred.key = prefer_recorded(&preferred.key, known).into();
    Arc::new(client::Config {
        nodelay: true,
        inactivity_timeout: None,
        preferred,
        ..Default::default()
    })
}

/// `defaults` reordered: the algorithms of the `known` keys' types first, the rest after, each
/// group in its default order.
fn prefer_recorded(defaults: &[Algorithm], known: &[HostKeyRow]) -> Vec<Algorithm> {
    let recorded: Vec<Algorithm> = known
        .iter()
        .filter_map(|row| ssh_key::PublicKey::from_openssh(&row.public_key).ok())
        .map(|key| key.algorithm())
        .collect();
    let same_type = |a: &Algorithm, b: &Algorithm| match (a, b) {
        // An RSA key signs with any of the RSA hash variants.
        (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
        _ => a == b,
    };
    let (first, rest): (Vec<Algorithm>, Vec<Algorithm>) = defaults
        .iter()
        .cloned()
        .partition(|a| recorded.iter().any(|r| same_type(a, r)));
    first.into_iter().chain(rest).collect()
}

/// Connects to the first of `addresses` that answers and runs the handshake, judging the host
/// key of `host`:`port` against `known` under `policy`. `addresses` must already be checked
/// against the pack's grants.
pub async fn connect_checked(
    addresses: &[SocketAddr],
    host: &str,
    port: u16,
    known: Vec<HostKeyRow>,
    policy: HostKeyPolicy,
) -> Result<Transport, HostError> {
    let mode = Mode::Check {
        known,
        policy,
        host: host.to_owned(),
        port,
    };
    connect(addresses, host, port, mode).await
}

/// Connects without authenticating and returns the server's key (for `orch hostkey trust`).
pub async fn fetch_host_key(
    addresses: &[SocketAddr],
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<PresentedKey, HostError> {
    let transport = tokio::time::timeout(timeout, connect(addresses, host, port, Mode::Capture))
        .await
        .map_err(|_| HostError {
            code: ErrorCode::Timeout,
            message: format!(
                "{} did not complete an ssh handshake within {} s",
                hostkeys::destination(host, port),
                timeout.as_secs()
            ),
        })??;
    let _ = transport
        .handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    Ok(transport.key)
}

async fn connect(
    addresses: &[SocketAddr],
    host: &str,
    port: u16,
    mode: Mode,
) -> Result<Transport, HostError> {
    let destination = hostkeys::destination(host, port);
    let mut last_error = None;
    let mut stream = None;
    for address in addresses {
        match tokio::net::TcpStream::connect(address).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(err) => last_error = Some(format!("{address}: {err}")),
        }
    }
    let Some(stream) = stream else {
        return Err(HostError {
            code: ErrorCode::Unreachable,
            message: format!(
                "could not reach {destination} ({})",
                last_error.unwrap_or_else(|| "no address".into())
            ),
        });
    };
    let _ = stream.set_nodelay(true);
    let known: &[HostKeyRow] = match &mode {
        Mode::Check { known, .. } => known,
        Mode::Capture => &[],
    };
    let config = config(known);
    let (verifier, seen) = Verifier::new(mode);
    let result = client::connect_stream(config, stream, verifier).await;
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).take();
    match (result, seen) {
        (Ok(handle), Some((key, verdict))) => Ok(Transport {
            handle,
            key,
            verdict,
        }),
        (Err(_), Some((_, Verdict::Refuse(err)))) => Err(err),
        (Ok(_), None) => Err(HostError {
            code: ErrorCode::Protocol,
            message: format!("{destination} completed a handshake without a host key"),
        }),
        (Err(err), _) => Err(HostError {
            code: ErrorCode::Protocol,
            message: format!("the ssh handshake with {destination} failed: {err}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(public_key: &str) -> HostKeyRow {
        HostKeyRow {
            host: "r1".into(),
            port: 22,
            algorithm: String::new(),
            public_key: public_key.into(),
            fingerprint: String::new(),
            added_at: String::new(),
            added_by: "test".into(),
        }
    }

    #[test]
    fn recorded_key_types_are_negotiated_first() {
        let defaults = russh::Preferred::default().key.to_vec();
        assert_eq!(
            defaults[0],
            Algorithm::Ed25519,
            "russh's default order changed"
        );
        let rsa = row(
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDNfshkqA2cvhUclutoGiqMENhBPwqrAE6nH6EwIevZeZRG3dHqsG/8FYtLqIpdFm/B/7cgnB6SF0whtCK39+Hxj2EnDbcazolmtLNcwc0WQcV1Rzx+dqAYVqF0IcvnByriUXvQqVjBAfF1KGZ1grZCrqUQS1kCOKJOJz0OSqgmwQ==",
        );
        let ordered = prefer_recorded(&defaults, &[rsa]);
        assert!(
            ordered[..3]
                .iter()
                .all(|a| matches!(a, Algorithm::Rsa { .. })),
            "{ordered:?}"
        );
        assert_eq!(ordered.len(), defaults.len());
        // Nothing recorded (or nothing parsable): the default order.
        assert_eq!(prefer_recorded(&defaults, &[]), defaults);
        assert_eq!(prefer_recorded(&defaults, &[row("garbage")]), defaults);
    }
}
