//! Web console sessions: a browser signed in with an API token holds a random session secret
//! in a cookie; the store keeps its SHA-256, the hash of the token (so revoking the token ends
//! its sessions), the session's CSRF token and when it expires.

use super::sql::params;

use super::{Store, now_ms};

/// One session, found by its secret's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSessionRow {
    /// SHA-256 of the API token signed in with.
    pub token_hash: String,
    /// The CSRF token every state-changing request of the session carries.
    pub csrf: String,
    /// Expiry (Unix ms).
    pub expires_at: i64,
}

impl Store {
    /// Records a session; expired sessions are removed on the way.
    pub fn put_console_session(&self, hash: &str, row: &ConsoleSessionRow) -> anyhow::Result<()> {
        let now = now_ms();
        self.conn(|conn| {
            conn.execute(
                "DELETE FROM console_sessions WHERE expires_at <= ?1",
                params![now],
            )?;
            conn.execute(
                "INSERT INTO console_sessions (hash, token_hash, csrf, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![hash, row.token_hash, row.csrf, now, row.expires_at],
            )?;
            Ok(())
        })
    }

    /// The live session whose secret hashes to `hash`.
    pub fn console_session(&self, hash: &str) -> anyhow::Result<Option<ConsoleSessionRow>> {
        self.conn(|conn| {
            conn.query_opt(
                "SELECT token_hash, csrf, expires_at FROM console_sessions
                 WHERE hash = ?1 AND expires_at > ?2",
                params![hash, now_ms()],
                |r| {
                    Ok(ConsoleSessionRow {
                        token_hash: r.get(0)?,
                        csrf: r.get(1)?,
                        expires_at: r.get(2)?,
                    })
                },
            )
        })
    }

    /// Ends a session.
    pub fn delete_console_session(&self, hash: &str) -> anyhow::Result<()> {
        self.conn(|conn| {
            conn.execute(
                "DELETE FROM console_sessions WHERE hash = ?1",
                params![hash],
            )
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_until_it_expires_or_ends() {
        crate::store::testing::each_backend(|store| {
            let live = ConsoleSessionRow {
                token_hash: "t".into(),
                csrf: "c".into(),
                expires_at: now_ms() + 60_000,
            };
            store.put_console_session("s1", &live).unwrap();
            let expired = ConsoleSessionRow {
                expires_at: now_ms() - 1,
                ..live.clone()
            };
            store.put_console_session("s2", &expired).unwrap();
            assert_eq!(store.console_session("s1").unwrap(), Some(live));
            assert_eq!(store.console_session("s2").unwrap(), None);
            store.delete_console_session("s1").unwrap();
            assert_eq!(store.console_session("s1").unwrap(), None);
        });
    }
}
