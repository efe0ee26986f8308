//! Grants of packs, kept as canonical grant texts (parsed by `capabilities::grants`), and the
//! SSH host keys the host trusts.

use rusqlite::{TransactionBehavior, params};

use super::{Store, now};

/// One stored grant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GrantRow {
    /// The pack holding it.
    pub pack: String,
    /// Canonical text (`http:https://api.example.com:443`).
    pub grant: String,
    /// When granted (RFC 3339).
    pub granted_at: String,
}

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
    /// The grants of `pack`, sorted.
    pub fn grants(&self, pack: &str) -> anyhow::Result<Vec<GrantRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT pack, grant_text, granted_at FROM grants WHERE pack = ?1 ORDER BY grant_text",
        )?;
        let rows = stmt.query_map([pack], |row| {
            Ok(GrantRow {
                pack: row.get(0)?,
                grant: row.get(1)?,
                granted_at: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds `grants` to `pack`; returns those that were new.
    pub fn add_grants(&self, pack: &str, grants: &[String]) -> anyhow::Result<Vec<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now();
        let mut added = Vec::new();
        for grant in grants {
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO grants (pack, grant_text, granted_at) VALUES (?1, ?2, ?3)",
                params![pack, grant, now],
            )?;
            if inserted > 0 {
                added.push(grant.clone());
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// Removes `grants` from `pack` (all of them when `grants` is `None`); returns those removed.
    pub fn remove_grants(
        &self,
        pack: &str,
        grants: Option<&[String]>,
    ) -> anyhow::Result<Vec<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Vec<String> = {
            let mut stmt =
                tx.prepare("SELECT grant_text FROM grants WHERE pack = ?1 ORDER BY grant_text")?;
            stmt.query_map([pack], |row| row.get(0))?
                .collect::<Result<_, _>>()?
        };
        let doomed: Vec<String> = match grants {
            None => existing,
            Some(wanted) => existing
                .into_iter()
                .filter(|g| wanted.contains(g))
                .collect(),
        };
        for grant in &doomed {
            tx.execute(
                "DELETE FROM grants WHERE pack = ?1 AND grant_text = ?2",
                params![pack, grant],
            )?;
        }
        tx.commit()?;
        Ok(doomed)
    }

    /// The trusted keys of `host`:`port` (all hosts when `host` is `None`).
    pub fn host_keys(&self, host: Option<(&str, u16)>) -> anyhow::Result<Vec<HostKeyRow>> {
        let conn = self.conn();
        let columns = "host, port, algorithm, public_key, fingerprint, added_at, added_by";
        let map = |row: &rusqlite::Row<'_>| {
            Ok(HostKeyRow {
                host: row.get(0)?,
                port: u16::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                algorithm: row.get(2)?,
                public_key: row.get(3)?,
                fingerprint: row.get(4)?,
                added_at: row.get(5)?,
                added_by: row.get(6)?,
            })
        };
        let rows = match host {
            Some((host, port)) => {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {columns} FROM host_keys WHERE host = ?1 AND port = ?2 ORDER BY added_at"
                ))?;
                stmt.query_map(params![host, i64::from(port)], map)?
                    .collect::<Result<Vec<_>, _>>()?
            }
            None => {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {columns} FROM host_keys ORDER BY host, port, added_at"
                ))?;
                stmt.query_map([], map)?.collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok(rows)
    }

    /// Records a trusted key (no-op when already recorded); returns whether it was new.
    pub fn add_host_key(&self, key: &HostKeyRow) -> anyhow::Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO host_keys
             (host, port, algorithm, public_key, fingerprint, added_at, added_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                key.host,
                i64::from(key.port),
                key.algorithm,
                key.public_key,
                key.fingerprint,
                now(),
                key.added_by
            ],
        )?;
        tx.commit()?;
        Ok(inserted > 0)
    }

    /// Forgets the keys of `host`:`port` (every port when `port` is `None`); how many.
    pub fn forget_host_keys(&self, host: &str, port: Option<u16>) -> anyhow::Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let removed = match port {
            Some(port) => tx.execute(
                "DELETE FROM host_keys WHERE host = ?1 AND port = ?2",
                params![host, i64::from(port)],
            )?,
            None => tx.execute("DELETE FROM host_keys WHERE host = ?1", [host])?,
        };
        tx.commit()?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_added_once_and_revoked_selectively() {
        let store = Store::in_memory().unwrap();
        let a = "http:https://a.example.com".to_owned();
        let b = "ssh:inventory".to_owned();
        assert_eq!(
            store
                .add_grants("netdev", &[a.clone(), b.clone()])
                .unwrap()
                .len(),
            2
        );
        assert!(
            store
                .add_grants("netdev", std::slice::from_ref(&a))
                .unwrap()
                .is_empty()
        );
        assert!(store.grants("other").unwrap().is_empty());
        assert_eq!(
            store
                .remove_grants("netdev", Some(std::slice::from_ref(&b)))
                .unwrap(),
            vec![b]
        );
        let left: Vec<String> = store
            .grants("netdev")
            .unwrap()
            .into_iter()
            .map(|g| g.grant)
            .collect();
        assert_eq!(left, vec![a.clone()]);
        assert_eq!(store.remove_grants("netdev", None).unwrap(), vec![a]);
    }

    #[test]
    fn host_keys_are_kept_per_host_and_port() {
        let store = Store::in_memory().unwrap();
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
    }
}
