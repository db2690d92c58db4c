//! The check side of scopegate: "may this token make this call?", answered as
//! `(token, method, path) → Allow | Deny`, for the server's `/authz/check`, `/authz/envoy/*`,
//! `/authz/v1/decide` and `/oauth2/introspect` routes.
//!
//! A decision verifies the token (or finds it in the verified-token cache and re-checks what
//! can change: time, key retirement, revocation), then matches the path against the policy's
//! APIs and checks the token's scopes with `scopegate-core`. It reads only snapshots (key set,
//! policy, revocation set) on the caller's thread; the ScopeValidator actor, on its own arbiter,
//! owns the revocation list and its store and publishes a new snapshot after every durable
//! write.
//!
//! # Layout
//! - `config.rs`: [`ValidatorSettings`] (the `[validation]` section), [`UnmatchedPath`],
//!   [`ValidatorConfig`].
//! - `decision.rs`: [`Decision`], [`Principal`], [`Deny`], and the path-and-scope half of a
//!   decision (pure).
//! - `validator.rs`: [`ScopeValidator`], the handle: `decide`, `authenticate`, `revoke`,
//!   `revoke_subject`, `apply_remote`, `resync`, and the order of the token checks.
//! - `keys.rs`: the key-set generation, its verifier, and key epochs (how key retirement
//!   reaches cached tokens).
//! - `cache.rs`: the verified-token cache, and why it is safe.
//! - `actor.rs`: the actor that owns the revocation store and publishes the revocation set.
//! - `messages.rs`: its messages (`Revoke`, `RevokeSubject`, `ApplyRemote`, `Resync`,
//!   `PruneExpired`).
//! - `revocation/mod.rs`: [`RevocationStore`], the storage boundary, and what it holds
//!   ([`Revocations`], [`SubjectRevocation`]).
//! - `revocation/event.rs`: [`RevocationEvent`], a revocation as nodes announce it.
//! - `revocation/set.rs`: the snapshot decisions read (revoked `jti`s and subjects).
//! - `revocation/embedded.rs`: [`EmbeddedRevocationStore`], the redb backend (the Redis
//!   backend and its listener are in `scopegate-cluster`).
//! - `error.rs`: [`StartError`], [`ValidatorError`], [`StoreError`].
//!
//! # Invariants
//! - Tokens never appear in logs, `Debug` output or deny descriptions (a `jti` may be logged).
//! - Decisions never wait on the actor, a lock held across IO, or the network.
//! - The cache is keyed by the whole token and holds only tokens that passed every check; a
//!   hit never outlives the token's `exp`, its key's presence in the key set, or a revocation.
//! - A revocation is visible to decisions only after it is durable, and as soon as `revoke`
//!   (or `revoke_subject`) returns. Remote events and reloads only ever add to the snapshot
//!   (until entries expire), so their order does not matter.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms, missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod actor;
mod cache;
mod config;
mod decision;
mod error;
mod keys;
mod messages;
mod revocation;
mod validator;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use config::{UnmatchedPath, ValidatorConfig, ValidatorSettings};
pub use decision::{Decision, Deny, DenyReason, Principal};
pub use error::{StartError, StoreError, ValidatorError};
pub use revocation::{
    EmbeddedRevocationStore, RevocationEvent, RevocationStore, Revocations, SubjectRevocation,
};
pub use validator::ScopeValidator;

/// The current time in seconds since the Unix epoch; injected so tests can move it.
pub(crate) type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;
