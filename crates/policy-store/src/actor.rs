//! [`PolicyStore`]: the actor that owns every write to the policy.
//!
//! It runs on a `SyncArbiter` thread of its own because a durable write blocks on `fsync`. For
//! each change it computes the resulting policies (pure, in core), persists the events, and only
//! then publishes the newest policy to the snapshot readers load from.

use std::sync::{Arc, Mutex};

use actix::{Actor, Handler, SyncContext};
use arc_swap::ArcSwap;
use scopegate_core::{Policy, PolicyEvent};

use crate::backend::PolicyBackend;
use crate::error::StoreError;
use crate::messages::ApplyEvents;

/// The policy-store actor. Create it with [`crate::PolicyStoreHandle::start`].
///
/// Its state is the published snapshot itself: nothing else stores into it, so the latest
/// snapshot is always the latest persisted policy.
#[derive(Clone)]
pub struct PolicyStore {
    /// Where accepted events are persisted before they are published. Behind a mutex only
    /// because `SyncArbiter` builds the actor from an `Fn + Sync` factory; the actor's one
    /// thread is the only user, so the lock never contends.
    backend: Arc<Mutex<Box<dyn PolicyBackend>>>,
    /// The snapshot readers load from; the actor is its only writer.
    snapshot: Arc<ArcSwap<Policy>>,
    /// The backend's name, for logs.
    store: Arc<str>,
}

// === impl PolicyStore ===

impl PolicyStore {
    /// An actor writing to `backend` and publishing to `snapshot`, which must already hold the
    /// policy `backend` loaded.
    pub(crate) fn new(backend: Box<dyn PolicyBackend>, snapshot: Arc<ArcSwap<Policy>>) -> Self {
        Self {
            store: backend.describe().into(),
            backend: Arc::new(Mutex::new(backend)),
            snapshot,
        }
    }

    /// Applies `events` as one unit; see [`ApplyEvents`].
    fn apply(
        &mut self,
        events: Vec<PolicyEvent>,
        expected_version: Option<u64>,
    ) -> Result<u64, StoreError> {
        let current = self.snapshot.load_full();
        if let Some(expected) = expected_version
            && expected != current.version()
        {
            return Err(StoreError::VersionConflict {
                expected,
                actual: current.version(),
            });
        }
        let items = next_policies(&current, events)?;
        let Some(newest) = items.last().map(|(_, p)| p.clone()) else {
            return Ok(current.version());
        };
        self.persist(&items)?;
        let version = newest.version();
        self.snapshot.store(Arc::new(newest));
        let kinds: Vec<&str> = items.iter().map(|(e, _)| e.kind()).collect();
        tracing::info!(
            store = %self.store,
            from = current.version(),
            to = version,
            events = ?kinds,
            "applied policy events"
        );
        Ok(version)
    }

    /// Records `items` durably, or fails leaving the store as it was.
    fn persist(&self, items: &[(PolicyEvent, Policy)]) -> Result<(), StoreError> {
        let mut backend = self.backend.lock().map_err(|_| {
            StoreError::Unavailable(format!(
                "{}: an earlier write panicked; restart scopegate",
                self.store
            ))
        })?;
        backend.append_batch(items).map_err(|e| {
            tracing::error!(store = %self.store, error = %e, "could not persist policy events");
            StoreError::Save(e)
        })
    }
}

/// Applies `events` to `current` in order (pure): each event with the policy it produced. The
/// first refused event fails the whole.
fn next_policies(
    current: &Policy,
    events: Vec<PolicyEvent>,
) -> Result<Vec<(PolicyEvent, Policy)>, StoreError> {
    let mut items: Vec<(PolicyEvent, Policy)> = Vec::with_capacity(events.len());
    for (index, event) in events.into_iter().enumerate() {
        let previous = items.last().map_or(current, |(_, p)| p);
        let next = previous.apply(&event).map_err(|e| {
            tracing::debug!(index, kind = event.kind(), error = %e, "refused policy event");
            StoreError::Invalid(e)
        })?;
        items.push((event, next));
    }
    Ok(items)
}

impl Actor for PolicyStore {
    type Context = SyncContext<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        tracing::debug!(store = %self.store, "policy store stopped");
    }
}

impl Handler<ApplyEvents> for PolicyStore {
    type Result = Result<u64, StoreError>;

    fn handle(&mut self, msg: ApplyEvents, _: &mut Self::Context) -> Self::Result {
        self.apply(msg.events, msg.expected_version)
    }
}
