//! [`EmbeddedBackend`]: the single-node default, a redb database file in the data directory.
//!
//! # Storage layout (format 1)
//! - `events`: version (`u64`) → JSON of the [`PolicyEvent`] that produced it. Every event ever
//!   accepted is kept: it is the audit trail, and the log the snapshot is checked against.
//! - `snapshot`: exactly one row, version (`u64`) → JSON of that policy's [`PolicyDocument`].
//!   Rewritten in the same transaction as a `ReplaceAll` event, and whenever
//!   [`EmbeddedBackend::with_snapshot_every`] events have followed the last one, so a restart
//!   replays a bounded number of events.
//! - `meta`: `format_version` → [`FORMAT_VERSION`], so that a future incompatible layout fails
//!   with a clear [`LoadError::Incompatible`] instead of a decoding error.
//!
//! Every write transaction commits with redb's default durability (`fsync` before `commit`
//! returns), so an acknowledged event survives a crash or `SIGKILL`.

use std::any::Any;
use std::fmt::Display;
use std::fs;
use std::io;
use std::num::NonZeroU64;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use scopegate_core::{Policy, PolicyDocument, PolicyEvent};

use super::PolicyBackend;
use crate::error::{LoadError, SaveError};

/// The database file's name inside the data directory.
pub const FILE_NAME: &str = "policy.redb";

/// The storage layout this build reads and writes (see the module documentation).
pub const FORMAT_VERSION: u64 = 1;

/// Events between snapshots unless [`EmbeddedBackend::with_snapshot_every`] says otherwise.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 256;

const EVENTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("events");
const SNAPSHOT: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("snapshot");
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
const FORMAT_KEY: &str = "format_version";

/// A policy event log and snapshot in an embedded redb database (`<data_dir>/policy.redb`).
#[derive(Debug)]
pub struct EmbeddedBackend {
    /// The open database. redb locks the file, so a second store on the same file fails with
    /// [`LoadError::Locked`] instead of two writers interleaving.
    db: Database,
    /// The database file, for error messages and [`PolicyBackend::describe`].
    path: PathBuf,
    /// How many events may follow the snapshot before a write refreshes it: bounds the replay
    /// work at startup against the cost of serialising the whole policy.
    snapshot_every: u64,
}

// === impl EmbeddedBackend ===

impl EmbeddedBackend {
    /// Opens (or creates) the store in `data_dir`, creating the directory if it is missing.
    ///
    /// Fails, naming the path, when `data_dir` is not a directory, when the database file is
    /// not a redb database of a supported format, or when another process holds it open.
    pub fn open(data_dir: &Path) -> Result<Self, LoadError> {
        ensure_dir(data_dir)?;
        let path = data_dir.join(FILE_NAME);
        if path.is_dir() {
            return Err(LoadError::Open {
                reason: "it is a directory, where the database file should be".to_owned(),
                path,
            });
        }
        crate::private_fs::private_file(&path).map_err(|e| LoadError::Open {
            path: path.clone(),
            reason: format!("cannot create it with mode 0600: {e}"),
        })?;
        guarded(&path, "opening", || {
            let db = Database::create(&path).map_err(|e| load_error(&path, "opening", e))?;
            let backend = Self {
                db,
                path: path.clone(),
                snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            };
            backend.check_format()?;
            Ok(backend)
        })
    }

