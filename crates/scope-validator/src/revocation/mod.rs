//! Revoked access tokens: the storage boundary ([`RevocationStore`]), what it holds
//! ([`Revocations`], [`SubjectRevocation`]), the event other nodes announce
//! ([`RevocationEvent`]) and the in-memory snapshot decisions read (`RevocationSet`).
//!
//! A JWT access token cannot be recalled from its holder, so revocation (RFC 7009) is a list
//! that validators consult until the token would have expired anyway. Two kinds of entry:
//! - a `jti`, kept until its token's `exp` plus the leeway has passed: after that the token is
//!   refused as expired, and the entry only costs memory, so it is pruned;
//! - a subject with a "revoked before" time: every token of that `sub` issued at or before it
//!   (`iat <= before`) is refused, which reaches tokens whose `jti` nobody knows ("sign out
//!   everywhere", a compromised account). It is kept until `keep_until`, which the caller sets
//!   to `before` plus the longest access-token lifetime plus the leeway: by then every token it
//!   refuses has expired.
//!
//! Both kinds only ever grow until they expire, so merging two views of the list (a node's
//! snapshot and the shared store after a reconnection) is a plain union: for each key, the
//! later `exp` / `before` / `keep_until` wins.

mod embedded;
mod event;
mod set;

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

pub use embedded::EmbeddedRevocationStore;
pub use event::RevocationEvent;
pub(crate) use set::RevocationSet;

/// Where revocations persist. Called only from the validator's actor, one call at a time, so
/// implementations need no locking of their own: [`EmbeddedRevocationStore`] (redb) on a single
/// node, `scopegate_cluster::RedisRevocationStore` in cluster mode.
///
/// Every method is one atomic, durable unit: when it returns `Ok`, the change survives a crash.
pub trait RevocationStore: Send + 'static {
    /// Every revocation still needed at `now`: tokens with `exp >= now` and subjects with
    /// `keep_until >= now`; older entries may be deleted on the way. Called at start and on
    /// every resynchronisation ([`crate::ScopeValidator::resync`]).
    fn load(&mut self, now: u64) -> Result<Revocations, StoreError>;

    /// Records that the token `jti`, valid until `exp`, is revoked. Inserting a `jti` again
    /// keeps the later `exp`.
    fn insert(&mut self, jti: &str, exp: u64) -> Result<(), StoreError>;

    /// Records that every token of `subject` issued at or before `before` is revoked, until
    /// `keep_until`. Inserting a subject again keeps the later `before` and the later
    /// `keep_until`.
    fn insert_subject(
        &mut self,
        subject: &str,
        before: u64,
        keep_until: u64,
    ) -> Result<(), StoreError>;

    /// Deletes token revocations with `exp < now` and subject revocations with
    /// `keep_until < now`; returns how many entries went.
    fn prune(&mut self, now: u64) -> Result<usize, StoreError>;
}

/// The content of a [`RevocationStore`], as [`RevocationStore::load`] returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// Revoked access tokens: (`jti`, the token's `exp`).
    pub tokens: Vec<(String, u64)>,
    /// Revoked subjects: (`sub`, which of their tokens and until when).
    pub subjects: Vec<(String, SubjectRevocation)>,
}

/// A subject's revocation: its tokens issued at or before `before` are refused.
///
/// Serialized as `{"before": …, "keep_until": …}` (the Redis store keeps this JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRevocation {
    /// Tokens with `iat <= before` are refused, seconds since the Unix epoch.
    pub before: u64,
    /// When the entry may be forgotten: `before` + the longest access-token lifetime + the
    /// leeway, set by the caller, seconds since the Unix epoch.
    pub keep_until: u64,
}

// === impl SubjectRevocation ===

impl SubjectRevocation {
    /// The union of two revocations of one subject: the later `before`, the later `keep_until`.
    pub fn merge(self, other: Self) -> Self {
        Self {
            before: self.before.max(other.before),
            keep_until: self.keep_until.max(other.keep_until),
        }
    }

    /// Whether a token issued at `iat` is refused.
    pub fn refuses(&self, iat: u64) -> bool {
        iat <= self.before
    }
}

/// The published revocation snapshot, shared by the handle (loads) and the actor (stores).
pub(crate) type SharedRevocations = Arc<ArcSwap<RevocationSet>>;
