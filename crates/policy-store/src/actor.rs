//! [`PolicyStore`]: the actor that owns every write to the policy.
//!
//! It runs on a `SyncArbiter` thread of its own because a durable write blocks (on `fsync`, or
//! on the network). For each change it computes the resulting policies (pure, in core),
//! persists the events, and only then publishes the newest policy to the snapshot readers load
//! from.
//!
//! With a shared backend (Redis) the other nodes write too. Their changes reach this actor as
//! [`ApplyRemote`] (pub/sub, in version order) and [`CatchUp`] (after every reconnection, and
//! periodically); `remote` applies them strictly in version order and reads the backend
//! whenever a version is missing, so the snapshot is always a version the store holds. A local
//! change computed on a version another node has already replaced fails in the backend with
//! [`SaveError::Stale`]: the actor catches up, then answers [`StoreError::VersionConflict`] if
//! the caller named the version it expected, or recomputes the change on the new policy and
//! tries again (at most [`MAX_RETRIES`] times).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use actix::{Actor, Handler, SyncContext};
use arc_swap::ArcSwap;
use scopegate_core::{Policy, PolicyEvent};

use crate::applied::{AppliedLog, AppliedVersion, now_us};
use crate::backend::PolicyBackend;
use crate::error::{LoadError, SaveError, StoreError};
use crate::messages::{ApplyEvents, ApplyRemote, CatchUp};

mod remote;

/// How many times a change is recomputed after another node wrote first, before the caller is
/// told the policy keeps changing under it.
pub const MAX_RETRIES: u32 = 3;

/// The policy-store actor. Create it with [`crate::PolicyStoreHandle::start`].
///
/// Its state is the published snapshot itself: nothing else stores into it, so the latest
/// snapshot is always the latest persisted policy this node knows of.
#[derive(Clone)]
pub struct PolicyStore {
    /// Where accepted events are persisted before they are published. Behind a mutex only
    /// because `SyncArbiter` builds the actor from an `Fn + Sync` factory; the actor's one
    /// thread is the only user, so the lock never contends.
    backend: Arc<Mutex<Box<dyn PolicyBackend>>>,
    /// The snapshot readers load from; the actor is its only writer.
    snapshot: Arc<ArcSwap<Policy>>,
    /// When each published version was written and published, for the status endpoint and the
    /// propagation benchmark; shared with the handle, which reads it without messaging.
    applied: AppliedLog,
    /// The backend's name, for logs.
    store: Arc<str>,
    /// Told every policy the store publishes (a cluster node's local snapshot writer).
    observer: Option<Observer>,
}

/// A function told every policy the store publishes, on the store's thread: it must return at
/// once (hand the policy to another thread).
pub type Observer = Arc<dyn Fn(&Arc<Policy>) + Send + Sync>;

// === impl PolicyStore ===

impl PolicyStore {
    /// An actor writing to `backend` and publishing to `snapshot`, which must already hold the
    /// policy `backend` loaded, and recording what it publishes in `applied`.
    pub(crate) fn new(
        backend: Box<dyn PolicyBackend>,
        snapshot: Arc<ArcSwap<Policy>>,
        applied: AppliedLog,
        observer: Option<Observer>,
    ) -> Self {
        Self {
            store: backend.describe().into(),
            backend: Arc::new(Mutex::new(backend)),
            snapshot,
            applied,
            observer,
        }
    }

