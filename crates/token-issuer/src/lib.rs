//! The token endpoint of scopegate, minus the HTTP route: parse a request, authenticate the
//! client, run the `password`, `client_credentials` or `refresh_token` grant, sign an RFC 9068
//! access token, and rotate refresh tokens.
//!
//! The server's route reads the body and the `Authorization` header, calls
//! [`TokenRequest::parse`] and [`TokenService::token`], and maps a [`TokenError`] to the RFC 6749
//! §5.2 response. Scope decisions are the pure functions of `scopegate-core`; this crate adds the
//! effects around them: argon2 verification off the event loop, a client-secret cache, the
//! refresh-token store and its actor, and signing with the current key.
//!
//! # Layout
//! - `config.rs`: [`IssuerConfig`], the `[tokens]` configuration section.
//! - `request.rs`: [`TokenRequest`], form body + HTTP Basic → a checked request (pure).
//! - `response.rs`: [`TokenResponse`], the JSON of a successful answer.
//! - `error.rs`: [`TokenError`] (RFC 6749 §5.2 codes and HTTP status) and [`StartError`].
//! - `service.rs`: [`TokenService`], the façade the HTTP handler calls.
//! - `grant.rs`: client authentication and the three grants, ending in a signed token.
//! - `actor.rs`: the TokenIssuer actor, sole owner and writer of the refresh store.
//! - `messages.rs`: its messages (`IssueRefresh`, `RotateRefresh`, `RevokeFamily`,
//!   `RevokeSubject`, `LookupRefresh`, `PruneExpired`), one handler each.
//! - `secret_cache.rs`: HMAC-keyed cache of verified client secrets, and why it is safe; one
//!   argon2 run shared by concurrent requests presenting the same secret.
//! - `throttle.rs`: the sign-in throttle ([`ThrottleConfig`], [`ThrottleStore`],
//!   [`LocalThrottle`]): failures per username and per client + address, lockouts.
//! - `links.rs`: [`Links`], what the service needs from the rest of the node
//!   ([`FamilyRevoker`], the shared throttle store).
//! - `hash_pool.rs`: argon2id on worker threads behind a bounded queue; [`hash_secret`].
//! - `refresh/mod.rs`: [`RefreshStore`], the storage boundary, and [`RefreshRecord`].
//! - `refresh/embedded.rs`: [`EmbeddedRefreshStore`], the redb backend (the Redis backend of
//!   cluster mode is in `scopegate-cluster`).
//!
//! # Invariants
//! - Secrets, passwords and tokens never appear in logs, error descriptions or `Debug` output.
//! - argon2 never runs on the async event loop; its queue is bounded (503 beyond it).
//! - `client_credentials` with a cached secret never waits on the actor or the hash pool.
//! - Refresh tokens are stored only as SHA-256 hashes; each use rotates, a reuse revokes the
//!   family.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms, missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod actor;
mod config;
mod error;
mod grant;
mod hash_pool;
mod links;
mod messages;
mod refresh;
mod request;
mod response;
mod secret_cache;
mod service;
mod throttle;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use config::{CHECK_PATH_TOKEN_LIMIT, IssuerConfig, default_hash_workers};
pub use error::{StartError, TokenError};
pub use hash_pool::{HashError, hash_secret};
pub use links::{FamilyRevoker, Links};
pub use refresh::{
    Decide, EmbeddedRefreshStore, RefreshRecord, RefreshStore, Revocation, Rotate, RotateOutcome,
    StoreError, TokenHash,
};
pub use request::{ClientRequest, TokenRequest};
pub use response::TokenResponse;
pub use service::TokenService;
pub use throttle::{
    Lockout, ThrottleConfig, ThrottleKey, ThrottleKind, ThrottleStore, ThrottleUnavailable,
};

/// The current time in seconds since the Unix epoch; injected so tests can move it.
pub(crate) type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;
