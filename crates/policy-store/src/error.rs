//! The errors of the policy store: one enum per operation of a backend ([`LoadError`],
//! [`SaveError`]) and [`StoreError`] for what callers of the store see.
//!
//! Messages name the file (or store) involved and say what to do, because they end up in an
//! operator's terminal at startup or in an admin API's 5xx body.

use std::path::PathBuf;

use scopegate_core::PolicyError;

/// Why persisted policy state could not be loaded (or the store not opened).
///
/// A store that cannot be read is never treated as empty: starting empty would re-seed from the
/// policy file and silently drop every change made through the admin API.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The store could not be opened: missing permissions, a path of the wrong kind, an IO error.
    #[error(
        "cannot open the policy store at {path}: {reason}; scopegate refuses to start rather than \
         start without its stored policy (fix the path or its permissions)"
    )]
    Open {
        /// The file or directory that could not be opened.
        path: PathBuf,
        /// What went wrong, from the operating system or the database.
        reason: String,
    },
    /// Another process (or another store in this process) holds the store open.
    #[error(
        "the policy store at {path} is already open in another scopegate process (or twice in \
         this one); stop the other process or give this one its own data directory"
    )]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The store exists but its content is damaged or inconsistent.
    #[error(
        "the policy store at {path} is corrupt: {reason}; scopegate refuses to start rather than \
         lose policy data (restore it from a backup, or move it aside to start again from the \
         policy file)"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is damaged: the database itself, or which event or snapshot.
        reason: String,
    },
    /// The store was written in a format this build does not understand.
    #[error(
        "the policy store at {path} uses storage format {found}, but this scopegate reads format \
         {supported}; run the scopegate version that wrote it, or export and re-import the policy"
    )]
    Incompatible {
        /// The database file.
        path: PathBuf,
        /// The format found in the store (for the database engine's own format: its version).
        found: String,
        /// The format this build reads and writes.
        supported: String,
    },
    /// The store could not be reached (a networked store: Redis down, a timeout). Nothing was
    /// read; a node that is already running keeps serving its last snapshot.
    #[error("cannot reach the policy store ({store}): {reason}")]
    Unavailable {
        /// The backend, as [`crate::PolicyBackend::describe`] names it.
        store: String,
        /// What went wrong (never a password).
        reason: String,
    },
}

/// Why an event could not be recorded durably. Nothing of the failed write is kept.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The storage refused or failed the write (disk full, IO error, a script error).
    #[error("could not record policy version {version} in {store}: {reason}")]
    Write {
        /// The backend, as [`crate::PolicyBackend::describe`] names it.
        store: String,
        /// The version the write would have recorded.
        version: u64,
        /// What went wrong.
        reason: String,
    },
    /// The event's version does not follow the last recorded one: a bug, or a second writer.
    #[error(
        "refusing to record policy version {got} in {store}: the last recorded version is \
         {last}, so the next must be {}",
        .last + 1
    )]
    OutOfOrder {
        /// The backend, as [`crate::PolicyBackend::describe`] names it.
        store: String,
        /// The last version the store holds.
        last: u64,
        /// The version that was offered.
        got: u64,
    },
    /// The store could not be reached (a networked store: Redis down, or no time left before
    /// the write was sent). Nothing was recorded.
    #[error("policy store unavailable: {store} did not record version {version}: {reason}")]
    Unavailable {
        /// The backend, as [`crate::PolicyBackend::describe`] names it.
        store: String,
        /// The version the write would have recorded.
        version: u64,
        /// What went wrong (never a password).
        reason: String,
    },
    /// The write was sent but no answer came (a timeout, a connection broken while waiting):
    /// the store may or may not have recorded it. If it did, every node (this one too) applies
    /// it like any other change once the store answers again.
    #[error(
        "policy store did not answer: {store} may or may not have recorded version {version}: \
         {reason}"
    )]
    OutcomeUnknown {
        /// The backend, as [`crate::PolicyBackend::describe`] names it.
        store: String,
        /// The version the write would have recorded.
        version: u64,
        /// What went wrong (never a password).
        reason: String,
    },
    /// The store is not at the version these events were computed on: another node wrote
    /// first. Nothing was recorded; the caller catches up and recomputes its events.
    #[error(
        "the policy store is at version {stored}, not the version these events were computed on: \
         another node changed the policy first"
    )]
    Stale {
        /// The version the store holds.
        stored: u64,
    },
}

/// What a caller of the policy store gets back when a start or a change fails.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Persisted state could not be loaded at startup.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The change was valid but could not be persisted; nothing was applied.
    #[error(transparent)]
    Save(#[from] SaveError),
    /// The change would make the policy invalid, or names something missing; nothing was applied.
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    /// The caller expected another version (optimistic concurrency); nothing was applied.
    #[error(
        "the policy changed meanwhile: it is at version {actual}, not the expected {expected}; \
         reload it and retry"
    )]
    VersionConflict {
        /// The version the caller based its change on.
        expected: u64,
        /// The version the policy is at.
        actual: u64,
    },
    /// The store could not be reached: its actor (stopped, or its mailbox is closed), or the
    /// storage behind it (Redis down, or the change's time ran out before it was sent). Nothing
    /// was applied; readers keep the last snapshot. The HTTP layer answers 503.
    #[error("the policy store is unavailable: {0}")]
    Unavailable(String),
    /// The change was sent to the store but no answer came in time: it may or may not have
    /// been applied. If it was, this node (like every other) applies it as soon as the store
    /// answers again; read the policy back before retrying. The HTTP layer answers 504.
    #[error(
        "the policy store did not answer in time; the change may or may not have been applied: {0}"
    )]
    OutcomeUnknown(String),
    /// The store holds an older policy than this node serves: it has lost changes (Redis
    /// restarted empty, or was restored from an older backup). Writing on it would fork the
    /// history, so writes are refused until it is re-seeded; the node keeps serving its
    /// version. The HTTP layer answers 503.
    #[error(
        "{store} holds policy version {stored}, behind the version {current} this node serves: \
         it has lost policy changes; writes are refused until it is re-seeded (scopegate \
         cluster reseed), and this node keeps serving version {current}"
    )]
    StoreBehind {
        /// The backend, as [`crate::PolicyBackend::describe`] names it.
        store: String,
        /// The version the store holds.
        stored: u64,
        /// The version this node serves.
        current: u64,
    },
    /// The policy file used to seed an empty store is not a valid policy.
    #[error("the policy file cannot seed the policy store: {0}")]
    SeedInvalid(PolicyError),
}
