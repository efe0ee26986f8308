//! Grants of packs, kept as canonical grant texts (parsed by `policy::grants`).

use super::sql::params;

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

impl Store {
    /// The grants of `pack`, sorted.
    pub fn grants(&self, pack: &str) -> anyhow::Result<Vec<GrantRow>> {
        self.conn(|conn| {
            conn.query_map(
                "SELECT pack, grant_text, granted_at FROM grants WHERE pack = ?1 ORDER BY grant_text",
                params![pack],
                |row| {
                    Ok(GrantRow {
                        pack: row.get(0)?,
                        grant: row.get(1)?,
                        granted_at: row.get(2)?,
                    })
                },
            )
        })
    }

    /// Adds `grants` to `pack`; returns those that were new.
    pub fn add_grants(&self, pack: &str, grants: &[String]) -> anyhow::Result<Vec<String>> {
        let now = now();
        self.write(|tx| {
            let mut added = Vec::new();
            for grant in grants {
                let inserted = tx.execute(
                    "INSERT INTO grants (pack, grant_text, granted_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![pack, grant, now],
                )?;
                if inserted > 0 {
                    added.push(grant.clone());
                }
            }
            Ok(added)
        })
    }

    /// Removes `grants` from `pack` (all of them when `grants` is `None`); returns those removed.
    pub fn remove_grants(
        &self,
        pack: &str,
        grants: Option<&[String]>,
    ) -> anyhow::Result<Vec<String>> {
        self.write(|tx| {
            let existing: Vec<String> = tx.query_map(
                "SELECT grant_text FROM grants WHERE pack = ?1 ORDER BY grant_text",
                params![pack],
                |row| row.get(0),
            )?;
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
            Ok(doomed)
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn grants_are_added_once_and_revoked_selectively() {
        crate::store::testing::each_backend(|store| {
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
        });
    }
}
