//! [`PolicyBackend`]: where the policy store keeps its events, behind a trait so that the
//! embedded database and Redis are interchangeable.
//!
//! A backend is owned by the [`crate::PolicyStore`] actor and called only from its thread, so
//! its methods take `&mut self` and may block (an embedded commit waits for `fsync`, a Redis
//! write for the network).
//!
//! A shared backend (Redis) has several writers, one per node. Each write names the version it
//! was computed on and fails with [`SaveError::Stale`] when another node wrote first; the store
//! then reads what it missed with [`PolicyBackend::catch_up`] and recomputes. The embedded
//! backend has a single writer, so the defaults of those methods are all it needs.

use std::time::{Duration, Instant};

use scopegate_core::{Policy, PolicyEvent};
use serde::{Deserialize, Serialize};

use crate::error::{LoadError, SaveError};

pub mod embedded;

/// Durable storage for the policy's event log.
///
/// The contract the store relies on: after [`PolicyBackend::append`] (or
/// [`PolicyBackend::append_batch`]) returns `Ok`, a later [`PolicyBackend::load`], in this
/// process or after a crash, returns a policy at least that new; after it returns `Err`, nothing
/// of that call is visible.
pub trait PolicyBackend: Send + 'static {
    /// Loads persisted state; `Ok(None)` when the store has never been written.
    ///
    /// A store whose content is damaged must fail with [`LoadError::Corrupt`], never look empty.
    fn load(&mut self) -> Result<Option<Policy>, LoadError>;

    /// Durably records `event`, which produced `policy` (at `policy.version()`), before
    /// returning.
    ///
    /// A backend with several writers fails with [`SaveError::Stale`] (recording nothing) when
    /// the store is not at `policy.version() - 1`, the version the event was applied to.
    fn append(&mut self, event: &PolicyEvent, policy: &Policy) -> Result<(), SaveError>;

    /// Durably records several events, each with the policy it produced, in version order, as
    /// one unit: all of them or none.
    ///
    /// The default records them one by one, which is *not* atomic if a later one fails; backends
    /// that can do better (every real one should) override it.
    fn append_batch(&mut self, items: &[(PolicyEvent, Policy)]) -> Result<(), SaveError> {
        for (event, policy) in items {
            self.append(event, policy)?;
        }
        Ok(())
    }

    /// [`PolicyBackend::append_batch`], stamping the entries with `created_at_us` (the writer's
    /// clock, microseconds since the Unix epoch) where the backend's log carries a time, so that
    /// other nodes can measure how long a change took to reach them. The store always writes
    /// through this method; the default ignores the stamp.
    fn append_batch_at(
        &mut self,
        items: &[(PolicyEvent, Policy)],
        created_at_us: u64,
    ) -> Result<(), SaveError> {
        let _ = created_at_us;
        self.append_batch(items)
    }

    /// What other writers recorded after version `from`: the events `from + 1 ..=` the stored
    /// version in order, or the whole stored policy when the log no longer reaches back to
    /// `from + 1` (or the store holds something other than a continuation of `from`).
    ///
    /// The default is for a backend with a single writer, the store itself: nothing to catch
    /// up on.
    fn catch_up(&mut self, from: u64) -> Result<CatchUp, LoadError> {
        let _ = from;
        Ok(CatchUp::Events(Vec::new()))
    }

    /// The longest one change may wait on this backend in all (a networked backend's
    /// configured timeout); `None` for a local one, whose writes are bounded by the disk. The
    /// store stamps each change with a deadline this far ahead when it is asked for it, so that
    /// waiting behind other changes counts too.
    fn request_timeout(&self) -> Option<Duration> {
        None
    }

    /// Makes every call until the next `set_deadline(None)` finish by `deadline` (a write, the
    /// catch-up after a stale write, the write again): one change waits on the backend at most
    /// until then. The default, for a backend that does not wait on a network, ignores it.
    fn set_deadline(&mut self, deadline: Option<Instant>) {
        let _ = deadline;
    }

    /// Short human name for logs (`embedded redb at /var/lib/scopegate/policy.redb`).
    fn describe(&self) -> String;
}

/// What a node missed, as [`PolicyBackend::catch_up`] reads it.
#[derive(Debug, Clone)]
pub enum CatchUp {
    /// The missing events, in version order (empty: nothing was missed).
    Events(Vec<LoggedEvent>),
    /// The whole stored policy, at the stored version: the log was trimmed past the caller's
    /// version, so the events in between are gone.
    Full(Policy),
}

/// One entry of a shared event log, and the message announcing it to the other nodes (Redis
/// stores and publishes exactly this JSON: `{"version": n, "created_at_us": t, "event": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// The version `event` produced.
    pub version: u64,
    /// When the writing node recorded it: its clock, microseconds since the Unix epoch.
    pub created_at_us: u64,
    /// The change.
    pub event: PolicyEvent,
}

pub use embedded::EmbeddedBackend;