    /// Writes a snapshot every `events` events instead of every [`DEFAULT_SNAPSHOT_EVERY`].
    pub fn with_snapshot_every(mut self, events: NonZeroU64) -> Self {
        self.snapshot_every = events.get();
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the format marker, writing it into a store that has never held data.
    fn check_format(&self) -> Result<(), LoadError> {
        let fail = |e: redb::Error| load_error(&self.path, "reading the format marker", e);
        let txn = self.db.begin_write().map_err(|e| fail(e.into()))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| fail(e.into()))?;
            let found = meta
                .get(FORMAT_KEY)
                .map_err(|e| fail(e.into()))?
                .map(|g| g.value());
            match found {
                Some(FORMAT_VERSION) => return Ok(()),
                Some(other) => {
                    return Err(LoadError::Incompatible {
                        path: self.path.clone(),
                        found: other.to_string(),
                        supported: FORMAT_VERSION.to_string(),
                    });
                }
                None => {}
            }
            let events = txn.open_table(EVENTS).map_err(|e| fail(e.into()))?;
            let snapshot = txn.open_table(SNAPSHOT).map_err(|e| fail(e.into()))?;
            if !events.is_empty().map_err(|e| fail(e.into()))?
                || !snapshot.is_empty().map_err(|e| fail(e.into()))?
            {
                return Err(LoadError::Corrupt {
                    path: self.path.clone(),
                    reason: "it holds policy data but no storage format marker".to_owned(),
                });
            }
            meta.insert(FORMAT_KEY, FORMAT_VERSION)
                .map_err(|e| fail(e.into()))?;
        }
        txn.commit().map_err(|e| fail(e.into()))
    }

    /// The latest snapshot, decoded; `None` when no snapshot has been written yet.
    fn load_snapshot(
        &self,
        table: &impl ReadableTable<u64, &'static [u8]>,
    ) -> Result<Option<Policy>, LoadError> {
        let fail = |e: redb::Error| load_error(&self.path, "reading the snapshot", e);
        let Some((key, value)) = table.last().map_err(|e| fail(e.into()))? else {
            return Ok(None);
        };
        let version = key.value();
        let doc: PolicyDocument = serde_json::from_slice(value.value())
            .map_err(|e| self.corrupt(format!("the snapshot at version {version}: {e}")))?;
        let policy = Policy::from_document(version, doc).map_err(|e| {
            self.corrupt(format!(
                "the snapshot at version {version} is not a valid policy: {e}"
            ))
        })?;
        Ok(Some(policy))
    }

    /// Records `items` (each event with the policy it produced) in one write transaction.
    ///
    /// A panic inside redb (it panics on some kinds of on-disk damage) becomes a failed write, so
    /// the store reports it and publishes nothing instead of losing its actor thread.
    fn write(&self, items: &[(&PolicyEvent, &Policy)]) -> Result<(), SaveError> {
        let version = items.last().map_or(0, |(_, p)| p.version());
        panic::catch_unwind(AssertUnwindSafe(|| self.write_txn(items))).unwrap_or_else(|payload| {
            Err(SaveError::Write {
                store: self.describe(),
                version,
                reason: format!("the database engine failed: {}", panic_message(&*payload)),
            })
        })
    }

    fn write_txn(&self, items: &[(&PolicyEvent, &Policy)]) -> Result<(), SaveError> {
        let Some((_, newest)) = items.last() else {
            return Ok(());
        };
        let fail = |e: &dyn Display| SaveError::Write {
            store: self.describe(),
            version: newest.version(),
            reason: e.to_string(),
        };
        let txn = self.db.begin_write().map_err(|e| fail(&e))?;
        {
            let mut events = txn.open_table(EVENTS).map_err(|e| fail(&e))?;
            let mut snapshot = txn.open_table(SNAPSHOT).map_err(|e| fail(&e))?;
            let last_key = |t: &redb::Table<'_, u64, &[u8]>| -> Result<u64, SaveError> {
                Ok(t.last()
                    .map_err(|e| fail(&e))?
                    .map_or(0, |(k, _)| k.value()))
            };
            let snapshot_version = last_key(&snapshot)?;
            let mut last = last_key(&events)?.max(snapshot_version);
            for (event, policy) in items {
                if policy.version() != last + 1 {
                    return Err(SaveError::OutOfOrder {
                        store: self.describe(),
                        last,
                        got: policy.version(),
                    });
                }
                let bytes = serde_json::to_vec(event).map_err(|e| fail(&e))?;
                events
                    .insert(policy.version(), bytes.as_slice())
                    .map_err(|e| fail(&e))?;
                last = policy.version();
            }
            let replaced = items
                .iter()
                .any(|(e, _)| matches!(e, PolicyEvent::ReplaceAll(_)));
            if replaced || last - snapshot_version >= self.snapshot_every {
                let doc = serde_json::to_vec(&newest.to_document()).map_err(|e| fail(&e))?;
                snapshot.retain(|_, _| false).map_err(|e| fail(&e))?;
                snapshot
                    .insert(last, doc.as_slice())
                    .map_err(|e| fail(&e))?;
            }
        }
        txn.commit().map_err(|e| fail(&e))
    }

    fn corrupt(&self, reason: String) -> LoadError {
        LoadError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }
}

impl PolicyBackend for EmbeddedBackend {
    fn load(&mut self) -> Result<Option<Policy>, LoadError> {
        guarded(&self.path, "reading the event log", || self.replay())
    }

