//! The vendor keys an operator trusts to sign packs, and the home's settings (key/value; today
//! `require_signed`).

use super::sql::params;

use super::{Store, now};

/// One trusted vendor key.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrustedKey {
    /// The name the operator gave it (`acme`).
    pub name: String,
    /// The ed25519 public key, base64.
    pub public_key: String,
    /// When it was added (RFC 3339).
    pub added_at: String,
}

impl Store {
    /// Trusts `public_key` as `name`. Fails when the name or the key is already trusted.
    pub fn add_trusted_key(&self, name: &str, public_key: &str) -> anyhow::Result<()> {
        let added_at = now();
        self.conn(|conn| {
            conn.execute(
                "INSERT INTO trusted_keys (name, public_key, added_at) VALUES (?1, ?2, ?3)",
                params![name, public_key, added_at],
            )
        })?;
        Ok(())
    }

    /// Every trusted key, by name.
    pub fn trusted_keys(&self) -> anyhow::Result<Vec<TrustedKey>> {
        self.conn(|conn| {
            conn.query_map(
                "SELECT name, public_key, added_at FROM trusted_keys ORDER BY name",
                params![],
                |row| {
                    Ok(TrustedKey {
                        name: row.get(0)?,
                        public_key: row.get(1)?,
                        added_at: row.get(2)?,
                    })
                },
            )
        })
    }

    /// The name `public_key` is trusted under, if it is.
    pub fn trusted_key_name(&self, public_key: &str) -> anyhow::Result<Option<String>> {
        self.conn(|conn| {
            conn.query_opt(
                "SELECT name FROM trusted_keys WHERE public_key = ?1",
                params![public_key],
                |row| row.get(0),
            )
        })
    }

    /// Stops trusting the key called `name`; returns whether it was trusted.
    pub fn remove_trusted_key(&self, name: &str) -> anyhow::Result<bool> {
        let removed = self
            .conn(|conn| conn.execute("DELETE FROM trusted_keys WHERE name = ?1", params![name]))?;
        Ok(removed > 0)
    }

    /// The setting `key`, if set.
    pub fn setting(&self, key: &str) -> anyhow::Result<Option<String>> {
        self.conn(|conn| {
            conn.query_opt(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
        })
    }

    /// Sets `key` to `value`.
    pub fn set_setting(&self, key: &str, value: &str) -> anyhow::Result<()> {
        self.conn(|conn| {
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
        })?;
        Ok(())
    }
}
