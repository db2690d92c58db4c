//! [`EmbeddedRevocationStore`]: revocations in a redb file (`revocations.redb` in the data
//! directory), for single-node deployments without Redis.
//!
//! Two tables, always changed together in one write transaction:
//! - `revoked`: `jti` → the token's `exp`;
//! - `expiry`: (`exp`, `jti`) → (), so pruning is a range scan, not a full one.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};

use super::RevocationStore;
use crate::error::StoreError;

const REVOKED: TableDefinition<'_, &str, u64> = TableDefinition::new("revoked");
const EXPIRY: TableDefinition<'_, (u64, &str), ()> = TableDefinition::new("expiry");

/// The file name inside the data directory.
const FILE: &str = "revocations.redb";

/// Revocations in an embedded redb database. Every change is a durable (fsynced) write
/// transaction, so an acknowledged revocation survives a crash right after the response.
pub struct EmbeddedRevocationStore {
    /// The open database; redb locks the file, so a second process cannot write it too.
    db: Database,
}

// === impl EmbeddedRevocationStore ===

impl EmbeddedRevocationStore {
    /// Opens (or creates) `revocations.redb` in `data_dir`, creating the directory if needed.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let db = Database::create(data_dir.join(FILE)).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(REVOKED).map_err(db_err)?;
        txn.open_table(EXPIRY).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }
}

impl RevocationStore for EmbeddedRevocationStore {
    fn load(&mut self, now: u64) -> Result<Vec<(String, u64)>, StoreError> {
        let pruned = self.prune(now)?;
        if pruned > 0 {
            tracing::debug!(pruned, "expired revocations deleted at load");
        }
        let txn = self.db.begin_read().map_err(db_err)?;
        let revoked = txn.open_table(REVOKED).map_err(db_err)?;
        let entries = revoked.iter().map_err(db_err)?;
        entries
            .map(|entry| {
                entry
                    .map(|(jti, exp)| (jti.value().to_owned(), exp.value()))
                    .map_err(db_err)
            })
            .collect()
    }

    fn insert(&mut self, jti: &str, exp: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        put(&txn, jti, exp)?;
        txn.commit().map_err(db_err)
    }

    fn prune(&mut self, now: u64) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let expired: Vec<(u64, String)> = {
            let expiry = txn.open_table(EXPIRY).map_err(db_err)?;
            let range = expiry.range::<(u64, &str)>(..(now, "")).map_err(db_err)?;
            range
                .map(|entry| {
                    entry
                        .map(|(k, _)| {
                            let (exp, jti) = k.value();
                            (exp, jti.to_owned())
                        })
                        .map_err(db_err)
                })
                .collect::<Result<_, _>>()?
        };
        {
            let mut expiry = txn.open_table(EXPIRY).map_err(db_err)?;
            let mut revoked = txn.open_table(REVOKED).map_err(db_err)?;
            for (exp, jti) in &expired {
                expiry.remove((*exp, jti.as_str())).map_err(db_err)?;
                revoked.remove(jti.as_str()).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(expired.len())
    }
}

/// Records `jti` until `exp`, keeping the later `exp` if it is already there.
fn put(txn: &WriteTransaction, jti: &str, exp: u64) -> Result<(), StoreError> {
    let mut revoked = txn.open_table(REVOKED).map_err(db_err)?;
    let old = revoked.get(jti).map_err(db_err)?.map(|v| v.value());
    if old.is_some_and(|old| old >= exp) {
        return Ok(());
    }
    revoked.insert(jti, exp).map_err(db_err)?;
    let mut expiry = txn.open_table(EXPIRY).map_err(db_err)?;
    if let Some(old) = old {
        expiry.remove((old, jti)).map_err(db_err)?;
    }
    expiry.insert((exp, jti), ()).map_err(db_err)?;
    Ok(())
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Database(e.into().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &tempfile::TempDir) -> EmbeddedRevocationStore {
        EmbeddedRevocationStore::open(&dir.path().join("data")).unwrap()
    }

    fn sorted(mut entries: Vec<(String, u64)>) -> Vec<(String, u64)> {
        entries.sort();
        entries
    }

    #[test]
    fn revocations_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(&dir);
        store.insert("a", 500).unwrap();
        store.insert("b", 900).unwrap();
        drop(store);
        assert!(dir.path().join("data").join(FILE).exists());

        let mut store = open(&dir);
        let loaded = sorted(store.load(100).unwrap());
        assert_eq!(loaded, [("a".to_owned(), 500), ("b".to_owned(), 900)]);
    }

    #[test]
    fn load_drops_expired_entries_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(&dir);
        store.insert("old", 99).unwrap();
        store.insert("edge", 100).unwrap();
        store.insert("new", 101).unwrap();
        let loaded = sorted(store.load(100).unwrap());
        assert_eq!(loaded, [("edge".to_owned(), 100), ("new".to_owned(), 101)]);
        drop(store);
        // Deleted on disk, not merely filtered: an earlier `now` does not bring it back.
        let loaded = sorted(open(&dir).load(0).unwrap());
        assert_eq!(loaded, [("edge".to_owned(), 100), ("new".to_owned(), 101)]);
    }

    #[test]
    fn prune_deletes_only_entries_expired_before_now() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(&dir);
        for (jti, exp) in [("a", 10), ("b", 20), ("c", 20), ("d", 30)] {
            store.insert(jti, exp).unwrap();
        }
        assert_eq!(store.prune(5).unwrap(), 0);
        assert_eq!(store.prune(21).unwrap(), 3);
        assert_eq!(store.prune(21).unwrap(), 0);
        assert_eq!(store.load(0).unwrap(), [("d".to_owned(), 30)]);
    }

    #[test]
    fn inserting_again_keeps_the_later_expiry_and_one_index_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(&dir);
        store.insert("a", 50).unwrap();
        store.insert("a", 80).unwrap();
        store.insert("a", 60).unwrap();
        assert_eq!(store.load(0).unwrap(), [("a".to_owned(), 80)]);
        // The stale (50, a) index entry is gone: pruning at 70 must not delete `a`.
        assert_eq!(store.prune(70).unwrap(), 0);
        assert_eq!(store.load(0).unwrap(), [("a".to_owned(), 80)]);
        assert_eq!(store.prune(81).unwrap(), 1);
        assert!(store.load(0).unwrap().is_empty());
    }

    #[test]
    fn a_second_open_of_the_same_file_fails_while_the_first_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let _first = open(&dir);
        let second = EmbeddedRevocationStore::open(&dir.path().join("data"));
        assert!(matches!(second, Err(StoreError::Database(_))));
    }
}
