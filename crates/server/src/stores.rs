//! Which storage each actor gets: the embedded files of a single node, or Redis in cluster mode
//! (`[cluster] redis_url`), and the listeners that keep a cluster node's snapshots in step.

use std::sync::Arc;

use anyhow::Context;
use scopegate_cluster::keyring::{
    FileKeyStore, KeyRingHandle, KeyStore, RedisKeyStore, RingSettings, spawn_key_listener,
};
use scopegate_cluster::{
    Names, Redis, RedisPolicyBackend, RedisRefreshStore, RedisRevocationStore, RedisThrottleStore,
    SyncConn, spawn_policy_listener, spawn_revocation_listener,
};
use scopegate_policy_store::{EmbeddedBackend, PolicyBackend, PolicyStoreHandle};
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
}

/// Opens the cluster connection when `[cluster] redis_url` is set. Does not connect yet.
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
    Ok(Some(Cluster {
        redis,
        names: settings.cluster.names(),
    }))
}

/// Starts the key ring: in Redis (private halves sealed with the key-encryption key) for a
/// cluster, in `{data_dir}/keys/ring.json` otherwise. An empty ring is seeded with the
/// configured (or generated) signing key.
pub fn key_ring(settings: &Settings, cluster: Option<&Cluster>) -> anyhow::Result<KeyRingHandle> {
    let store: Box<dyn KeyStore> = match cluster {
        Some(c) => {
            let kek = settings.cluster.key_encryption_key()?;
            Box::new(RedisKeyStore::new(
                SyncConn::new(Arc::clone(&c.redis)),
                &c.names,
                kek,
            ))
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
}

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
        Some(c) => Box::new(RedisRevocationStore::new(
            SyncConn::new(Arc::clone(&c.redis)),
            &c.names,
        )),
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
/// (re)subscription.
pub fn spawn_listeners(
    cluster: &Cluster,
    policy: &PolicyStoreHandle,
    validator: &ScopeValidator,
    ring: &KeyRingHandle,
) {
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
    );
    spawn_key_listener(Arc::clone(&cluster.redis), &cluster.names, ring.clone());
}
