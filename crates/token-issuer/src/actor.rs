//! [`TokenIssuer`]: the actor that owns the refresh-token store.
//!
//! # Why a plain actor on its own arbiter
//!
//! redb commits are blocking (they fsync), so the actor must not share a thread with the HTTP
//! workers. Two actix shapes give it a thread of its own: a `SyncArbiter` with one thread, or an
//! ordinary `Context` actor started on a dedicated [`actix::Arbiter`]. We use the latter: it
//! blocks nothing but its own thread just the same, it can be built from a `FnOnce` (the store
//! is moved in, not shared behind a lock as a `SyncArbiter` factory would need), and its
//! `Context` has timers, which the periodic pruning uses. One actor means one writer, so every
//! message is applied in arrival order and a rotation can never race another one.

use std::time::Duration;

use actix::{Actor, AsyncContext, Context, Handler};

use crate::Clock;
use crate::grant::refresh_scopes;
use crate::messages::{
    IssueRefresh, LookupRefresh, PruneExpired, RevokeFamily, RevokeSubject, RotateRefresh,
};
use crate::refresh::{RefreshRecord, RefreshStore, Revocation, Rotate, RotateOutcome, StoreError};

/// How often expired refresh tokens are deleted.
const PRUNE_INTERVAL: Duration = Duration::from_secs(600);

/// Owns the refresh store and applies [`crate::messages`] to it, one at a time.
pub(crate) struct TokenIssuer {
    /// Where refresh tokens live; only this actor touches it.
    store: Box<dyn RefreshStore>,
    /// The time source for the pruning timer (messages carry their own `now`).
    clock: Clock,
}

// === impl TokenIssuer ===

impl TokenIssuer {
    pub(crate) fn new(store: Box<dyn RefreshStore>, clock: Clock) -> Self {
        Self { store, clock }
    }
}

impl Actor for TokenIssuer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(PRUNE_INTERVAL, |act, ctx| {
            ctx.notify(PruneExpired { now: (act.clock)() });
        });
        ctx.notify(PruneExpired {
            now: (self.clock)(),
        });
    }
}

impl Handler<IssueRefresh> for TokenIssuer {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: IssueRefresh, _: &mut Self::Context) -> Self::Result {
        self.store.insert(&msg.hash, &msg.record)
    }
}

impl Handler<RotateRefresh> for TokenIssuer {
    type Result = Result<RotateOutcome, StoreError>;

    fn handle(&mut self, msg: RotateRefresh, _: &mut Self::Context) -> Self::Result {
        let rotate = Rotate {
            presented: &msg.presented,
            replacement: &msg.replacement,
            client_id: &msg.client_id,
            now: msg.now,
            expires_at: msg.expires_at,
        };
        let outcome = self.store.rotate(rotate, &mut |record| {
            refresh_scopes(&msg.policy, record, &msg.scope, msg.empty_grant)
        })?;
        if matches!(outcome, RotateOutcome::Reused { .. }) {
            tracing::warn!(
                client_id = ?crate::service::loggable(&msg.client_id),
                "refresh token reuse detected: its whole family is revoked"
            );
        }
        Ok(outcome)
    }
}

impl Handler<RevokeFamily> for TokenIssuer {
    type Result = Result<Revocation, StoreError>;

    fn handle(&mut self, msg: RevokeFamily, _: &mut Self::Context) -> Self::Result {
        self.store.revoke_family(&msg.hash, &msg.client_id)
    }
}

impl Handler<RevokeSubject> for TokenIssuer {
    type Result = Result<usize, StoreError>;

    fn handle(&mut self, msg: RevokeSubject, _: &mut Self::Context) -> Self::Result {
        self.store.revoke_subject(&msg.subject)
    }
}

impl Handler<LookupRefresh> for TokenIssuer {
    type Result = Result<Option<RefreshRecord>, StoreError>;

    fn handle(&mut self, msg: LookupRefresh, _: &mut Self::Context) -> Self::Result {
        self.store.get(&msg.hash)
    }
}

impl Handler<PruneExpired> for TokenIssuer {
    type Result = Result<usize, StoreError>;

    fn handle(&mut self, msg: PruneExpired, _: &mut Self::Context) -> Self::Result {
        let result = self.store.prune_expired(msg.now);
        match &result {
            Ok(0) => {}
            Ok(n) => tracing::debug!(pruned = n, "expired refresh tokens deleted"),
            Err(e) => tracing::warn!(error = %e, "pruning expired refresh tokens failed"),
        }
        result
    }
}
