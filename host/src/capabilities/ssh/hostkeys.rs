//! Which SSH server keys the host trusts: a pure decision over the keys recorded in the store
//! and the `strict` / `accept-new` policy, and the parsing of hosts and key lines shared with
//! `orch hostkey`.
//!
//! Keys are recorded per destination as the pack names it (a name lowercased, an IP literal in
//! its canonical form), so `r1.lab` and its address are separate entries: a pack reaching the
//! same device through two names must have both trusted, which is what OpenSSH does too.

use std::net::IpAddr;

use russh::keys::ssh_key::{HashAlg, PublicKey};

use super::super::HostKeyPolicy;
use crate::contract::orch::pack::types::{ErrorCode, HostError};
use crate::policy::network::parse_ip_literal;
use crate::store::HostKeyRow;

/// A server key as presented (or given to `orch hostkey trust --key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKey {
    /// Key algorithm (`ssh-ed25519`, `ssh-rsa`, …).
    pub algorithm: String,
    /// OpenSSH public-key line without comment (`ssh-ed25519 AAAA…`).
    pub public_key: String,
    /// `SHA256:…` fingerprint.
    pub fingerprint: String,
}

impl PresentedKey {
    /// The description of `key`.
    pub fn from_key(key: &PublicKey) -> Self {
        let mut key = key.clone();
        key.set_comment("");
        let line = key
            .to_openssh()
            .map(|line| key_body(&line))
            .unwrap_or_default();
        Self {
            algorithm: key.algorithm().as_str().to_owned(),
            public_key: line,
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
        }
    }

    /// Parses an OpenSSH public-key line (`ssh-ed25519 AAAA… [comment]`).
    pub fn parse(line: &str) -> Result<Self, String> {
        let key = PublicKey::from_openssh(line.trim()).map_err(|err| {
            format!(
                "{:?} is not an OpenSSH public key ({err}); expected a line such as \
                 \"ssh-ed25519 AAAA…\", as in ~/.ssh/known_hosts or /etc/ssh/ssh_host_*_key.pub",
                abbreviate(line)
            )
        })?;
        Ok(Self::from_key(&key))
    }

    /// The store row recording this key for `host`:`port`.
    pub fn row(&self, host: &str, port: u16, added_by: &str) -> HostKeyRow {
        HostKeyRow {
            host: host.to_owned(),
            port,
            algorithm: self.algorithm.clone(),
            public_key: self.public_key.clone(),
            fingerprint: self.fingerprint.clone(),
            added_at: String::new(),
            added_by: added_by.to_owned(),
        }
    }
}

/// `algorithm base64` of a key line: comments do not take part in comparisons.
fn key_body(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn abbreviate(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// What to do with a presented key.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A recorded key: go on.
    Known,
    /// Unknown under `accept-new`: record it, then go on.
    Record,
    /// Refuse the connection with this error.
    Refuse(HostError),
}

/// Judges `presented` for `host`:`port` against the keys recorded for it (`known`). A changed
/// key is refused whatever the policy: it is what a man in the middle looks like.
pub fn judge(
    known: &[HostKeyRow],
    presented: &PresentedKey,
    policy: HostKeyPolicy,
    host: &str,
    port: u16,
) -> Verdict {
    let destination = destination(host, port);
    if known
        .iter()
        .any(|row| key_body(&row.public_key) == presented.public_key)
    {
        return Verdict::Known;
    }
    if !known.is_empty() {
        let expected = known
            .iter()
            .map(|row| format!("{} (recorded {})", row.fingerprint, row.added_at))
            .collect::<Vec<_>>()
            .join(" or ");
        return Verdict::Refuse(HostError {
            code: ErrorCode::HostKey,
            message: format!(
                "the host key of {destination} changed: expected {expected}, got {}; if the \
                 change is expected, run: orch hostkey forget {destination} then orch hostkey \
                 trust {destination}",
                presented.fingerprint
            ),
        });
    }
    match policy {
        HostKeyPolicy::AcceptNew => Verdict::Record,
        HostKeyPolicy::Strict => Verdict::Refuse(HostError {
            code: ErrorCode::HostKey,
            message: format!(
                "unknown host key {} ({}) for {destination}; trust it with: orch hostkey trust \
                 {destination} --fingerprint {}",
                presented.fingerprint, presented.algorithm, presented.fingerprint
            ),
        }),
    }
}

/// A host as keys are recorded for it: names lowercased, IP literals in canonical form
/// (`127.1` is `127.0.0.1`, `[::1]` is `::1`).
pub fn canonical_host(host: &str) -> Result<String, String> {
    match parse_ip_literal(host)? {
        Some(ip) => Ok(ip.to_string()),
        None => Ok(host.trim_end_matches('.').to_ascii_lowercase()),
    }
}

/// `HOST:PORT`, with IPv6 addresses bracketed.
pub fn destination(host: &str, port: u16) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{host}]:{port}"),
        _ => format!("{host}:{port}"),
    }
}

