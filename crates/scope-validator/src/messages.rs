//! The vocabulary of the validator's actor ([`crate::actor::ValidatorActor`]): the only ways
//! the revocation list changes.
//!
//! Messages carry `now` rather than letting the actor read the clock, so expiry is decided by
//! the caller's notion of time and tests can set it.

use actix::Message;

use crate::error::StoreError;

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

/// Forget revocations whose tokens are expired (beyond the leeway) at `now`. Sent by the actor
/// to itself on a timer; also by [`crate::ScopeValidator::prune_expired`]. Replies how many
/// were deleted from the store.
#[derive(Debug, Message)]
#[rtype(result = "Result<usize, StoreError>")]
pub(crate) struct PruneExpired {
    /// The current time, seconds since the Unix epoch.
    pub(crate) now: u64,
}
