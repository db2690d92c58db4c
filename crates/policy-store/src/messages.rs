//! The messages the [`crate::PolicyStore`] actor answers: a local change ([`ApplyEvents`]) and
//! the two ways other nodes' changes reach it ([`ApplyRemote`], [`CatchUp`]). Most callers use
//! [`crate::PolicyStoreHandle`], which sends them and maps mailbox errors.

use std::time::Instant;

use actix::Message;
use scopegate_core::PolicyEvent;

use crate::error::StoreError;

/// Apply `events` in order as one unit: all accepted and persisted, then published, or none.
///
/// Replies with the new version (the current one when `events` is empty).
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, StoreError>")]
pub struct ApplyEvents {
    /// The changes, in the order they are applied; event `n` sees the result of event `n - 1`.
    pub events: Vec<PolicyEvent>,
    /// Optimistic concurrency: when `Some(v)`, the call fails with
    /// [`StoreError::VersionConflict`] unless the policy is at version `v`, so an admin who
    /// edited what they read does not overwrite a change made meanwhile.
    pub expected_version: Option<u64>,
    /// When the caller stops waiting: a change still queued at that time is refused without
    /// touching the store, and one being written shares what is left of it with every call
    /// it makes. `None`: no limit beyond the store's own timeouts.
    pub deadline: Option<Instant>,
}

/// Another node recorded `event` at `version`: apply it if it is the next version, ignore it if
/// this node already has it (its own write's echo, or an old message), and catch up through the
/// backend if versions are missing in between. Never replies: the pub/sub listener sends it
/// without waiting.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ApplyRemote {
    /// The version `event` produced in the shared store.
    pub version: u64,
    /// When the writing node recorded it (its clock, microseconds since the Unix epoch).
    pub created_at_us: u64,
    /// The change.
    pub event: PolicyEvent,
}

/// Read whatever this node missed from the backend and publish it: sent after every
/// (re)subscription to the change channel and periodically as a safety net. Never replies.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CatchUp;
