//! [`ValidatorActor`]: the actor that owns the revocation list and its store.
//!
//! # Why a plain actor on its own arbiter
//!
//! Store writes block (redb fsyncs on commit), so the actor must not share a thread with the
//! HTTP workers. As in the token issuer, it is an ordinary `Context` actor started on a
//! dedicated [`actix::Arbiter`]: the store is moved in (no lock around it), and the `Context`
//! has the timer that prunes. One actor means one writer, so revocations apply in arrival
//! order and the published snapshot is always the store's content.
//!
//! Decisions never message this actor: they read the [`SharedRevocations`] snapshot it
//! publishes after each durable write.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context, Handler};

use crate::Clock;
use crate::error::StoreError;
use crate::messages::{PruneExpired, Revoke};
use crate::revocation::{RevocationSet, RevocationStore, SharedRevocations};

/// How often revocations of expired tokens are forgotten.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

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
    /// The time source for the pruning timer (messages carry their own `now`).
    clock: Clock,
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
        }
    }

    fn publish(&self) {
        self.published.store(Arc::new(self.set.clone()));
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
        let exp = match self.set.get(&msg.jti) {
            Some(&old) => old.max(msg.exp),
            None => msg.exp,
        };
        self.set.insert(msg.jti.clone(), exp);
        self.publish();
        tracing::info!(jti = %msg.jti, exp, revoked = self.set.len(), "access token revoked");
        Ok(())
    }
}

impl Handler<PruneExpired> for ValidatorActor {
    type Result = Result<usize, StoreError>;

    fn handle(&mut self, msg: PruneExpired, _: &mut Self::Context) -> Self::Result {
        let cutoff = msg.now.saturating_sub(self.leeway_secs);
        // Forgetting an entry whose token is expired is always safe, so memory is pruned even
        // if the store is not; the store catches up at the next tick (or the next load).
        let before = self.set.len();
        self.set.retain(|_, exp| *exp >= cutoff);
        if self.set.len() != before {
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
