//! API tokens: who may call the service's HTTP API, with which role. Only a token's SHA-256 is
//! kept; the token itself is shown once, when created.

use super::sql::{Row, params};

use super::{Store, now_ms};

/// One API token, without the token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiTokenRow {
    /// Unique name (who or what it is for).
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Expires (Unix ms), if it does.
    pub expires_at: Option<i64>,
    /// Last used (Unix ms), if ever.
    pub last_used_at: Option<i64>,
}

fn token_row(row: &Row) -> anyhow::Result<ApiTokenRow> {
    Ok(ApiTokenRow {
        name: row.get(0)?,
        role: row.get(1)?,
        created_at: row.get(2)?,
        expires_at: row.get(3)?,
        last_used_at: row.get(4)?,
    })
}

const COLUMNS: &str = "name, role, created_at, expires_at, last_used_at";

impl Store {
    /// Stores a new token `name` with the SHA-256 `hash` of its secret; false when the name is
    /// taken.
    pub fn put_api_token(
        &self,
        name: &str,
        role: &str,
        hash: &str,
        expires_at: Option<i64>,
    ) -> anyhow::Result<bool> {
        let inserted = self.write(|tx| {
            tx.execute(
                "INSERT INTO api_tokens (name, role, hash, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                params![name, role, hash, now_ms(), expires_at],
            )
        })?;
        Ok(inserted > 0)
    }

    /// The token whose secret hashes to `hash`, noting its use at `now`.
    pub fn use_api_token(&self, hash: &str, now: i64) -> anyhow::Result<Option<ApiTokenRow>> {
        self.conn(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE hash = ?1");
            let row = conn.query_opt(&sql, params![hash], token_row)?;
            if let Some(row) = &row {
                // Written at most once a minute per token: every API call must not be a write.
                conn.execute(
                    "UPDATE api_tokens SET last_used_at = ?2
                     WHERE name = ?1 AND (last_used_at IS NULL OR last_used_at < CAST(?2 AS BIGINT) - 60000)",
                    params![row.name, now],
                )?;
            }
            Ok(row)
        })
    }

    /// Every token, by name.
    pub fn api_tokens(&self) -> anyhow::Result<Vec<ApiTokenRow>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens ORDER BY name");
        self.conn(|conn| conn.query_map(&sql, params![], token_row))
    }

    /// Deletes token `name`; whether it existed.
    pub fn revoke_api_token(&self, name: &str) -> anyhow::Result<bool> {
        let removed = self
            .conn(|conn| conn.execute("DELETE FROM api_tokens WHERE name = ?1", params![name]))?;
        Ok(removed > 0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_found_by_hash_listed_and_revoked() {
        crate::store::testing::each_backend(|store| {
            assert!(store.put_api_token("ci", "operator", "aa", None).unwrap());
            assert!(
                !store.put_api_token("ci", "admin", "bb", None).unwrap(),
                "name taken"
            );
            let found = store.use_api_token("aa", 1_000_000).unwrap().unwrap();
            assert_eq!(
                (found.name.as_str(), found.role.as_str()),
                ("ci", "operator")
            );
            assert!(store.use_api_token("bb", 1).unwrap().is_none());
            assert_eq!(store.api_tokens().unwrap()[0].last_used_at, Some(1_000_000));
            assert!(store.revoke_api_token("ci").unwrap());
            assert!(store.use_api_token("aa", 2).unwrap().is_none());
            assert!(!store.revoke_api_token("ci").unwrap());
        });
    }
}
