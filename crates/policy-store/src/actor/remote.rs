//! How [`PolicyStore`] takes in other nodes' changes: strictly in version order, from pub/sub
//! messages while they arrive in sequence, from the backend's log when one is missing, and from
//! the whole stored policy when the log no longer reaches back or this node's policy no longer
//! accepts the next event (it diverged: a bug, reported and repaired, never papered over).

use scopegate_core::Policy;

use super::{PolicyStore, load_error};
use crate::backend::{CatchUp, LoggedEvent};
use crate::error::StoreError;
use crate::messages::ApplyRemote;

// === impl PolicyStore ===

impl PolicyStore {
    /// Applies another node's event if it is the next version; see [`ApplyRemote`].
    pub(super) fn apply_remote(&mut self, msg: ApplyRemote) {
        let current = self.snapshot.load_full();
        let next = current.version() + 1;
        if msg.version < next {
            tracing::trace!(store = %self.store, version = msg.version, current = current.version(), "already applied");
            return;
        }
        if msg.version > next {
            tracing::debug!(
                store = %self.store,
                version = msg.version,
                current = current.version(),
                "policy versions missing; catching up from the store"
            );
            let result = self.catch_up();
            self.log_catch_up(result);
            return;
        }
        match current.apply(&msg.event) {
            Ok(policy) => {
                tracing::debug!(store = %self.store, version = msg.version, kind = msg.event.kind(), "applied a remote policy event");
                self.publish(policy, [(msg.version, Some(msg.created_at_us))], true);
            }
            Err(e) => {
                tracing::error!(
                    store = %self.store,
                    version = msg.version,
                    kind = msg.event.kind(),
                    error = %e,
                    "a remote policy event does not apply to this node's policy, which has \
                     diverged from the store; reloading the whole policy"
                );
                let result = self.reload();
                self.log_catch_up(result);
            }
        }
    }

    /// Reads everything recorded after this node's version and publishes it; see
    /// [`crate::messages::CatchUp`].
    pub(super) fn catch_up(&mut self) -> Result<(), StoreError> {
        let current = self.snapshot.load_full();
        let missed = self
            .backend()
            .map_err(StoreError::Unavailable)?
            .catch_up(current.version())
            .map_err(load_error)?;
        match missed {
            CatchUp::Events(events) => self.apply_logged(&current, events),
            CatchUp::Full(policy) => {
                tracing::info!(
                    store = %self.store,
                    from = current.version(),
                    to = policy.version(),
                    "the log no longer holds every missed policy event; took the whole stored policy"
                );
                self.adopt(policy)
            }
        }
    }

    /// Applies the events of a catch-up to `current` in order and publishes the result.
    fn apply_logged(
        &mut self,
        current: &Policy,
        events: Vec<LoggedEvent>,
    ) -> Result<(), StoreError> {
        let mut policy = current.clone();
        let mut versions = Vec::with_capacity(events.len());
        for entry in events {
            if entry.version <= policy.version() {
                continue;
            }
            if entry.version != policy.version() + 1 {
                tracing::error!(
                    store = %self.store,
                    expected = policy.version() + 1,
                    got = entry.version,
                    "the store's log skips a policy version; reloading the whole policy"
                );
                return self.reload();
            }
            policy = match policy.apply(&entry.event) {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(
                        store = %self.store,
                        version = entry.version,
                        kind = entry.event.kind(),
                        error = %e,
                        "a logged policy event does not apply to this node's policy, which has \
                         diverged from the store; reloading the whole policy"
                    );
                    return self.reload();
                }
            };
            versions.push((entry.version, Some(entry.created_at_us)));
        }
        if versions.is_empty() {
            return Ok(());
        }
        tracing::info!(
            store = %self.store,
            from = current.version(),
            to = policy.version(),
            events = versions.len(),
            "caught up on policy events from the store"
        );
        self.publish(policy, versions, true);
        Ok(())
    }

    /// Replaces this node's policy by the whole stored one.
    fn reload(&mut self) -> Result<(), StoreError> {
        let loaded = self
            .backend()
            .map_err(StoreError::Unavailable)?
            .load()
            .map_err(load_error)?;
        self.adopt(loaded.unwrap_or_default())
    }

    /// Publishes `policy`, read whole from the store, unless it is older than what this node
    /// serves: a store that went back has lost changes, and following it would hand readers a
    /// policy older than one they already saw. The node keeps its snapshot and says so.
    fn adopt(&mut self, policy: Policy) -> Result<(), StoreError> {
        let current = self.snapshot.load().version();
        if policy.version() < current {
            // Reported by the caller (a write's error) or, for the periodic catch-up, once by
            // the cluster's health monitor; this would repeat every few seconds.
            tracing::debug!(
                store = %self.store,
                stored = policy.version(),
                current,
                "the policy store is behind this node: it has lost policy changes (restored \
                 from an old backup, or flushed); keeping the last snapshot"
            );
            return Err(StoreError::StoreBehind {
                store: self.store.to_string(),
                stored: policy.version(),
                current,
            });
        }
        let version = policy.version();
        self.publish(policy, [(version, None)], false);
        Ok(())
    }

    /// Logs the outcome of a catch-up nobody waits for.
    pub(super) fn log_catch_up(&self, result: Result<(), StoreError>) {
        match result {
            Ok(()) => {}
            // A store that lost data is reported once by the cluster's health monitor, not at
            // every periodic catch-up.
            Err(e @ (StoreError::Unavailable(_) | StoreError::StoreBehind { .. })) => {
                tracing::debug!(store = %self.store, error = %e, "could not catch up on policy changes");
            }
            Err(e) => {
                tracing::error!(store = %self.store, error = %e, "could not catch up on policy changes; serving the last snapshot");
            }
        }
    }
}
