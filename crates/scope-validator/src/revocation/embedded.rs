//! [`EmbeddedRevocationStore`]: revocations in a redb file (`revocations.redb` in the data
//! directory), for single-node deployments without Redis.
//!
//! Three tables:
//! - `revoked`: `jti` → the token's `exp`;
//! - `expiry`: (`exp`, `jti`) → (), so pruning tokens is a range scan, not a full one (both
//!   always changed together in one write transaction);
//! - `subjects`: `sub` → (`before`, `keep_until`). Subject revocations are rare (an
//!   administrator's act), so pruning them scans this table rather than keeping an index.
//!
//! A file written before subject revocations existed simply gains the `subjects` table when
//! opened.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};

use super::{RevocationStore, Revocations, SubjectRevocation};
use crate::error::StoreError;

const REVOKED: TableDefinition<'_, &str, u64> = TableDefinition::new("revoked");
const EXPIRY: TableDefinition<'_, (u64, &str), ()> = TableDefinition::new("expiry");
const SUBJECTS: TableDefinition<'_, &str, (u64, u64)> = TableDefinition::new("subjects");

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
        // The directory 0700, the file 0600, whatever the umask.
        scopegate_policy_store::private_fs::private_dir(data_dir)?;
        let path = data_dir.join(FILE);
        scopegate_policy_store::private_fs::private_file(&path)?;
        let db = Database::create(&path).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(REVOKED).map_err(db_err)?;
        txn.open_table(EXPIRY).map_err(db_err)?;
        txn.open_table(SUBJECTS).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }
}

impl RevocationStore for EmbeddedRevocationStore {
    fn load(&mut self, now: u64) -> Result<Revocations, StoreError> {
        let pruned = self.prune(now)?;
        if pruned > 0 {
            tracing::debug!(pruned, "expired revocations deleted at load");
        }
        let txn = self.db.begin_read().map_err(db_err)?;
        let revoked = txn.open_table(REVOKED).map_err(db_err)?;
        let tokens = revoked
            .iter()
            .map_err(db_err)?
            .map(|entry| {
                entry
                    .map(|(jti, exp)| (jti.value().to_owned(), exp.value()))
                    .map_err(db_err)
            })
            .collect::<Result<_, _>>()?;
        let subjects = txn.open_table(SUBJECTS).map_err(db_err)?;
        let subjects = subjects
            .iter()
            .map_err(db_err)?
            .map(|entry| {
                entry
                    .map(|(subject, value)| {
                        let (before, keep_until) = value.value();
                        let revocation = SubjectRevocation { before, keep_until };
                        (subject.value().to_owned(), revocation)
                    })
                    .map_err(db_err)
            })
            .collect::<Result<_, _>>()?;
        Ok(Revocations { tokens, subjects })
    }

    fn insert(&mut self, jti: &str, exp: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        put(&txn, jti, exp)?;
        txn.commit().map_err(db_err)
    }

    fn insert_subject(
        &mut self,
        subject: &str,
        before: u64,
        keep_until: u64,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut subjects = txn.open_table(SUBJECTS).map_err(db_err)?;
            let new = SubjectRevocation { before, keep_until };
            let old = subjects.get(subject).map_err(db_err)?.map(|v| v.value());
            let merged = match old {
                Some((before, keep_until)) => SubjectRevocation { before, keep_until }.merge(new),
                None => new,
            };
            subjects
                .insert(subject, (merged.before, merged.keep_until))
                .map_err(db_err)?;
        }
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
        let mut subjects = 0;
        txn.open_table(SUBJECTS)
            .map_err(db_err)?
            .retain(|_, (_, keep_until)| {
                let keep = keep_until >= now;
                subjects += usize::from(!keep);
                keep
            })
            .map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(expired.len() + subjects)
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

    fn sorted(loaded: Revocations) -> Vec<(String, u64)> {
        let mut entries = loaded.tokens;
        entries.sort();
        entries
    }

    fn tokens(loaded: Revocations) -> Vec<(String, u64)> {
        loaded.tokens
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
        assert_eq!(tokens(store.load(0).unwrap()), [("d".to_owned(), 30)]);
    }

    #[test]
    fn inserting_again_keeps_the_later_expiry_and_one_index_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(&dir);
        store.insert("a", 50).unwrap();
        store.insert("a", 80).unwrap();
        store.insert("a", 60).unwrap();
        assert_eq!(tokens(store.load(0).unwrap()), [("a".to_owned(), 80)]);
        // The stale (50, a) index entry is gone: pruning at 70 must not delete `a`.
        assert_eq!(store.prune(70).unwrap(), 0);
        assert_eq!(tokens(store.load(0).unwrap()), [("a".to_owned(), 80)]);
        assert_eq!(store.prune(81).unwrap(), 1);
        assert_eq!(store.load(0).unwrap(), Revocations::default());
    }

    #[test]
    fn subject_revocations_merge_survive_reopening_and_are_pruned_after_keep_until() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(&dir);
        store.insert_subject("alex", 100, 500).unwrap();
        store.insert_subject("alex", 90, 600).unwrap();
        store.insert_subject("paul", 100, 200).unwrap();
        store.insert("j", 300).unwrap();
        drop(store);

        let mut store = open(&dir);
        let mut loaded = store.load(0).unwrap();
        loaded.subjects.sort_by(|a, b| a.0.cmp(&b.0));
        let revocation = |before, keep_until| SubjectRevocation { before, keep_until };
        assert_eq!(
            loaded.subjects,
            [
                ("alex".to_owned(), revocation(100, 600)),
                ("paul".to_owned(), revocation(100, 200)),
            ]
        );
        assert_eq!(store.prune(200).unwrap(), 0, "kept while keep_until >= now");
        assert_eq!(store.prune(301).unwrap(), 2, "paul and j");
        let loaded = store.load(301).unwrap();
        assert_eq!(loaded.subjects, [("alex".to_owned(), revocation(100, 600))]);
        assert!(loaded.tokens.is_empty());
        assert!(store.load(601).unwrap().subjects.is_empty(), "load prunes");
    }

    #[test]
    fn a_second_open_of_the_same_file_fails_while_the_first_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let _first = open(&dir);
        let second = EmbeddedRevocationStore::open(&dir.path().join("data"));
        assert!(matches!(second, Err(StoreError::Database(_))));
    }
}