/// Parses `HOST[:PORT]` (`r1.lab`, `10.0.0.1:2222`, `[fd00::1]:22`, `fd00::1`) into the
/// canonical host and the port (default 22).
pub fn parse_destination(text: &str) -> Result<(String, u16), String> {
    let text = text.trim();
    let bad = |why: &str| format!("invalid destination {text:?}: {why}; expected HOST[:PORT]");
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("no closing ]"))?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or_else(|| bad("junk after ]"))?),
            ),
        }
    } else if text.matches(':').count() == 1 {
        let (host, port) = text.split_once(':').ok_or_else(|| bad("no port"))?;
        (host, Some(port))
    } else {
        (text, None)
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        None => 22,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
    };
    let host = if host.contains(':') {
        // A bare IPv6 address: url's parser wants it bracketed.
        canonical_host(&format!("[{host}]"))
    } else {
        canonical_host(host)
    }
    .map_err(|err| bad(&err))?;
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDUAIL9n3lLDMV8XVv/RAPn+FV93QpjK7e6agch8K/3y a@b";
    const ED25519_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGRRVtaAuvqTxvrqgf9+GwyM+Y5b7uO/sk9CizwSRoGR";

    fn recorded(line: &str) -> HostKeyRow {
        let mut row = PresentedKey::parse(line)
            .unwrap()
            .row("r1.lab", 22, "orch hostkey trust");
        row.added_at = "2026-11-02T10:00:00Z".into();
        row
    }

    #[test]
    fn parses_key_lines_and_ignores_comments() {
        let a = PresentedKey::parse(ED25519_A).unwrap();
        assert_eq!(a.algorithm, "ssh-ed25519");
        assert!(a.fingerprint.starts_with("SHA256:"), "{}", a.fingerprint);
        assert!(!a.public_key.contains("a@b"));
        let without_comment = PresentedKey::parse(ED25519_A.trim_end_matches(" a@b")).unwrap();
        assert_eq!(a, without_comment);
        assert_ne!(a, PresentedKey::parse(ED25519_B).unwrap());
        let err = PresentedKey::parse("ssh-ed25519 not-base64").unwrap_err();
        assert!(err.contains("not an OpenSSH public key"), "{err}");
    }

    #[test]
    fn accepts_a_recorded_key_under_either_policy() {
        let a = PresentedKey::parse(ED25519_A).unwrap();
        for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
            assert!(matches!(
                judge(&[recorded(ED25519_A)], &a, policy, "r1.lab", 22),
                Verdict::Known
            ));
        }
    }

    #[test]
    fn refuses_an_unknown_key_under_strict_naming_its_fingerprint_and_the_fix() {
        let a = PresentedKey::parse(ED25519_A).unwrap();
        let Verdict::Refuse(err) = judge(&[], &a, HostKeyPolicy::Strict, "r1.lab", 2222) else {
            panic!("accepted an unknown key under strict");
        };
        assert_eq!(err.code, ErrorCode::HostKey);
        assert!(err.message.contains(&a.fingerprint), "{}", err.message);
        assert!(
            err.message.contains(&format!(
                "orch hostkey trust r1.lab:2222 --fingerprint {}",
                a.fingerprint
            )),
            "{}",
            err.message
        );
    }

    #[test]
    fn records_an_unknown_key_under_accept_new() {
        let a = PresentedKey::parse(ED25519_A).unwrap();
        assert!(matches!(
            judge(&[], &a, HostKeyPolicy::AcceptNew, "r1.lab", 22),
            Verdict::Record
        ));
    }

    #[test]
    fn refuses_a_changed_key_under_every_policy_showing_both_fingerprints() {
        let old = recorded(ED25519_A);
        let new = PresentedKey::parse(ED25519_B).unwrap();
        for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
            let Verdict::Refuse(err) =
                judge(std::slice::from_ref(&old), &new, policy, "r1.lab", 22)
            else {
                panic!("accepted a changed key under {policy:?}");
            };
            assert_eq!(err.code, ErrorCode::HostKey);
            for needle in [
                "the host key of r1.lab:22 changed",
                old.fingerprint.as_str(),
                new.fingerprint.as_str(),
                "recorded 2026-11-02T10:00:00Z",
                "orch hostkey forget r1.lab:22 then orch hostkey trust r1.lab:22",
            ] {
                assert!(err.message.contains(needle), "{needle}: {}", err.message);
            }
        }
    }

    #[test]
    fn parses_destinations_into_canonical_hosts_and_ports() {
        for (text, host, port) in [
            ("R1.Lab", "r1.lab", 22),
            ("r1.lab:2222", "r1.lab", 2222),
            ("127.1", "127.0.0.1", 22),
            ("127.0.0.1:2200", "127.0.0.1", 2200),
            ("[::1]:2200", "::1", 2200),
            ("[::1]", "::1", 22),
            ("fd00::1", "fd00::1", 22),
        ] {
            assert_eq!(
                parse_destination(text).unwrap(),
                (host.to_owned(), port),
                "{text}"
            );
        }
        for bad in ["", "r1:0", "r1:x", "[::1", "[::1]x", "bad host"] {
            assert!(parse_destination(bad).is_err(), "{bad}");
        }
        assert_eq!(destination("::1", 22), "[::1]:22");
        assert_eq!(destination("r1.lab", 22), "r1.lab:22");
    }
}
