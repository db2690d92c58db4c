//! Cluster mode of scopegate: Redis holds the shared state and pub/sub carries every change, so
//! any node can take any request and a change made on one node is in force on all of them
//! within milliseconds.
//!
//! This crate implements the storage traits of the other crates against Redis and runs the
//! listeners that feed remote changes to their actors:
//! - `policy`: [`RedisPolicyBackend`], the versioned policy log and state, written atomically by
//!   a Lua script, and the listener applying other nodes' events in version order;
//! - `refresh`: [`RedisRefreshStore`], refresh tokens (hashed) with a TTL;
//! - `revocation`: [`RedisRevocationStore`], revoked `jti`s and subjects, and their listener;
//! - `throttle`: [`RedisThrottleStore`], the sign-in throttle's failure budgets and lockouts,
//!   shared by every node;
//! - [`snapshot`]: the node's local copy of the policy, the key ring and the revocations in
//!   its data directory, to start from while Redis is unreachable and to re-seed a Redis that
//!   lost its data, and [`reseed`], which does the latter;
//! - `keyring`: signing keys shared through Redis, private halves encrypted with a
//!   key-encryption key, activated only after every node has had time to learn them;
//! - [`conn`]: reaching Redis (plain, TLS or Sentinel), blocking connections for the actors
//!   with one time budget per request, reconnecting subscriptions, and the shared
//!   [`conn::Health`];
//! - [`monitor`]: the task that PINGs Redis every interval, so that a hung, unreachable or
//!   emptied Redis is noticed on a node that writes nothing, and that marks a node stale past
//!   `cluster.max_staleness_secs`.
//!
//! **Invariant:** a node never guesses. Events apply strictly in version order; a gap or a
//! reconnection is closed by reading Redis (the log, or the whole state when the log no longer
//! reaches back), never by skipping.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms, missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod conn;
mod error;
pub mod keyring;
pub mod monitor;
pub mod policy;
pub mod refresh;
mod reseed;
pub mod revocation;
pub mod snapshot;
#[cfg(feature = "testing")]
#[allow(clippy::expect_used, missing_docs)]
pub mod testing;
pub mod throttle;

pub use config::{ClusterSettings, Names};
pub use conn::{Health, Redis, SyncConn, WriteError};
pub use error::{ClusterError, describe};
pub use monitor::spawn_monitor;
pub use policy::{RedisPolicyBackend, spawn_policy_listener};
pub use refresh::RedisRefreshStore;
pub use reseed::{RESEED_SCRIPT, Reseeded, reseed};
pub use revocation::{RedisRevocationStore, spawn_revocation_listener};
pub use snapshot::{LocalSnapshot, SnapshotWriter};
pub use throttle::RedisThrottleStore;
