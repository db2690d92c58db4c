//! The messages the [`crate::PolicyStore`] actor answers. Most callers use
//! [`crate::PolicyStoreHandle`], which sends them and maps mailbox errors.

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
}