    /// Applies `events` as one unit by `deadline`; see [`ApplyEvents`].
    fn apply_by(
        &mut self,
        events: &[PolicyEvent],
        expected_version: Option<u64>,
        deadline: Option<Instant>,
    ) -> Result<u64, StoreError> {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(StoreError::Unavailable(format!(
                "the change waited behind other writes to {} until its time ran out; it was \
                 not sent",
                self.store
            )));
        }
        self.set_deadline(deadline);
        let result = self.apply(events, expected_version);
        self.set_deadline(None);
        result
    }

    /// Tells the backend the deadline of the change being applied.
    fn set_deadline(&self, deadline: Option<Instant>) {
        if let Ok(mut backend) = self.backend() {
            backend.set_deadline(deadline);
        }
    }

    /// Applies `events` as one unit; see [`ApplyEvents`].
    fn apply(
        &mut self,
        events: &[PolicyEvent],
        expected_version: Option<u64>,
    ) -> Result<u64, StoreError> {
        let mut retries = 0;
        loop {
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
            let created_at_us = now_us();
            match self.persist(&items, created_at_us) {
                Ok(()) => {}
                Err(SaveError::Stale { stored }) => {
                    tracing::info!(
                        store = %self.store,
                        base = current.version(),
                        stored,
                        "another node changed the policy first; catching up"
                    );
                    self.catch_up_after_stale(current.version(), stored)?;
                    retries += 1;
                    if retries > MAX_RETRIES && expected_version.is_none() {
                        return Err(StoreError::VersionConflict {
                            expected: current.version(),
                            actual: self.snapshot.load().version(),
                        });
                    }
                    continue;
                }
                Err(e @ SaveError::OutcomeUnknown { .. }) => {
                    tracing::warn!(store = %self.store, error = %e, "a policy write got no answer; if the store recorded it, it arrives as a remote change");
                    return Err(save_error(e));
                }
                Err(e) => {
                    tracing::error!(store = %self.store, error = %e, "could not persist policy events");
                    return Err(save_error(e));
                }
            }
            let version = newest.version();
            let versions = items
                .iter()
                .map(|(_, p)| (p.version(), Some(created_at_us)));
            self.publish(newest, versions, false);
            let kinds: Vec<&str> = items.iter().map(|(e, _)| e.kind()).collect();
            tracing::info!(
                store = %self.store,
                from = current.version(),
                to = version,
                events = ?kinds,
                "applied policy events"
            );
            return Ok(version);
        }
    }

    /// Records `items` durably, or fails leaving the store as it was.
    fn persist(
        &self,
        items: &[(PolicyEvent, Policy)],
        created_at_us: u64,
    ) -> Result<(), SaveError> {
        let mut backend = self.backend().map_err(|reason| SaveError::Write {
            store: self.store.to_string(),
            version: items.last().map_or(0, |(_, p)| p.version()),
            reason,
        })?;
        backend.append_batch_at(items, created_at_us)
    }

    /// After a [`SaveError::Stale`] on base version `base`: reads what this node missed, and
    /// fails when that does not move the snapshot forward (the store is behind this node: it
    /// lost data, and writing on it would fork the history).
    fn catch_up_after_stale(&mut self, base: u64, stored: u64) -> Result<(), StoreError> {
        self.catch_up()?;
        if self.snapshot.load().version() > base {
            return Ok(());
        }
        Err(StoreError::StoreBehind {
            store: self.store.to_string(),
            stored,
            current: base,
        })
    }

    /// Publishes `policy` to the readers and records the `(version, created_at_us)` it covers,
    /// `remote` when another node wrote them.
    fn publish(
        &self,
        policy: Policy,
        versions: impl IntoIterator<Item = (u64, Option<u64>)>,
        remote: bool,
    ) {
        let policy = Arc::new(policy);
        self.snapshot.store(Arc::clone(&policy));
        if let Some(observer) = &self.observer {
            observer(&policy);
        }
        let applied_at_us = now_us();
        for (version, created_at_us) in versions {
            self.applied.push(AppliedVersion {
                version,
                created_at_us,
                applied_at_us,
                remote,
            });
        }
    }

    /// The backend, or why it cannot be used.
    fn backend(&self) -> Result<MutexGuard<'_, Box<dyn PolicyBackend>>, String> {
        self.backend.lock().map_err(|_| {
            format!(
                "{}: an earlier write panicked; restart scopegate",
                self.store
            )
        })
    }
}

/// Applies `events` to `current` in order (pure): each event with the policy it produced. The
/// first refused event fails the whole.
fn next_policies(
    current: &Policy,
    events: &[PolicyEvent],
) -> Result<Vec<(PolicyEvent, Policy)>, StoreError> {
    let mut items: Vec<(PolicyEvent, Policy)> = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let previous = items.last().map_or(current, |(_, p)| p);
        let next = previous.apply(event).map_err(|e| {
            tracing::debug!(index, kind = event.kind(), error = %e, "refused policy event");
            StoreError::Invalid(e)
        })?;
        items.push((event.clone(), next));
    }
    Ok(items)
}

/// What the caller of a failed write sees: an unreachable store is [`StoreError::Unavailable`]
/// (503), anything else the write's own error.
fn save_error(e: SaveError) -> StoreError {
    match e {
        SaveError::Unavailable {
            store,
            version,
            reason,
        } => StoreError::Unavailable(format!(
            "{store} did not record version {version}: {reason}"
        )),
        SaveError::OutcomeUnknown {
            store,
            version,
            reason,
        } => StoreError::OutcomeUnknown(format!(
            "{store} may or may not have recorded version {version}: {reason}"
        )),
        other => StoreError::Save(other),
    }
}

/// What the caller of a failed read sees: an unreachable store is [`StoreError::Unavailable`]
/// (503), anything else the read's own error.
fn load_error(e: LoadError) -> StoreError {
    match e {
        LoadError::Unavailable { store, reason } => {
            StoreError::Unavailable(format!("{store}: {reason}"))
        }
        other => StoreError::Load(other),
    }
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
        self.apply_by(&msg.events, msg.expected_version, msg.deadline)
    }
}

impl Handler<ApplyRemote> for PolicyStore {
    type Result = ();

    fn handle(&mut self, msg: ApplyRemote, _: &mut Self::Context) {
        self.apply_remote(msg);
    }
}

impl Handler<CatchUp> for PolicyStore {
    type Result = ();

    fn handle(&mut self, _: CatchUp, _: &mut Self::Context) {
        let result = self.catch_up();
        self.log_catch_up(result);
    }
}
