//! Credentials of the vault: their clear metadata and their sealed secret fields. Nothing here
//! sees a plaintext secret; sealing and opening is `crate::vault`'s.

use std::collections::BTreeMap;

use super::sql::{Row, params};
use anyhow::Context as _;

use super::{Store, now};

/// One stored credential, without its secret fields.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialRow {
    /// Credential name (unique).
    pub name: String,
    /// Kind (`basic`, `bearer`, …).
    pub kind: String,
    /// Destination patterns it may be sent to.
    pub bindings: Vec<String>,
    /// Packs allowed to use it (empty, with nothing suspended: any pack granted the
    /// destination).
    pub packs: Vec<String>,
    /// Packs it was limited to that were removed or replaced by another vendor's pack: the
    /// credential stays limited (usable by none of them) until the operator scopes it again.
    pub suspended_packs: Vec<String>,
    /// Non-secret fields, in clear.
    pub public: BTreeMap<String, String>,
    /// When first set (RFC 3339).
    pub created_at: String,
    /// When last replaced (RFC 3339).
    pub updated_at: String,
}

/// One secret field, sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedField {
    /// Field name (`password`, `token`, …).
    pub field: String,
    /// The 24-byte XChaCha20 nonce.
    pub nonce: Vec<u8>,
    /// Ciphertext with its tag.
    pub ciphertext: Vec<u8>,
}

const COLUMNS: &str =
    "name, kind, bindings, packs, public, created_at, updated_at, suspended_packs";

fn credential_row(row: &Row) -> anyhow::Result<CredentialRow> {
    Ok(CredentialRow {
        name: row.get(0)?,
        kind: row.get(1)?,
        bindings: row.json(2)?,
        packs: row.json(3)?,
        public: row.json(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        suspended_packs: row.json(7)?,
    })
}

impl CredentialRow {
    /// Whether pack `pack` may use this credential (as far as its pack list goes).
    pub fn admits_pack(&self, pack: &str) -> bool {
        if self.packs.is_empty() && self.suspended_packs.is_empty() {
            return true;
        }
        self.packs.iter().any(|p| p == pack)
    }
}

/// A sealed OAuth2 access token kept in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredToken {
    /// The credential it was obtained with.
    pub credential: String,
    /// The sealed fingerprint and token.
    pub sealed: SealedField,
    /// End of life (Unix ms).
    pub expires_at: i64,
}

/// The field name sealed tokens use as associated data.
pub const TOKEN_FIELD: &str = "oauth-access-token";

impl Store {
    /// Stores `credential` with its sealed fields, replacing any credential of the same name
    /// (its old secret fields are deleted). Returns the stored row and whether it replaced one.
    pub fn put_credential(
        &self,
        credential: &CredentialRow,
        sealed: &[SealedField],
    ) -> anyhow::Result<(CredentialRow, bool)> {
        let now = now();
        self.write(|tx| {
            let created_at: Option<String> = tx.query_opt(
                "SELECT created_at FROM credentials WHERE name = ?1",
                params![credential.name],
                |row| row.get(0),
            )?;
            let replaced = created_at.is_some();
            let stored = CredentialRow {
                created_at: created_at.unwrap_or_else(|| now.clone()),
                updated_at: now.clone(),
                ..credential.clone()
            };
            tx.execute(
                "DELETE FROM credential_secrets WHERE credential = ?1",
                params![stored.name],
            )?;
            tx.execute(
            "INSERT INTO credentials (name, kind, bindings, packs, public, created_at, updated_at,
               suspended_packs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, bindings = excluded.bindings,
               packs = excluded.packs, public = excluded.public, updated_at = excluded.updated_at,
               suspended_packs = excluded.suspended_packs",
            params![
                stored.name,
                stored.kind,
                serde_json::to_string(&stored.bindings)?,
                serde_json::to_string(&stored.packs)?,
                serde_json::to_string(&stored.public)?,
                stored.created_at,
                stored.updated_at,
                serde_json::to_string(&stored.suspended_packs)?,
            ],
        )?;
            // A token obtained with the old secret must not outlive it.
            tx.execute(
                "DELETE FROM oauth_tokens WHERE credential = ?1",
                params![stored.name],
            )?;
            for field in sealed {
                tx.execute(
                    "INSERT INTO credential_secrets (credential, field, nonce, ciphertext)
                 VALUES (?1, ?2, ?3, ?4)",
                    params![stored.name, field.field, field.nonce, field.ciphertext],
                )?;
            }
            Ok((stored, replaced))
        })
        .with_context(|| format!("storing credential {}", credential.name))
    }

