//! Which storage each actor gets: the embedded files of a single node, or Redis in cluster mode
//! (`[cluster] redis_url`), and the listeners that keep a cluster node's snapshots in step.

use std::sync::Arc;

use anyhow::Context;
use scopegate_cluster::keyring::{
    FileKeyStore, KeyRingHandle, KeyStore, RedisKeyStore, RingSettings, spawn_key_listener,
};
use scopegate_cluster::{
    LocalSnapshot, Names, Redis, RedisPolicyBackend, RedisRefreshStore, RedisRevocationStore,
    RedisThrottleStore, SnapshotWriter, SyncConn, spawn_monitor, spawn_policy_listener,
    spawn_revocation_listener,
};
use scopegate_core::PolicyDocument;
use scopegate_policy_store::{EmbeddedBackend, Origin, PolicyBackend, PolicyStoreHandle};
use scopegate_scope_validator::{EmbeddedRevocationStore, RevocationStore, ScopeValidator};
use scopegate_token_issuer::{EmbeddedRefreshStore, RefreshStore, ThrottleStore};

use crate::keys;
use crate::settings::Settings;

/// A cluster node's connection to the shared state.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// The shared Redis handle (reachability lives in its `Health`).
    pub redis: Arc<Redis>,
    /// Key and channel names.
    pub names: Names,
    /// The node's local snapshot in `{data_dir}/cluster/` and the thread that writes it.
    pub snapshot: SnapshotWriter,
}

/// Opens the cluster connection when `[cluster] redis_url` is set, and the node's local
/// snapshot. Does not connect yet.
pub fn open_cluster(settings: &Settings) -> anyhow::Result<Option<Cluster>> {
    if !settings.cluster.enabled() {
        return Ok(None);
    }
    if settings.server.public_url.is_none() {
        anyhow::bail!(
            "cluster mode needs server.public_url (SCOPEGATE__SERVER__PUBLIC_URL): every node must \
             issue and accept the same `iss`, the URL clients reach the cluster at (its load \
             balancer), not each node's own address"
        );
    }
    let redis = Redis::open(&settings.cluster)?;
    let snapshot = LocalSnapshot::open(&settings.storage.data_dir, &settings.cluster.key_prefix)?;
    Ok(Some(Cluster {
        redis,
        names: settings.cluster.names(),
        snapshot: SnapshotWriter::start(snapshot)?,
    }))
}

/// Starts the policy store on its backend. A cluster node resumes from its local snapshot when
/// Redis cannot be reached (or has lost its data) and keeps that snapshot current; its
/// readiness then waits until it has caught up.
pub fn policy_store(
    settings: &Settings,
    cluster: Option<&Cluster>,
    seed: Option<PolicyDocument>,
) -> anyhow::Result<PolicyStoreHandle> {
    let backend = policy_backend(settings, cluster)?;
    let Some(cluster) = cluster else {
        return PolicyStoreHandle::start(backend, seed).context("could not start the policy store");
    };
    let resume = match cluster.snapshot.snapshot().load_policy() {
        Ok(resume) => resume,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring the unreadable local policy snapshot");
            None
        }
    };
    let writer = cluster.snapshot.clone();
    let (store, origin) = PolicyStoreHandle::start_or_resume(
        backend,
        seed,
        resume,
        Some(Arc::new(move |policy| writer.policy(policy))),
    )
    .map_err(|e| match e {
        scopegate_policy_store::StoreError::Load(
            scopegate_policy_store::LoadError::Unavailable { .. },
        ) => anyhow::anyhow!(
            "{e}; this node has no local snapshot of an earlier run to start from (it keeps one \
             in {} once it has reached Redis)",
            cluster.snapshot.snapshot().dir().display()
        ),
        e => anyhow::Error::new(e),
    })
    .context("could not start the policy store")?;
    if origin == Origin::Resumed {
        cluster.redis.health().mark_started_from_snapshot();
    }
    Ok(store)
}

/// Starts the key ring: in Redis (private halves sealed with the key-encryption key) for a
/// cluster, in `{data_dir}/keys/ring.json` otherwise. An empty ring is seeded with the
/// configured (or generated) signing key.
pub fn key_ring(settings: &Settings, cluster: Option<&Cluster>) -> anyhow::Result<KeyRingHandle> {
    let store: Box<dyn KeyStore> = match cluster {
        Some(c) => {
            let kek = settings.cluster.key_encryption_key()?;
            Box::new(
                RedisKeyStore::new(SyncConn::new(Arc::clone(&c.redis)), &c.names, kek)
                    .with_snapshot(Arc::clone(c.snapshot.snapshot())),
            )
        }
        None => Box::new(FileKeyStore::new(&settings.storage.data_dir)),
    };
    let seed = keys::load_signing_key(settings)?;
    let ring_settings = RingSettings {
        announce_secs: settings.keys.rotation_announce_secs,
        retain_secs: settings
            .tokens
            .access_token_ttl_secs
            .saturating_add(settings.validation.leeway_secs),
        algorithm: settings.keys.algorithm,
    };
    KeyRingHandle::start(store, seed, ring_settings).context("could not start the key ring")
}

/// The sign-in throttle's shared counters: Redis in cluster mode (every node counts the same
/// failures), none on a single node (the token service counts in memory).
pub fn throttle_store(
    settings: &Settings,
    cluster: Option<&Cluster>,
) -> Option<Arc<dyn ThrottleStore>> {
    cluster.map(|c| {
        Arc::new(RedisThrottleStore::new(
            Arc::clone(&c.redis),
            &settings.cluster.key_prefix,
            settings.tokens.throttle.clone(),
            settings.cluster.command_timeout(),
        )) as Arc<dyn ThrottleStore>
    })
}