    fn append(&mut self, event: &PolicyEvent, policy: &Policy) -> Result<(), SaveError> {
        self.write(&[(event, policy)])
    }

    fn append_batch(&mut self, items: &[(PolicyEvent, Policy)]) -> Result<(), SaveError> {
        let refs: Vec<_> = items.iter().map(|(e, p)| (e, p)).collect();
        self.write(&refs)
    }

    fn describe(&self) -> String {
        format!("embedded redb at {}", self.path.display())
    }
}

impl EmbeddedBackend {
    /// The latest snapshot with every later event applied, checking the log is contiguous.
    fn replay(&self) -> Result<Option<Policy>, LoadError> {
        let fail = |e: redb::Error| load_error(&self.path, "reading the event log", e);
        let txn = self.db.begin_read().map_err(|e| fail(e.into()))?;
        let snapshot = txn.open_table(SNAPSHOT).map_err(|e| fail(e.into()))?;
        let events = txn.open_table(EVENTS).map_err(|e| fail(e.into()))?;
        let base = self.load_snapshot(&snapshot)?;
        let found = base.is_some();
        let mut policy = base.unwrap_or_default();
        let mut replayed = 0_u64;
        for entry in events
            .range(policy.version() + 1..)
            .map_err(|e| fail(e.into()))?
        {
            let (key, value) = entry.map_err(|e| fail(e.into()))?;
            let version = key.value();
            let expected = policy.version() + 1;
            if version != expected {
                return Err(self.corrupt(format!(
                    "policy event {expected} is missing (the next recorded event is {version})"
                )));
            }
            let event: PolicyEvent = serde_json::from_slice(value.value())
                .map_err(|e| self.corrupt(format!("policy event {version}: {e}")))?;
            policy = policy.apply(&event).map_err(|e| {
                self.corrupt(format!(
                    "policy event {version} ({}) does not apply to version {}: {e}",
                    event.kind(),
                    version - 1
                ))
            })?;
            replayed += 1;
        }
        tracing::debug!(
            store = %self.describe(),
            version = policy.version(),
            replayed,
            "replayed the policy event log"
        );
        Ok((found || replayed > 0).then_some(policy))
    }
}

/// Makes sure `dir` is a directory of mode `0700`, creating it (and its parents) if it does not
/// exist.
fn ensure_dir(dir: &Path) -> Result<(), LoadError> {
    let open = |reason: String| LoadError::Open {
        path: dir.to_owned(),
        reason,
    };
    match fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(open(
            "the data directory exists but is not a directory".to_owned(),
        )),
        Ok(_) | Err(_) => crate::private_fs::private_dir(dir).map_err(|e| {
            open(format!(
                "cannot create the data directory (or make it mode 0700): {e}"
            ))
        }),
    }
}

/// Runs `f`, turning a panic inside redb (it panics on some kinds of on-disk damage instead of
/// returning an error) into [`LoadError::Corrupt`], so a damaged store gets the same clear
/// message as any other.
fn guarded<T>(
    path: &Path,
    doing: &str,
    f: impl FnOnce() -> Result<T, LoadError>,
) -> Result<T, LoadError> {
    panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        Err(LoadError::Corrupt {
            path: path.to_owned(),
            reason: format!(
                "{doing}: the database engine failed on its content ({})",
                panic_message(&*payload)
            ),
        })
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}

/// Classifies a redb error met while `doing` something with the file at `path`.
fn load_error(path: &Path, doing: &str, error: impl Into<redb::Error>) -> LoadError {
    let path = path.to_owned();
    match error.into() {
        redb::Error::DatabaseAlreadyOpen => LoadError::Locked { path },
        redb::Error::UpgradeRequired(found) => LoadError::Incompatible {
            path,
            found: format!("redb file format {found}"),
            supported: "the redb 2 file format".to_owned(),
        },
        // redb reports a file that is not a database (bad magic number, truncated header) as
        // invalid data; anything else from the operating system is an access problem.
        redb::Error::Io(e) if e.kind() == io::ErrorKind::InvalidData => LoadError::Corrupt {
            path,
            reason: format!("{doing}: it is not a redb database, or its header is damaged ({e})"),
        },
        redb::Error::Io(e) => LoadError::Open {
            path,
            reason: format!("{doing}: {e}"),
        },
        other => LoadError::Corrupt {
            path,
            reason: format!("{doing}: {other}"),
        },
    }
}

#[cfg(test)]
mod tests;
