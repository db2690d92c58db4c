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
//! # Layout
//! - `actor`: [`PolicyStore`], its state, and the handler that applies, persists, publishes.
//! - [`messages`]: [`messages::ApplyEvents`], the one thing the actor is asked to do.
//! - `handle`: [`PolicyStoreHandle`], the typed façade: start, reader, apply.
//! - `reader`: [`PolicyReader`], the lock-free read side.
//! - [`backend`]: the [`PolicyBackend`] trait, one implementation per storage.
//! - [`backend::embedded`]: [`EmbeddedBackend`], a redb database file, the single-node default.
//! - `error`: [`LoadError`], [`SaveError`] and [`StoreError`].
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms, missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod actor;
pub mod backend;
mod error;
mod handle;
pub mod messages;
mod reader;

pub use actor::PolicyStore;
pub use backend::{EmbeddedBackend, PolicyBackend};
pub use error::{LoadError, SaveError, StoreError};
pub use handle::PolicyStoreHandle;
pub use reader::PolicyReader;