/// What `/readyz` reports about this node's storage, shared with handlers.
#[derive(Clone, Debug)]
pub struct NodeState {
    /// This node's name (`[cluster] node_id`, else host name and pid).
    pub node_id: String,
    /// Redis reachability in cluster mode; `None` for an embedded node.
    pub redis: Option<Arc<scopegate_cluster::Health>>,
    /// Whether `/readyz` fails while Redis is unreachable.
    pub fail_readiness_when_degraded: bool,
    /// Whether a node started from its snapshot is ready before it has caught up.
    pub ready_before_catch_up: bool,
    /// `cluster.max_staleness_secs` (0: off), for the refusals' text.
    pub max_staleness_secs: u64,
}

/// What `/readyz` answers, and `scopegate_ready` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// `ready`, `degraded` (serving from snapshots: Redis unreachable or its data lost),
    /// `catching_up` (started from the local snapshot, not yet in step with Redis) or `stale`
    /// (past `cluster.max_staleness_secs` without contact: checks are refused).
    pub status: &'static str,
    /// Whether `/readyz` answers 200.
    pub ready: bool,
}

// === impl NodeState ===

impl NodeState {
    /// The state of a node built from `settings`.
    pub fn new(settings: &Settings, cluster: Option<&Cluster>) -> Self {
        let node_id = settings.cluster.node_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "scopegate".to_owned());
            format!("{host}-{}", std::process::id())
        });
        Self {
            node_id,
            redis: cluster.map(|c| Arc::clone(c.redis.health())),
            fail_readiness_when_degraded: settings.cluster.fail_readiness_when_degraded,
            ready_before_catch_up: settings.cluster.ready_before_catch_up,
            max_staleness_secs: settings.cluster.max_staleness_secs,
        }
    }

    /// Whether this node is past `cluster.max_staleness_secs` without contact with Redis and
    /// must not decide. One atomic load.
    pub fn is_stale(&self) -> bool {
        self.redis.as_ref().is_some_and(|h| h.is_stale())
    }

    /// What `/readyz` answers now.
    pub fn readiness(&self) -> Readiness {
        let Some(health) = &self.redis else {
            return Readiness {
                status: "ready",
                ready: true,
            };
        };
        if health.is_stale() {
            return Readiness {
                status: "stale",
                ready: false,
            };
        }
        if !health.is_caught_up() {
            return Readiness {
                status: "catching_up",
                ready: self.ready_before_catch_up,
            };
        }
        if !health.is_up() || health.data_lost().is_some() {
            return Readiness {
                status: "degraded",
                ready: !self.fail_readiness_when_degraded,
            };
        }
        Readiness {
            status: "ready",
            ready: true,
        }
    }
}

/// The policy store's backend: Redis for a cluster, `{data_dir}/policy.redb` otherwise.
pub fn policy_backend(
    settings: &Settings,
    cluster: Option<&Cluster>,
) -> anyhow::Result<Box<dyn PolicyBackend>> {
    Ok(match cluster {
        Some(c) => Box::new(RedisPolicyBackend::new(
            SyncConn::new(Arc::clone(&c.redis)),
            &c.names,
            settings.cluster.log_retention,
        )),
        None => Box::new(
            EmbeddedBackend::open(&settings.storage.data_dir)
                .context("could not open the policy store")?,
        ),
    })
}

/// The refresh-token store: Redis (with a TTL per token) for a cluster, a redb file otherwise.
pub fn refresh_store(
    settings: &Settings,
    cluster: Option<&Cluster>,
) -> anyhow::Result<Box<dyn RefreshStore>> {
    Ok(match cluster {
        Some(c) => Box::new(RedisRefreshStore::new(
            SyncConn::new(Arc::clone(&c.redis)),
            &c.names,
        )),
        None => Box::new(
            EmbeddedRefreshStore::open(&settings.storage.data_dir)
                .context("could not open the refresh-token store")?,
        ),
    })
}

/// The revocation store: Redis for a cluster, a redb file otherwise.
pub fn revocation_store(
    settings: &Settings,
    cluster: Option<&Cluster>,
) -> anyhow::Result<Box<dyn RevocationStore>> {
    Ok(match cluster {
        Some(c) => Box::new(
            RedisRevocationStore::new(SyncConn::new(Arc::clone(&c.redis)), &c.names)
                .with_snapshot(c.snapshot.clone()),
        ),
        None => Box::new(
            EmbeddedRevocationStore::open(&settings.storage.data_dir)
                .map_err(|e| anyhow::anyhow!("could not open the revocation store: {e}"))?,
        ),
    })
}

/// How often a cluster node asks Redis for policy events it may have missed, on top of the
/// catch-up after every (re)subscription.
const POLICY_CATCH_UP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts the pub/sub listeners that apply other nodes' changes to this node's snapshots:
/// policy events, revocations and key announcements. Each catches up from Redis after every
/// (re)subscription. Also starts the health monitor, which PINGs Redis every
/// `cluster.ping_interval_ms`.
pub fn spawn_listeners(
    settings: &Settings,
    cluster: &Cluster,
    policy: &PolicyStoreHandle,
    validator: &ScopeValidator,
    ring: &KeyRingHandle,
) {
    spawn_monitor(
        Arc::clone(&cluster.redis),
        &cluster.names,
        policy.reader(),
        settings.cluster.max_staleness(),
    );
    spawn_policy_listener(
        Arc::clone(&cluster.redis),
        &cluster.names,
        policy.clone(),
        POLICY_CATCH_UP_EVERY,
    );
    spawn_revocation_listener(
        Arc::clone(&cluster.redis),
        &cluster.names,
        validator.clone(),
        Some(cluster.snapshot.clone()),
    );
    spawn_key_listener(Arc::clone(&cluster.redis), &cluster.names, ring.clone());
}
