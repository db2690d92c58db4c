//! The health monitor: the one task that asks Redis, every `cluster.ping_interval_ms`, whether
//! it answers and which policy version it holds, so that a node that writes nothing still
//! notices a hung, unreachable or emptied Redis within about one interval.
//!
//! Each probe is a pipelined `PING` and `GET {p}:policy:version` within
//! `min(command_timeout, ping_interval)`. From it [`Health`](crate::Health) learns:
//! - reachability (`is_up`, and `is_hung` cleared once Redis answers again);
//! - the time of the last contact, and from it whether the node is past
//!   `cluster.max_staleness_secs` (`is_stale`, re-evaluated after every probe);
//! - whether Redis holds less than the node serves (`data_lost`: it restarted empty or was
//!   restored from an older backup) and whether a node started from its local snapshot has
//!   caught up (`is_caught_up`).

use std::sync::Arc;
use std::time::Duration;

use scopegate_policy_store::PolicyReader;

use crate::config::Names;
use crate::conn::{Redis, SyncConn};

/// Starts the monitor on the current tokio runtime; it probes at once, then every
/// `redis.ping_interval()`, until the returned task is aborted or the runtime ends. `policy`
/// is the node's policy snapshot, compared with the version Redis holds; `max_staleness` is
/// `cluster.max_staleness_secs` (`None`: off).
pub fn spawn_monitor(
    redis: Arc<Redis>,
    names: &Names,
    policy: PolicyReader,
    max_staleness: Option<Duration>,
) -> tokio::task::JoinHandle<()> {
    let version_key = names.policy_version.clone();
    let interval = redis.ping_interval();
    let budget = redis.command_timeout().min(interval);
    tokio::spawn(async move {
        let mut conn = Some(SyncConn::new(Arc::clone(&redis)));
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(mut probe) = conn.take() else {
                return;
            };
            // Read before Redis is asked: Redis only ever moves ahead of the node, so a
            // version read afterwards could look "ahead of Redis" without any loss.
            let node_version = policy.version();
            let key = version_key.clone();
            let asked = tokio::task::spawn_blocking(move || {
                let stored = probe.probe(budget, |c| {
                    redis::pipe()
                        .cmd("PING")
                        .ignore()
                        .get(&key)
                        .query::<(Option<u64>,)>(c)
                });
                (probe, stored)
            })
            .await;
            let Ok((probe, stored)) = asked else {
                tracing::error!("the redis health probe panicked; health monitoring stopped");
                return;
            };
            conn = Some(probe);
            let health = redis.health();
            match stored {
                Ok((stored,)) => health.observe_policy_version(stored, node_version),
                // The connection marked Redis down (or, for a value that is not a number, up:
                // the policy store reports that one).
                Err(e) => {
                    tracing::trace!(error = %crate::describe(&e), "redis health probe failed")
                }
            }
            health.refresh_staleness(max_staleness);
        }
    })
}
