//! [`EmbeddedRefreshStore`]: refresh tokens in a redb file (`refresh.redb` in the data
//! directory), for single-node deployments without Redis.
//!
//! Three tables, always changed together in one write transaction:
//! - `tokens`: token hash → JSON [`RefreshRecord`];
//! - `families`: family id → token hashes (multimap), to revoke a family without a scan;
//! - `expiry`: (expires_at, token hash) → (), to prune expired tokens by a range scan.
//!
//! There is no subject index: [`RefreshStore::revoke_subject`] scans `tokens`. It is a rare
//! administrative operation on a single node's store (thousands of records, not millions), so
//! a full scan inside one write transaction is cheaper than maintaining a fourth table on every
//! issue and rotation.

use std::path::Path;

use redb::{Database, MultimapTableDefinition, ReadableTable, TableDefinition, WriteTransaction};

use super::{
    Decide, RefreshRecord, RefreshStore, Revocation, Rotate, RotateOutcome, StoreError, TokenHash,
};

const TOKENS: TableDefinition<'_, &[u8; 32], &[u8]> = TableDefinition::new("tokens");
const FAMILIES: MultimapTableDefinition<'_, &str, &[u8; 32]> =
    MultimapTableDefinition::new("families");
const EXPIRY: TableDefinition<'_, (u64, &[u8; 32]), ()> = TableDefinition::new("expiry");

/// The file name inside the data directory.
const FILE: &str = "refresh.redb";

/// Refresh tokens in an embedded redb database. Every change is a durable (fsynced) write
/// transaction, so an issued refresh token survives a crash right after the response.
pub struct EmbeddedRefreshStore {
    /// The open database; redb allows one writer at a time, which the actor guarantees anyway.
    db: Database,
}

// === impl EmbeddedRefreshStore ===

impl EmbeddedRefreshStore {
    /// Opens (or creates) `refresh.redb` in `data_dir`, creating the directory if needed.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        // The directory 0700, the file 0600, whatever the umask.
        scopegate_policy_store::private_fs::private_dir(data_dir)?;
        let path = data_dir.join(FILE);
        scopegate_policy_store::private_fs::private_file(&path)?;
        let db = Database::create(&path).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(TOKENS).map_err(db_err)?;
        txn.open_multimap_table(FAMILIES).map_err(db_err)?;
        txn.open_table(EXPIRY).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }
}

impl RefreshStore for EmbeddedRefreshStore {
    fn get(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let tokens = txn.open_table(TOKENS).map_err(db_err)?;
        let value = tokens.get(&hash.0).map_err(db_err)?;
        value.map(|v| decode(v.value())).transpose()
    }

    fn insert(&mut self, hash: &TokenHash, record: &RefreshRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        put(&txn, hash, record)?;
        txn.commit().map_err(db_err)
    }

    fn rotate(
        &mut self,
        rotate: Rotate<'_>,
        decide: Decide<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let Some(record) = read(&txn, rotate.presented)? else {
            return Ok(RotateOutcome::Unknown);
        };
        if record.rotated {
            delete_family(&txn, &record.family)?;
            txn.commit().map_err(db_err)?;
            return Ok(RotateOutcome::Reused {
                family: record.family,
            });
        }
        if record.client_id != rotate.client_id {
            return Ok(RotateOutcome::WrongClient);
        }
        if record.expires_at <= rotate.now {
            return Ok(RotateOutcome::Expired);
        }
        let scopes = match decide(&record) {
            Ok(scopes) => scopes,
            Err(e) => return Ok(RotateOutcome::Refused(e)),
        };
        let marked = RefreshRecord {
            rotated: true,
            ..record.clone()
        };
        let replacement = record.successor(rotate.now, rotate.expires_at);
        put(&txn, rotate.presented, &marked)?;
        put(&txn, rotate.replacement, &replacement)?;
        txn.commit().map_err(db_err)?;
        Ok(RotateOutcome::Rotated { record, scopes })
    }