    /// The credential called `name`, if any.
    pub fn credential(&self, name: &str) -> anyhow::Result<Option<CredentialRow>> {
        let sql = format!("SELECT {COLUMNS} FROM credentials WHERE name = ?1");
        self.conn(|conn| conn.query_opt(&sql, params![name], credential_row))
    }

    /// Every credential, by name.
    pub fn credentials(&self) -> anyhow::Result<Vec<CredentialRow>> {
        let sql = format!("SELECT {COLUMNS} FROM credentials ORDER BY name");
        self.conn(|conn| conn.query_map(&sql, params![], credential_row))
    }

    /// The sealed secret fields of credential `name`, by field.
    pub fn credential_secrets(&self, name: &str) -> anyhow::Result<Vec<SealedField>> {
        self.conn(|conn| {
            conn.query_map(
                "SELECT field, nonce, ciphertext FROM credential_secrets
                 WHERE credential = ?1 ORDER BY field",
                params![name],
                |row| {
                    Ok(SealedField {
                        field: row.get(0)?,
                        nonce: row.get(1)?,
                        ciphertext: row.get(2)?,
                    })
                },
            )
        })
    }

    /// Sets the packs credential `name` is limited to (empty: any pack), clearing suspended
    /// ones; the row as stored, or `None` when there is no such credential.
    pub fn scope_credential(
        &self,
        name: &str,
        packs: &[String],
    ) -> anyhow::Result<Option<CredentialRow>> {
        let packs = serde_json::to_string(packs)?;
        let now = now();
        let changed = self.write(|tx| {
            tx.execute(
                "UPDATE credentials SET packs = ?2, suspended_packs = '[]', updated_at = ?3
                 WHERE name = ?1",
                params![name, packs, now],
            )
        })?;
        if changed == 0 {
            return Ok(None);
        }
        self.credential(name)
    }

    /// Suspends pack `pack` in every credential limited to it (the pack was removed, or
    /// replaced by another vendor's): those credentials stay limited and become unusable by a
    /// pack of that name until scoped again. The names of the credentials changed.
    pub fn suspend_pack_in_credentials(&self, pack: &str) -> anyhow::Result<Vec<String>> {
        self.write(|tx| {
            let rows: Vec<(String, String, String)> = tx.query_map(
                "SELECT name, packs, suspended_packs FROM credentials",
                params![],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )?;
            let mut changed = Vec::new();
            for (name, packs, suspended) in rows {
                let mut packs: Vec<String> = serde_json::from_str(&packs)?;
                let mut suspended: Vec<String> = serde_json::from_str(&suspended)?;
                if !packs.iter().any(|p| p == pack) {
                    continue;
                }
                packs.retain(|p| p != pack);
                if !suspended.iter().any(|p| p == pack) {
                    suspended.push(pack.to_owned());
                }
                tx.execute(
                    "UPDATE credentials SET packs = ?2, suspended_packs = ?3 WHERE name = ?1",
                    params![
                        name,
                        serde_json::to_string(&packs)?,
                        serde_json::to_string(&suspended)?
                    ],
                )?;
                changed.push(name);
            }
            Ok(changed)
        })
    }

