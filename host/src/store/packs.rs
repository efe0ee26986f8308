//! Installed packs and their compiled artifacts.

use super::sql::{Row, params};

use super::{Store, now};

/// One installed pack.
#[derive(Debug, Clone, PartialEq)]
pub struct PackRow {
    /// Pack name (unique).
    pub name: String,
    /// Version as the pack declares it.
    pub version: String,
    /// Vendor.
    pub vendor: String,
    /// Description.
    pub description: String,
    /// sha256 of the `.wasm`, hex.
    pub digest: String,
    /// Size of the `.wasm` in bytes.
    pub size: i64,
    /// The manifest as JSON.
    pub manifest: String,
    /// Imported interfaces as a JSON array.
    pub imports: String,
    /// Path the pack was added from.
    pub source: String,
    /// When first installed (RFC 3339).
    pub installed_at: String,
    /// When last replaced (RFC 3339).
    pub updated_at: String,
    /// The public key (base64) whose signature the file carried when added; `None`: unsigned.
    pub signer: Option<String>,
}

/// One compiled artifact on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactRow {
    /// Digest of the pack it was compiled from.
    pub digest: String,
    /// Engine configuration it was compiled for.
    pub engine_key: String,
    /// sha256 of the artifact file, checked before every load.
    pub artifact_sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// The file's identity when it was written or last verified (device, inode, size, change
    /// time): while it has it, it is loaded without being hashed again.
    pub file_identity: Option<String>,
}

const PACK_COLUMNS: &str = "name, version, vendor, description, digest, size, manifest, imports, \
                            source, installed_at, updated_at, signer";

fn pack_row(row: &Row) -> anyhow::Result<PackRow> {
    Ok(PackRow {
        name: row.get(0)?,
        version: row.get(1)?,
        vendor: row.get(2)?,
        description: row.get(3)?,
        digest: row.get(4)?,
        size: row.get(5)?,
        manifest: row.get(6)?,
        imports: row.get(7)?,
        source: row.get(8)?,
        installed_at: row.get(9)?,
        updated_at: row.get(10)?,
        signer: row.get(11)?,
    })
}

impl Store {
    /// The pack called `name`, if installed.
    pub fn pack(&self, name: &str) -> anyhow::Result<Option<PackRow>> {
        let sql = format!("SELECT {PACK_COLUMNS} FROM packs WHERE name = ?1");
        self.conn(|conn| conn.query_opt(&sql, params![name], pack_row))
    }

    /// Every installed pack, by name.
    pub fn packs(&self) -> anyhow::Result<Vec<PackRow>> {
        let sql = format!("SELECT {PACK_COLUMNS} FROM packs ORDER BY name");
        self.conn(|conn| conn.query_map(&sql, params![], pack_row))
    }

