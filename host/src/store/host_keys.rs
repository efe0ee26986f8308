//! The SSH host keys the host trusts, several per destination allowed (checked by
//! `capabilities::ssh::hostkeys`, managed with `orch hostkey`).

use super::sql::{Row, params};

use super::{Store, now};

/// One trusted SSH host key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HostKeyRow {
    /// Host as connected to (a name or an IP address), lowercase.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Key algorithm (`ssh-ed25519`, `rsa-sha2-512`, …).
    pub algorithm: String,
    /// The key as an OpenSSH public-key line (`ssh-ed25519 AAAA…`).
    pub public_key: String,
    /// `SHA256:…` fingerprint.
    pub fingerprint: String,
    /// When recorded (RFC 3339).
    pub added_at: String,
    /// How it was recorded (`orch hostkey trust`, `accept-new (pack netdev)`).
    pub added_by: String,
}

impl Store {
    /// The trusted keys of `host`:`port` (all hosts when `host` is `None`).
    pub fn host_keys(&self, host: Option<(&str, u16)>) -> anyhow::Result<Vec<HostKeyRow>> {
        let columns = "host, port, algorithm, public_key, fingerprint, added_at, added_by";
        let map = |row: &Row| {
            Ok(HostKeyRow {
                host: row.get(0)?,
                port: u16::try_from(row.get::<i64>(1)?).unwrap_or(0),
                algorithm: row.get(2)?,
                public_key: row.get(3)?,
                fingerprint: row.get(4)?,
                added_at: row.get(5)?,
                added_by: row.get(6)?,
            })
        };
        self.conn(|conn| match host {
            Some((host, port)) => conn.query_map(
                &format!(
                    "SELECT {columns} FROM host_keys WHERE host = ?1 AND port = ?2 ORDER BY added_at"
                ),
                params![host, i64::from(port)],
                map,
            ),
            None => conn.query_map(
                &format!("SELECT {columns} FROM host_keys ORDER BY host, port, added_at"),
                params![],
                map,
            ),
        })
    }

    /// Records a trusted key (no-op when already recorded); returns whether it was new.
    pub fn add_host_key(&self, key: &HostKeyRow) -> anyhow::Result<bool> {
        let added_at = now();
        let inserted = self.write(|tx| {
            tx.execute(
                "INSERT INTO host_keys
                 (host, port, algorithm, public_key, fingerprint, added_at, added_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                params![
                    key.host,
                    i64::from(key.port),
                    key.algorithm,
                    key.public_key,
                    key.fingerprint,
                    added_at,
                    key.added_by
                ],
            )
        })?;
        Ok(inserted > 0)
    }

    /// Forgets the keys of `host`:`port` (every port when `port` is `None`); how many.
    pub fn forget_host_keys(&self, host: &str, port: Option<u16>) -> anyhow::Result<usize> {
        self.write(|tx| match port {
            Some(port) => tx.execute(
                "DELETE FROM host_keys WHERE host = ?1 AND port = ?2",
                params![host, i64::from(port)],
            ),
            None => tx.execute("DELETE FROM host_keys WHERE host = ?1", params![host]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_are_kept_per_host_and_port() {
        crate::store::testing::each_backend(|store| {
            let key = HostKeyRow {
                host: "r1.lab".into(),
                port: 22,
                algorithm: "ssh-ed25519".into(),
                public_key: "ssh-ed25519 AAAAC3Nza".into(),
                fingerprint: "SHA256:abc".into(),
                added_at: String::new(),
                added_by: "test".into(),
            };
            assert!(store.add_host_key(&key).unwrap());
            assert!(!store.add_host_key(&key).unwrap());
            assert_eq!(store.host_keys(Some(("r1.lab", 22))).unwrap().len(), 1);
            assert!(store.host_keys(Some(("r1.lab", 2222))).unwrap().is_empty());
            assert_eq!(store.forget_host_keys("r1.lab", None).unwrap(), 1);
            assert!(store.host_keys(None).unwrap().is_empty());
        });
    }
}