    /// A digest of every sealed value the store holds (credential fields and tokens): it
    /// changes whenever one is added, replaced or removed (each seal has a fresh nonce), so a
    /// process knows when the secrets it masks are out of date.
    pub fn secrets_generation(&self) -> anyhow::Result<[u8; 32]> {
        use sha2::{Digest as _, Sha256};
        let mut hash = Sha256::new();
        let rows = self.conn(|conn| {
            conn.query(
                "SELECT credential, field, nonce FROM credential_secrets
                 UNION ALL SELECT credential, '', nonce FROM oauth_tokens
                 ORDER BY 1, 2, 3",
                params![],
            )
        })?;
        for row in rows {
            let credential: String = row.get(0)?;
            let field: String = row.get(1)?;
            let nonce: Vec<u8> = row.get(2)?;
            for part in [credential.as_bytes(), field.as_bytes(), nonce.as_slice()] {
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part);
            }
        }
        Ok(hash.finalize().into())
    }

    /// Keeps `token` (sealed) for credential `credential`, replacing its previous one, and
    /// drops tokens whose life ended before `now_ms`.
    pub fn put_token(&self, token: &StoredToken, now_ms: i64) -> anyhow::Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM oauth_tokens WHERE expires_at <= ?1",
                params![now_ms],
            )?;
            // The credential may have been removed since the token was obtained.
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM credentials WHERE name = ?1",
                    params![token.credential],
                    |_| Ok(()),
                )?
                .is_some();
            if exists {
                tx.execute(
                    "INSERT INTO oauth_tokens (credential, nonce, ciphertext, expires_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (credential) DO UPDATE SET nonce = excluded.nonce,
                       ciphertext = excluded.ciphertext, expires_at = excluded.expires_at",
                    params![
                        token.credential,
                        token.sealed.nonce,
                        token.sealed.ciphertext,
                        token.expires_at
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// The stored tokens still alive at `now_ms` (all of them when `credential` is `None`).
    pub fn tokens(
        &self,
        credential: Option<&str>,
        now_ms: i64,
    ) -> anyhow::Result<Vec<StoredToken>> {
        self.conn(|conn| {
            conn.query_map(
                "SELECT credential, nonce, ciphertext, expires_at FROM oauth_tokens
             WHERE expires_at > ?1 AND (CAST(?2 AS TEXT) IS NULL OR credential = ?2) ORDER BY credential",
                params![now_ms, credential],
                |row| {
                    Ok(StoredToken {
                        credential: row.get(0)?,
                        sealed: SealedField {
                            field: TOKEN_FIELD.to_owned(),
                            nonce: row.get(1)?,
                            ciphertext: row.get(2)?,
                        },
                        expires_at: row.get(3)?,
                    })
                },
            )
        })
    }

    /// Forgets the stored token of `credential` (the API refused it).
    pub fn forget_token(&self, credential: &str) -> anyhow::Result<()> {
        self.conn(|conn| {
            conn.execute(
                "DELETE FROM oauth_tokens WHERE credential = ?1",
                params![credential],
            )
        })?;
        Ok(())
    }

    /// Deletes credential `name` and its secret fields; whether it existed.
    pub fn remove_credential(&self, name: &str) -> anyhow::Result<bool> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM credential_secrets WHERE credential = ?1",
                params![name],
            )?;
            tx.execute(
                "DELETE FROM oauth_tokens WHERE credential = ?1",
                params![name],
            )?;
            Ok(tx.execute("DELETE FROM credentials WHERE name = ?1", params![name])? > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str) -> CredentialRow {
        CredentialRow {
            name: name.into(),
            kind: "bearer".into(),
            bindings: vec!["api.example.com".into()],
            packs: vec![],
            suspended_packs: vec![],
            public: BTreeMap::new(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn sealed(field: &str, byte: u8) -> SealedField {
        SealedField {
            field: field.into(),
            nonce: vec![byte; 24],
            ciphertext: vec![byte; 40],
        }
    }

    #[test]
    fn replacing_a_credential_keeps_created_at_and_drops_old_secrets() {
        crate::store::testing::each_backend(|store| {
            let (first, replaced) = store
                .put_credential(&row("api"), &[sealed("token", 1), sealed("other", 2)])
                .unwrap();
            assert!(!replaced);
            let (second, replaced) = store
                .put_credential(&row("api"), &[sealed("token", 3)])
                .unwrap();
            assert!(replaced);
            assert_eq!(second.created_at, first.created_at);
            assert_eq!(
                store.credential_secrets("api").unwrap(),
                vec![sealed("token", 3)]
            );
            assert_eq!(store.credentials().unwrap().len(), 1);
        });
    }

    #[test]
    fn removing_a_credential_deletes_its_secrets() {
        crate::store::testing::each_backend(|store| {
            store
                .put_credential(&row("api"), &[sealed("token", 1)])
                .unwrap();
            assert!(store.remove_credential("api").unwrap());
            assert!(!store.remove_credential("api").unwrap());
            assert!(store.credential("api").unwrap().is_none());
            assert!(store.credential_secrets("api").unwrap().is_empty());
        });
    }
}
