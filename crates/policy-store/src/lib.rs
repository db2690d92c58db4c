//! The policy store of scopegate: the [`PolicyStore`] actor owns every write to the policy.
//!
//! At startup it loads the persisted policy (or seeds an empty store from the declarative
//! policy file). For each change it applies the [`scopegate_core::PolicyEvent`]s with the one
//! pure function in core, persists the accepted events durably, and only then publishes the new
//! [`scopegate_core::Policy`] as an immutable snapshot.
//!
//! **Invariant:** only the actor writes. Request handlers read through a [`PolicyReader`], an
//! atomic load of the latest snapshot, and never message the actor, so the hot paths wait
//! neither on writes nor on the disk. A snapshot is published only after its events are durable,
//! so nothing a reader ever saw can be lost by a crash.
//!
//! With a shared backend (Redis, in `scopegate-cluster`) every node runs its own store; other
//! nodes' changes reach it as messages (pub/sub) or through a catch-up read of the backend, and
//! it applies them strictly in version order, exactly as it applies its own.
//!
//! # Layout
//! - `actor`: [`PolicyStore`], its state, and the handler that applies, persists, publishes.
//! - `actor/remote`: how the actor takes in other nodes' changes, in version order.
//! - [`messages`]: [`messages::ApplyEvents`] (a local change), [`messages::ApplyRemote`] and
//!   [`messages::CatchUp`] (other nodes' changes).
//! - `handle`: [`PolicyStoreHandle`], the typed façade: start, reader, apply, remote changes.
//! - `applied`: [`AppliedVersion`], when each published version was written and published.
//! - `reader`: [`PolicyReader`], the lock-free read side.
//! - [`backend`]: the [`PolicyBackend`] trait, one implementation per storage, and what a
//!   shared one returns: [`CatchUp`], [`LoggedEvent`].
//! - [`backend::embedded`]: [`EmbeddedBackend`], a redb database file, the single-node default.
//! - `error`: [`LoadError`], [`SaveError`] and [`StoreError`].
//! - [`private_fs`]: the `0700` data directory and `0600` database files of every embedded store.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms, missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod actor;
mod applied;
pub mod backend;
mod error;
mod handle;
pub mod messages;
pub mod private_fs;
mod reader;

pub use actor::{MAX_RETRIES, Observer, PolicyStore};
pub use applied::{APPLIED_CAPACITY, AppliedVersion};
pub use backend::{CatchUp, EmbeddedBackend, LoggedEvent, PolicyBackend};
pub use error::{LoadError, SaveError, StoreError};
pub use handle::{Origin, PolicyStoreHandle};
pub use reader::PolicyReader;
