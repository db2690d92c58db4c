//! [`PolicyStoreHandle`]: the typed façade the server holds: it starts the actor, hands out
//! readers, and turns mailbox errors into [`StoreError::Unavailable`].

use std::sync::Arc;

use actix::{Addr, SyncArbiter, System};
use arc_swap::ArcSwap;
use scopegate_core::{Policy, PolicyDocument, PolicyEvent};

use crate::actor::PolicyStore;
use crate::applied::{AppliedLog, AppliedVersion};
use crate::backend::{LoggedEvent, PolicyBackend};
use crate::error::{SaveError, StoreError};
use crate::messages::{ApplyEvents, ApplyRemote, CatchUp};
use crate::reader::PolicyReader;

/// A cheap-to-clone handle on a running [`PolicyStore`].
#[derive(Clone)]
pub struct PolicyStoreHandle {
    /// The actor, for writes.
    addr: Addr<PolicyStore>,
    /// The snapshot the actor publishes to, for reads that never message it.
    reader: PolicyReader,
    /// The versions the actor published and when, read without messaging it.
    applied: AppliedLog,
}

// === impl PolicyStoreHandle ===

impl PolicyStoreHandle {
    /// Loads the policy and starts the actor on a thread of its own (an actix `SyncArbiter`
    /// with one thread, because durable writes block on `fsync`).
    ///
    /// The starting policy is the persisted state if there is any; else `seed` applied as
    /// [`PolicyEvent::ReplaceAll`] (version 1) and persisted; else the empty policy (version 0).
    /// A store that holds state is never re-seeded: changes made through the admin API win over
    /// the policy file. When several nodes seed one shared store at once, exactly one seed is
    /// recorded: the others find the store written ([`SaveError::Stale`]) and load it.
    ///
    /// Loading blocks the calling thread. Must be called inside a running actix `System`.
    pub fn start(
        mut backend: Box<dyn PolicyBackend>,
        seed: Option<PolicyDocument>,
    ) -> Result<Self, StoreError> {
        if System::try_current().is_none() {
            return Err(StoreError::Unavailable(
                "PolicyStoreHandle::start must be called inside a running actix System".to_owned(),
            ));
        }
        let policy = initial_policy(backend.as_mut(), seed)?;
        let snapshot = Arc::new(ArcSwap::from_pointee(policy));
        let applied = AppliedLog::default();
        let actor = PolicyStore::new(backend, Arc::clone(&snapshot), applied.clone());
        let addr = SyncArbiter::start(1, move || actor.clone());
        Ok(Self {
            addr,
            reader: PolicyReader::new(snapshot),
            applied,
        })
    }

    /// A reader of the current policy; readers never message the actor.
    pub fn reader(&self) -> PolicyReader {
        self.reader.clone()
    }

    /// Applies `events` in order as one unit and returns the new version: all are accepted,
    /// persisted and published, or none is (the first invalid one fails the call with its
    /// [`StoreError::Invalid`]; a failed write fails it with [`StoreError::Save`]).
    ///
    /// With `expected_version: Some(v)`, fails with [`StoreError::VersionConflict`] unless the
    /// policy is at version `v`.
    pub async fn apply(
        &self,
        events: Vec<PolicyEvent>,
        expected_version: Option<u64>,
    ) -> Result<u64, StoreError> {
        self.addr
            .send(ApplyEvents {
                events,
                expected_version,
            })
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// Hands another node's event to the store (from the pub/sub listener): applied if it is
    /// the next version, ignored if this node already has it, a catch-up from the backend if
    /// versions are missing. Does not wait (callable from any thread or task); if the actor has
    /// stopped the event is dropped, which a later catch-up would repair anyway.
    pub fn apply_remote(&self, entry: LoggedEvent) {
        self.addr.do_send(ApplyRemote {
            version: entry.version,
            created_at_us: entry.created_at_us,
            event: entry.event,
        });
    }

    /// Asks the store to read whatever this node missed from the backend (after a
    /// (re)subscription, and periodically). Does not wait.
    pub fn catch_up(&self) {
        self.addr.do_send(CatchUp);
    }

    /// The versions this node published since it started (the last
    /// [`crate::APPLIED_CAPACITY`]), oldest first, with when each was written and published.
    /// Does not message the actor.
    pub fn applied(&self) -> Vec<AppliedVersion> {
        self.applied.all()
    }

    /// The newest entry of [`PolicyStoreHandle::applied`]; `None` until the first change after
    /// start.
    pub fn last_applied(&self) -> Option<AppliedVersion> {
        self.applied.last()
    }

    /// The actor's address, for callers that compose actix messages themselves (a
    /// `Recipient<ApplyEvents>`, say). Prefer [`PolicyStoreHandle::apply`].
    pub fn addr(&self) -> &Addr<PolicyStore> {
        &self.addr
    }
}

impl std::fmt::Debug for PolicyStoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyStoreHandle")
            .field("version", &self.reader.version())
            .finish_non_exhaustive()
    }
}

/// The policy the store starts with: persisted state, else the seeded policy, else empty.
fn initial_policy(
    backend: &mut dyn PolicyBackend,
    seed: Option<PolicyDocument>,
) -> Result<Policy, StoreError> {
    let store = backend.describe();
    if let Some(policy) = backend.load()? {
        tracing::info!(%store, version = policy.version(), "loaded the stored policy");
        if seed.is_some() {
            tracing::info!(
                %store,
                "the store already holds a policy, so the policy file is not applied again; \
                 import it through the admin API to replace the stored policy"
            );
        }
        return Ok(policy);
    }
    let Some(doc) = seed else {
        tracing::info!(%store, version = 0, "the store is empty and there is no policy file: starting with the empty policy");
        return Ok(Policy::default());
    };
    let event = PolicyEvent::ReplaceAll(doc);
    let policy = Policy::default()
        .apply(&event)
        .map_err(StoreError::SeedInvalid)?;
    match backend.append(&event, &policy) {
        Ok(()) => {
            tracing::info!(%store, version = policy.version(), "seeded the empty store from the policy file");
            Ok(policy)
        }
        // Another node seeded (or wrote) the shared store between our load and our write: its
        // policy wins, ours is not recorded.
        Err(SaveError::Stale { stored }) => match backend.load()? {
            Some(policy) => {
                tracing::info!(%store, version = policy.version(), "another node seeded the store first; loaded its policy");
                Ok(policy)
            }
            None => Err(SaveError::Stale { stored }.into()),
        },
        Err(e) => Err(e.into()),
    }
}
