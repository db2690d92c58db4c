//! Revoked access tokens: the storage boundary ([`RevocationStore`]) and the in-memory snapshot
//! decisions read ([`RevocationSet`]).
//!
//! A JWT access token cannot be recalled from its holder, so revocation (RFC 7009) is a list of
//! `jti`s that validators refuse until the token would have expired anyway. Each entry is kept
//! until its token's `exp` plus the leeway has passed: after that the token is refused as
//! expired, and the entry only costs memory, so it is pruned.

mod embedded;

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::error::StoreError;

pub use embedded::EmbeddedRevocationStore;

/// Where revocations persist. Called only from the validator's actor, one call at a time, so
/// implementations need no locking of their own; a Redis store can replace
/// [`EmbeddedRevocationStore`] behind this trait.
///
/// Every method is one atomic, durable unit: when it returns `Ok`, the change survives a crash.
pub trait RevocationStore: Send + 'static {
    /// Every revocation still needed at `now`, i.e. with `exp >= now`; entries with `exp < now`
    /// may be deleted on the way. Called once, at start.
    fn load(&mut self, now: u64) -> Result<Vec<(String, u64)>, StoreError>;

    /// Records that the token `jti`, valid until `exp`, is revoked. Inserting a `jti` again
    /// keeps the later `exp`.
    fn insert(&mut self, jti: &str, exp: u64) -> Result<(), StoreError>;

    /// Deletes revocations with `exp < now`; returns how many.
    fn prune(&mut self, now: u64) -> Result<usize, StoreError>;
}

/// The revoked `jti`s and their tokens' `exp`, as decisions see them.
///
/// A persistent (structurally shared) map: the actor inserts into its own copy in O(log n) and
/// publishes a clone, which is O(1), so a revocation never copies the whole list and readers
/// never lock.
pub(crate) type RevocationSet = imbl::HashMap<String, u64>;

/// The published revocation snapshot, shared by the handle (loads) and the actor (stores).
pub(crate) type SharedRevocations = Arc<ArcSwap<RevocationSet>>;
