//! [`ValidatorActor`]: the actor that owns the revocation list and its store.
//!
//! # Why a plain actor on its own arbiter
//!
//! Store writes block (redb fsyncs on commit; a Redis store waits for the server), so the actor
//! must not share a thread with the HTTP workers. As in the token issuer, it is an ordinary
//! `Context` actor started on a dedicated [`actix::Arbiter`]: the store is moved in (no lock
//! around it), and the `Context` has the timers that prune and retry. One actor means one
//! writer, so revocations apply in arrival order and the published snapshot always contains
//! everything the store acknowledged.
//!
//! Decisions never message this actor: they read the [`SharedRevocations`] snapshot it
//! publishes after each durable write, each remote event ([`ApplyRemote`]) and each reload
//! ([`Resync`]).

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context, Handler};

use crate::Clock;
use crate::error::StoreError;
use crate::messages::{ApplyRemote, PruneExpired, Resync, Revoke, RevokeSubject};
use crate::revocation::{RevocationSet, RevocationStore, SharedRevocations, SubjectRevocation};

/// How often revocations of expired tokens are forgotten.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// The first wait before retrying a failed [`Resync`]; doubles up to [`RESYNC_MAX_BACKOFF`].
const RESYNC_FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The longest wait between two attempts of a failing [`Resync`].
const RESYNC_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Owns the revocation store and the master copy of the revocation set.
pub(crate) struct ValidatorActor {
    /// Where revocations persist; only this actor touches it.
    store: Box<dyn RevocationStore>,
    /// The master copy; each change is published to `published` as an O(1) clone.
    set: RevocationSet,
    /// What decisions read.
    published: SharedRevocations,
    /// Revocations are kept this long past their token's `exp`, since the verifier still
    /// accepts the token that long.
    leeway_secs: u64,
    /// The time source for the timers and [`Resync`] (other messages carry their own `now`).
    clock: Clock,
    /// The wait before the next retry of a failed [`Resync`]; `None` when no retry is
    /// scheduled, so failures arriving together schedule one retry, not one each.
    resync_backoff: Option<Duration>,
}

// === impl ValidatorActor ===

impl ValidatorActor {
    /// An actor over `store`, whose content is already `set` and published in `published`.
    pub(crate) fn new(
        store: Box<dyn RevocationStore>,
        set: RevocationSet,
        published: SharedRevocations,
        leeway_secs: u64,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            set,
            published,
            leeway_secs,
            clock,
            resync_backoff: None,
        }
    }

    fn publish(&self) {
        self.published.store(Arc::new(self.set.clone()));
    }

    /// Schedules another [`Resync`] after a failed one, unless one is already scheduled.
    fn retry_resync(&mut self, ctx: &mut Context<Self>) {
        if self.resync_backoff.is_some() {
            return;
        }
        let delay = RESYNC_FIRST_BACKOFF;
        self.resync_backoff = Some(delay);
        ctx.run_later(delay, |act, ctx| act.retry_due(ctx));
    }

    /// A scheduled retry: reload, and schedule the next one (longer) if it fails again.
    fn retry_due(&mut self, ctx: &mut Context<Self>) {
        if self.resync().is_ok() {
            self.resync_backoff = None;
            return;
        }
        let delay = self
            .resync_backoff
            .map_or(RESYNC_FIRST_BACKOFF, |d| (d * 2).min(RESYNC_MAX_BACKOFF));
        self.resync_backoff = Some(delay);
        ctx.run_later(delay, |act, ctx| act.retry_due(ctx));
    }

    /// Reloads the store and merges it into the set; how many entries changed.
    fn resync(&mut self) -> Result<usize, StoreError> {
        let cutoff = (self.clock)().saturating_sub(self.leeway_secs);
        let loaded = self.store.load(cutoff).inspect_err(|e| {
            tracing::warn!(error = %e, "reloading the revocation list failed; will retry");
        })?;
        let changed = self.set.merge(loaded);
        if changed > 0 {
            self.publish();
            tracing::info!(
                changed,
                revoked = self.set.len(),
                "revocations caught up from the store"
            );
        }
        Ok(changed)
    }
}

impl Actor for ValidatorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // The start-up load already pruned; the first timer tick is a full interval away.
        ctx.run_interval(PRUNE_INTERVAL, |act, ctx| {
            ctx.notify(PruneExpired { now: (act.clock)() });
        });
    }
}

impl Handler<Revoke> for ValidatorActor {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: Revoke, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.store.insert(&msg.jti, msg.exp) {
            tracing::error!(jti = %msg.jti, error = %e, "revocation could not be stored");
            return Err(e);
        }
        if self.set.insert_token(&msg.jti, msg.exp) {
            self.publish();
        }
        tracing::info!(jti = %msg.jti, exp = msg.exp, revoked = self.set.len(), "access token revoked");
        Ok(())
    }
}

impl Handler<RevokeSubject> for ValidatorActor {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: RevokeSubject, _: &mut Self::Context) -> Self::Result {
        let RevokeSubject {
            subject,
            before,
            keep_until,
        } = msg;
        if let Err(e) = self.store.insert_subject(&subject, before, keep_until) {
            tracing::error!(subject = ?subject, error = %e, "subject revocation could not be stored");
            return Err(e);
        }
        if self
            .set
            .insert_subject(&subject, SubjectRevocation { before, keep_until })
        {
            self.publish();
        }
        tracing::info!(subject = ?subject, before, keep_until, "access tokens of a subject revoked");
        Ok(())
    }
}

impl Handler<ApplyRemote> for ValidatorActor {
    type Result = ();

    fn handle(&mut self, msg: ApplyRemote, _: &mut Self::Context) {
        if self.set.apply(&msg.event) {
            self.publish();
            tracing::debug!(event = ?msg.event, "revocation from another node applied");
        }
    }
}

impl Handler<Resync> for ValidatorActor {
    type Result = Result<usize, StoreError>;

    fn handle(&mut self, _: Resync, ctx: &mut Self::Context) -> Self::Result {
        let result = self.resync();
        if result.is_err() {
            self.retry_resync(ctx);
        }
        result
    }
}

impl Handler<PruneExpired> for ValidatorActor {
    type Result = Result<usize, StoreError>;

    fn handle(&mut self, msg: PruneExpired, _: &mut Self::Context) -> Self::Result {
        let cutoff = msg.now.saturating_sub(self.leeway_secs);
        // Forgetting an entry whose token is expired is always safe, so memory is pruned even
        // if the store is not; the store catches up at the next tick (or the next load).
        if self.set.retain(cutoff) {
            self.publish();
        }
        let result = self.store.prune(cutoff);
        match &result {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "revocations of expired tokens deleted"),
            Err(e) => tracing::warn!(error = %e, "pruning expired revocations failed"),
        }
        result
    }
}