    fn revoke_family(
        &mut self,
        hash: &TokenHash,
        client_id: &str,
    ) -> Result<Revocation, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let Some(record) = read(&txn, hash)? else {
            return Ok(Revocation::Unknown);
        };
        if record.client_id != client_id {
            return Ok(Revocation::OtherClient);
        }
        delete_family(&txn, &record.family)?;
        txn.commit().map_err(db_err)?;
        Ok(Revocation::Revoked {
            family: record.family,
        })
    }

    fn revoke_subject(&mut self, subject: &str) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let families: std::collections::BTreeSet<String> = {
            let tokens = txn.open_table(TOKENS).map_err(db_err)?;
            let mut families = std::collections::BTreeSet::new();
            for entry in tokens.iter().map_err(db_err)? {
                let (_, value) = entry.map_err(db_err)?;
                let record = decode(value.value())?;
                if record.subject == subject {
                    families.insert(record.family);
                }
            }
            families
        };
        for family in &families {
            delete_family(&txn, family)?;
        }
        txn.commit().map_err(db_err)?;
        Ok(families.len())
    }

    fn prune_expired(&mut self, now: u64) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let expired: Vec<[u8; 32]> = {
            let expiry = txn.open_table(EXPIRY).map_err(db_err)?;
            let end = (now.saturating_add(1), &[0u8; 32]);
            let range = expiry.range::<(u64, &[u8; 32])>(..end).map_err(db_err)?;
            range
                .map(|entry| entry.map(|(k, _)| *k.value().1))
                .collect::<Result<_, _>>()
                .map_err(db_err)?
        };
        for hash in &expired {
            if let Some(record) = read(&txn, &TokenHash(*hash))? {
                delete(&txn, &TokenHash(*hash), &record)?;
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(expired.len())
    }
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Database(e.into().to_string())
}

fn decode(bytes: &[u8]) -> Result<RefreshRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn read(txn: &WriteTransaction, hash: &TokenHash) -> Result<Option<RefreshRecord>, StoreError> {
    let tokens = txn.open_table(TOKENS).map_err(db_err)?;
    let value = tokens.get(&hash.0).map_err(db_err)?;
    value.map(|v| decode(v.value())).transpose()
}

/// Writes `record` under `hash` with its family and expiry index entries (replacing any
/// earlier record of the same token, whose expiry entry is kept only if unchanged).
fn put(txn: &WriteTransaction, hash: &TokenHash, record: &RefreshRecord) -> Result<(), StoreError> {
    let json = serde_json::to_vec(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut tokens = txn.open_table(TOKENS).map_err(db_err)?;
    let old = tokens
        .insert(&hash.0, json.as_slice())
        .map_err(db_err)?
        .map(|v| decode(v.value()))
        .transpose()?;
    let mut expiry = txn.open_table(EXPIRY).map_err(db_err)?;
    if let Some(old) = old {
        expiry.remove((old.expires_at, &hash.0)).map_err(db_err)?;
    }
    expiry
        .insert((record.expires_at, &hash.0), ())
        .map_err(db_err)?;
    let mut families = txn.open_multimap_table(FAMILIES).map_err(db_err)?;
    families
        .insert(record.family.as_str(), &hash.0)
        .map_err(db_err)?;
    Ok(())
}

/// Removes one token and its index entries.
fn delete(
    txn: &WriteTransaction,
    hash: &TokenHash,
    record: &RefreshRecord,
) -> Result<(), StoreError> {
    txn.open_table(TOKENS)
        .map_err(db_err)?
        .remove(&hash.0)
        .map_err(db_err)?;
    txn.open_table(EXPIRY)
        .map_err(db_err)?
        .remove((record.expires_at, &hash.0))
        .map_err(db_err)?;
    txn.open_multimap_table(FAMILIES)
        .map_err(db_err)?
        .remove(record.family.as_str(), &hash.0)
        .map_err(db_err)?;
    Ok(())
}

/// Removes every token of `family`.
fn delete_family(txn: &WriteTransaction, family: &str) -> Result<(), StoreError> {
    let hashes: Vec<[u8; 32]> = {
        let mut families = txn.open_multimap_table(FAMILIES).map_err(db_err)?;
        let removed = families.remove_all(family).map_err(db_err)?;
        removed
            .map(|v| v.map(|g| *g.value()))
            .collect::<Result<_, _>>()
            .map_err(db_err)?
    };
    for hash in hashes {
        let hash = TokenHash(hash);
        if let Some(record) = read(txn, &hash)? {
            delete(txn, &hash, &record)?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "embedded_tests.rs"]
mod tests;
