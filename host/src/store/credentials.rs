//! Credentials of the vault: their clear metadata and their sealed secret fields. Nothing here
//! sees a plaintext secret; sealing and opening is `crate::vault`'s.

use std::collections::BTreeMap;

use anyhow::Context as _;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

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
    /// Packs allowed to use it (empty: any pack granted the destination).
    pub packs: Vec<String>,
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

const COLUMNS: &str = "name, kind, bindings, packs, public, created_at, updated_at";

fn credential_row(row: &Row<'_>) -> rusqlite::Result<CredentialRow> {
    fn json<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
        let text: String = row.get(idx)?;
        serde_json::from_str(&text).map_err(|err| {
            rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, err.into())
        })
    }
    Ok(CredentialRow {
        name: row.get(0)?,
        kind: row.get(1)?,
        bindings: json(row, 2)?,
        packs: json(row, 3)?,
        public: json(row, 4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

impl Store {
    /// Stores `credential` with its sealed fields, replacing any credential of the same name
    /// (its old secret fields are deleted). Returns the stored row and whether it replaced one.
    pub fn put_credential(
        &self,
        credential: &CredentialRow,
        sealed: &[SealedField],
    ) -> anyhow::Result<(CredentialRow, bool)> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let created_at: Option<String> = tx
            .query_row(
                "SELECT created_at FROM credentials WHERE name = ?1",
                [&credential.name],
                |row| row.get(0),
            )
            .optional()?;
        let replaced = created_at.is_some();
        let now = now();
        let stored = CredentialRow {
            created_at: created_at.unwrap_or_else(|| now.clone()),
            updated_at: now,
            ..credential.clone()
        };
        tx.execute(
            "DELETE FROM credential_secrets WHERE credential = ?1",
            [&stored.name],
        )?;
        tx.execute(
            "INSERT INTO credentials (name, kind, bindings, packs, public, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, bindings = excluded.bindings,
               packs = excluded.packs, public = excluded.public, updated_at = excluded.updated_at",
            params![
                stored.name,
                stored.kind,
                serde_json::to_string(&stored.bindings)?,
                serde_json::to_string(&stored.packs)?,
                serde_json::to_string(&stored.public)?,
                stored.created_at,
                stored.updated_at,
            ],
        )?;
        for field in sealed {
            tx.execute(
                "INSERT INTO credential_secrets (credential, field, nonce, ciphertext)
                 VALUES (?1, ?2, ?3, ?4)",
                params![stored.name, field.field, field.nonce, field.ciphertext],
            )?;
        }
        tx.commit()
            .with_context(|| format!("storing credential {}", stored.name))?;
        Ok((stored, replaced))
    }

    /// The credential called `name`, if any.
    pub fn credential(&self, name: &str) -> anyhow::Result<Option<CredentialRow>> {
        let conn = self.conn();
        let sql = format!("SELECT {COLUMNS} FROM credentials WHERE name = ?1");
        Ok(conn.query_row(&sql, [name], credential_row).optional()?)
    }

    /// Every credential, by name.
    pub fn credentials(&self) -> anyhow::Result<Vec<CredentialRow>> {
        let conn = self.conn();
        let sql = format!("SELECT {COLUMNS} FROM credentials ORDER BY name");
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], credential_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The sealed secret fields of credential `name`, by field.
    pub fn credential_secrets(&self, name: &str) -> anyhow::Result<Vec<SealedField>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT field, nonce, ciphertext FROM credential_secrets
             WHERE credential = ?1 ORDER BY field",
        )?;
        let rows = stmt.query_map([name], |row| {
            Ok(SealedField {
                field: row.get(0)?,
                nonce: row.get(1)?,
                ciphertext: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes credential `name` and its secret fields; whether it existed.
    pub fn remove_credential(&self, name: &str) -> anyhow::Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM credential_secrets WHERE credential = ?1",
            [name],
        )?;
        let removed = tx.execute("DELETE FROM credentials WHERE name = ?1", [name])? > 0;
        tx.commit()?;
        Ok(removed)
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
        let store = Store::in_memory().unwrap();
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
    }

    #[test]
    fn removing_a_credential_deletes_its_secrets() {
        let store = Store::in_memory().unwrap();
        store
            .put_credential(&row("api"), &[sealed("token", 1)])
            .unwrap();
        assert!(store.remove_credential("api").unwrap());
        assert!(!store.remove_credential("api").unwrap());
        assert!(store.credential("api").unwrap().is_none());
        assert!(store.credential_secrets("api").unwrap().is_empty());
    }
}
