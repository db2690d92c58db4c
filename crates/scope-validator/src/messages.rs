//! The vocabulary of the validator's actor ([`crate::actor::ValidatorActor`]): the only ways
//! the revocation list changes.
//!
//! Messages carry `now` rather than letting the actor read the clock, so expiry is decided by
//! the caller's notion of time and tests can set it. ([`Resync`] is the exception: it is sent
//! from a listener that has no notion of time, and uses the actor's clock.)

use actix::Message;

use crate::error::StoreError;
use crate::revocation::RevocationEvent;

/// Revoke the access token `jti` until its `exp`. Replies once the revocation is durable in the
/// store *and* published to the snapshot decisions read.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), StoreError>")]
pub(crate) struct Revoke {
    /// The token's `jti` claim.
    pub(crate) jti: String,
    /// The token's `exp` claim: the revocation is needed until then (plus the leeway).
    pub(crate) exp: u64,
}

/// Revoke every token of `subject` issued at or before `before`, until `keep_until`. Replies
/// once durable and published, like [`Revoke`].
#[derive(Debug, Message)]
#[rtype(result = "Result<(), StoreError>")]
pub(crate) struct RevokeSubject {
    /// The tokens' `sub` claim.
    pub(crate) subject: String,
    /// Tokens with `iat <= before` are refused.
    pub(crate) before: u64,
    /// When the entry may be forgotten (`before` + longest token lifetime + leeway).
    pub(crate) keep_until: u64,
}

/// A revocation another node made, already durable in the shared store: publish it without
/// writing to the store.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct ApplyRemote {
    /// What was revoked.
    pub(crate) event: RevocationEvent,
}

/// Reload the store and merge it into the published set (after a reconnection, or an event
/// that could not be decoded). Replies how many entries were added or extended; on failure the
/// actor retries by itself with a backoff until a reload succeeds.
#[derive(Debug, Message)]
#[rtype(result = "Result<usize, StoreError>")]
pub(crate) struct Resync;

/// Forget revocations whose tokens are expired (beyond the leeway) at `now`. Sent by the actor
/// to itself on a timer; also by [`crate::ScopeValidator::prune_expired`]. Replies how many
/// were deleted from the store.
#[derive(Debug, Message)]
#[rtype(result = "Result<usize, StoreError>")]
pub(crate) struct PruneExpired {
    /// The current time, seconds since the Unix epoch.
    pub(crate) now: u64,
}
