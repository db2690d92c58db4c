//! [`PolicyStoreHandle`]: the typed façade the server holds: it starts the actor, hands out
//! readers, and turns mailbox errors into [`StoreError::Unavailable`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Addr, SyncArbiter, System};
use arc_swap::ArcSwap;
use scopegate_core::{Policy, PolicyDocument, PolicyEvent};

use crate::actor::{Observer, PolicyStore};
use crate::applied::{AppliedLog, AppliedVersion};
use crate::backend::{LoggedEvent, PolicyBackend};
use crate::error::{LoadError, SaveError, StoreError};
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
    /// How long a change may wait in all ([`PolicyBackend::request_timeout`]).
    request_timeout: Option<Duration>,
}

/// Where the policy a store started with came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The store's own policy.
    Stored,
    /// The store was empty: the policy file, now recorded.
    Seeded,
    /// The store was empty and there was no policy file.
    Empty,
    /// The node's own snapshot of an earlier run, because the store could not be reached (or
    /// had lost its data). Catch-ups bring it up to date once the store answers.
    Resumed,
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
        backend: Box<dyn PolicyBackend>,
        seed: Option<PolicyDocument>,
    ) -> Result<Self, StoreError> {
        Self::start_or_resume(backend, seed, None, None).map(|(handle, _)| handle)
    }

    /// [`PolicyStoreHandle::start`] for a node that kept a snapshot of an earlier run
    /// (`resume`): when the store cannot be reached, the node starts from that snapshot
    /// instead of failing, and when the store is empty although the snapshot holds a policy,
    /// the store has lost its data: the node starts from the snapshot instead of seeding the
    /// store from the policy file (which would silently drop every change made since). In both
    /// cases the catch-ups bring the node up to date once the store answers; writes fail until
    /// then. `observer` is told the starting policy and every one published after it (a
    /// cluster node keeps its local snapshot with it). Returns where the starting policy came
    /// from.
    pub fn start_or_resume(
        mut backend: Box<dyn PolicyBackend>,
        seed: Option<PolicyDocument>,
        resume: Option<Policy>,
        observer: Option<Observer>,
    ) -> Result<(Self, Origin), StoreError> {
        if System::try_current().is_none() {
            return Err(StoreError::Unavailable(
                "PolicyStoreHandle::start must be called inside a running actix System".to_owned(),
            ));
        }
        let (policy, origin) = initial_policy(backend.as_mut(), seed, resume)?;
        let request_timeout = backend.request_timeout();
        let policy = Arc::new(policy);
        if let Some(observer) = &observer {
            observer(&policy);
        }
        let snapshot = Arc::new(ArcSwap::new(policy));
        let applied = AppliedLog::default();
        let actor = PolicyStore::new(backend, Arc::clone(&snapshot), applied.clone(), observer);
        let addr = SyncArbiter::start(1, move || actor.clone());
        let handle = Self {
            addr,
            reader: PolicyReader::new(snapshot),
            applied,
            request_timeout,
        };
        Ok((handle, origin))
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
    ///
    /// With a networked backend the whole call, waiting behind other changes included, lasts
    /// at most the backend's [`PolicyBackend::request_timeout`]: a change still queued then
    /// fails with [`StoreError::Unavailable`] (not applied), one sent without an answer with
    /// [`StoreError::OutcomeUnknown`].
    pub async fn apply(
        &self,
        events: Vec<PolicyEvent>,
        expected_version: Option<u64>,
    ) -> Result<u64, StoreError> {
        let deadline = self.request_timeout.map(|t| Instant::now() + t);
        self.addr
            .send(ApplyEvents {
                events,
                expected_version,
                deadline,
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

/// The policy the store starts with: persisted state, else (the store unreachable, or empty
/// after losing its data) the node's snapshot `resume`, else the seeded policy, else empty.
fn initial_policy(
    backend: &mut dyn PolicyBackend,
    seed: Option<PolicyDocument>,
    resume: Option<Policy>,
) -> Result<(Policy, Origin), StoreError> {
    let store = backend.describe();
    let (loaded, resume) = match (backend.load(), resume) {
        (Ok(loaded), resume) => (loaded, resume),
        (Err(LoadError::Unavailable { reason, .. }), Some(policy)) => {
            tracing::warn!(
                %store,
                %reason,
                version = policy.version(),
                "the policy store cannot be reached: starting from this node's local snapshot; \
                 writes fail until the store answers and the node has caught up"
            );
            return Ok((policy, Origin::Resumed));
        }
        (Err(e), _) => return Err(e.into()),
    };
    let resume = match loaded {
        Some(policy) => {
            tracing::info!(%store, version = policy.version(), "loaded the stored policy");
            if seed.is_some() {
                tracing::info!(
                    %store,
                    "the store already holds a policy, so the policy file is not applied again; \
                     import it through the admin API to replace the stored policy"
                );
            }
            return Ok((policy, Origin::Stored));
        }
        None => resume.filter(|p| p.version() > 0),
    };
    if let Some(policy) = resume {
        tracing::error!(
            %store,
            version = policy.version(),
            "the policy store is empty but this node's local snapshot holds a policy: the store \
             has lost its data. Starting from the snapshot and not seeding the store from the \
             policy file; writes are refused until the store is re-seeded (scopegate cluster \
             reseed)"
        );
        return Ok((policy, Origin::Resumed));
    }
    let Some(doc) = seed else {
        tracing::info!(%store, version = 0, "the store is empty and there is no policy file: starting with the empty policy");
        return Ok((Policy::default(), Origin::Empty));
    };
    let event = PolicyEvent::ReplaceAll(doc);
    let policy = Policy::default()
        .apply(&event)
        .map_err(StoreError::SeedInvalid)?;
    match backend.append(&event, &policy) {
        Ok(()) => {
            tracing::info!(%store, version = policy.version(), "seeded the empty store from the policy file");
            Ok((policy, Origin::Seeded))
        }
        // Another node seeded (or wrote) the shared store between our load and our write: its
        // policy wins, ours is not recorded.
        Err(SaveError::Stale { stored }) => match backend.load()? {
            Some(policy) => {
                tracing::info!(%store, version = policy.version(), "another node seeded the store first; loaded its policy");
                Ok((policy, Origin::Stored))
            }
            None => Err(SaveError::Stale { stored }.into()),
        },
        Err(e) => Err(e.into()),
    }
}