    /// Inserts or replaces a pack, keeping its first installation time. Returns the row as stored.
    pub fn put_pack(&self, pack: &PackRow) -> anyhow::Result<PackRow> {
        let now = now();
        let select = format!("SELECT {PACK_COLUMNS} FROM packs WHERE name = ?1");
        self.write(|tx| {
            tx.execute(
            "INSERT INTO packs (name, version, vendor, description, digest, size, manifest, imports,
                                source, installed_at, updated_at, signer)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)
             ON CONFLICT (name) DO UPDATE SET
                version = excluded.version, vendor = excluded.vendor,
                description = excluded.description, digest = excluded.digest,
                size = excluded.size, manifest = excluded.manifest, imports = excluded.imports,
                source = excluded.source, updated_at = excluded.updated_at,
                signer = excluded.signer",
            params![
                pack.name,
                pack.version,
                pack.vendor,
                pack.description,
                pack.digest,
                pack.size,
                pack.manifest,
                pack.imports,
                pack.source,
                now,
                pack.signer
            ],
        )?;
            tx.query_row(&select, params![pack.name], pack_row)
        })
    }

    /// Removes the pack called `name`; returns whether it was installed.
    pub fn remove_pack(&self, name: &str) -> anyhow::Result<bool> {
        self.write(|tx| {
            let removed = tx.execute("DELETE FROM packs WHERE name = ?1", params![name])? > 0;
            // A pack added again later under the same name must be granted again.
            tx.execute("DELETE FROM grants WHERE pack = ?1", params![name])?;
            Ok(removed)
        })
    }

    /// How many installed packs use the file with `digest`.
    pub fn packs_with_digest(&self, digest: &str) -> anyhow::Result<i64> {
        self.conn(|conn| {
            conn.query_one(
                "SELECT count(*) FROM packs WHERE digest = ?1",
                params![digest],
            )
        })
    }

    /// The artifact of `digest` compiled for `engine_key`, if recorded.
    pub fn artifact(&self, digest: &str, engine_key: &str) -> anyhow::Result<Option<ArtifactRow>> {
        self.conn(|conn| {
            conn.query_opt(
                "SELECT digest, engine_key, artifact_sha256, size, file_identity
                 FROM compiled_artifacts WHERE digest = ?1 AND engine_key = ?2",
                params![digest, engine_key],
                |row| {
                    Ok(ArtifactRow {
                        digest: row.get(0)?,
                        engine_key: row.get(1)?,
                        artifact_sha256: row.get(2)?,
                        size: row.get(3)?,
                        file_identity: row.get(4)?,
                    })
                },
            )
        })
    }

    /// Records (or replaces) an artifact.
    pub fn put_artifact(&self, artifact: &ArtifactRow) -> anyhow::Result<()> {
        let created_at = now();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO compiled_artifacts
                    (digest, engine_key, artifact_sha256, size, created_at, file_identity)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (digest, engine_key) DO UPDATE SET
                    artifact_sha256 = excluded.artifact_sha256, size = excluded.size,
                    created_at = excluded.created_at, file_identity = excluded.file_identity",
                params![
                    artifact.digest,
                    artifact.engine_key,
                    artifact.artifact_sha256,
                    artifact.size,
                    created_at,
                    artifact.file_identity
                ],
            )
        })?;
        Ok(())
    }

    /// Records the identity of an artifact's file after its bytes were verified.
    pub fn set_artifact_identity(
        &self,
        digest: &str,
        engine_key: &str,
        identity: &str,
    ) -> anyhow::Result<()> {
        self.conn(|conn| {
            conn.execute(
                "UPDATE compiled_artifacts SET file_identity = ?3 WHERE digest = ?1 AND engine_key = ?2",
                params![digest, engine_key, identity],
            )
        })?;
        Ok(())
    }

    /// Forgets every artifact of `digest`; returns their engine keys so the files can go too.
    pub fn remove_artifacts(&self, digest: &str) -> anyhow::Result<Vec<String>> {
        self.write(|tx| {
            let keys: Vec<String> = tx.query_map(
                "SELECT engine_key FROM compiled_artifacts WHERE digest = ?1",
                params![digest],
                |row| row.get(0),
            )?;
            tx.execute(
                "DELETE FROM compiled_artifacts WHERE digest = ?1",
                params![digest],
            )?;
            Ok(keys)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, version: &str, digest: &str) -> PackRow {
        PackRow {
            name: name.into(),
            version: version.into(),
            vendor: "orch".into(),
            description: "d".into(),
            digest: digest.into(),
            size: 10,
            manifest: "{}".into(),
            imports: "[]".into(),
            source: "/tmp/x.wasm".into(),
            installed_at: String::new(),
            updated_at: String::new(),
            signer: None,
        }
    }

    #[test]
    fn replacing_a_pack_keeps_its_first_install_time() {
        crate::store::testing::each_backend(|store| {
            let first = store.put_pack(&row("text", "0.1.0", "aa")).unwrap();
            let second = store.put_pack(&row("text", "0.2.0", "bb")).unwrap();
            assert_eq!(second.version, "0.2.0");
            assert_eq!(second.installed_at, first.installed_at);
            assert_eq!(store.packs().unwrap().len(), 1);
            assert_eq!(store.packs_with_digest("aa").unwrap(), 0);
            assert!(store.remove_pack("text").unwrap());
            assert!(!store.remove_pack("text").unwrap());
        });
    }

    #[test]
    fn artifacts_are_keyed_by_digest_and_engine() {
        crate::store::testing::each_backend(|store| {
            let artifact = ArtifactRow {
                digest: "aa".into(),
                engine_key: "k1".into(),
                artifact_sha256: "ff".into(),
                size: 3,
                file_identity: None,
            };
            store.put_artifact(&artifact).unwrap();
            assert_eq!(store.artifact("aa", "k1").unwrap(), Some(artifact));
            assert_eq!(store.artifact("aa", "k2").unwrap(), None);
            assert_eq!(
                store.remove_artifacts("aa").unwrap(),
                vec!["k1".to_string()]
            );
            assert_eq!(store.artifact("aa", "k1").unwrap(), None);
        });
    }
}
