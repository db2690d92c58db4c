//! [`RedisKeyStore`]: the key ring in Redis, private halves sealed with the [`Kek`], and the
//! listener that reloads the ring when another node announces a key.
//!
//! Layout: hash `{prefix}:keys`, field = `kid`, value = JSON
//! `{"kid", "alg", "created_at", "activate_at", "sealed"}` where `sealed` is the PKCS#8 PEM
//! sealed by [`Kek::seal`]. Redis never holds a private key in clear.

use std::collections::BTreeMap;
use std::sync::Arc;

use redis::Script;
use scopegate_jwt::{Algorithm, SigningKey};
use serde::{Deserialize, Serialize};

use super::{Kek, KeyRingHandle, KeyStore, RingKey};
use crate::config::Names;
use crate::conn::{Redis, Subscriber, SyncConn, subscribe};
use crate::error::{ClusterError, describe};
use crate::snapshot::LocalSnapshot;

/// One stored key.
#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    alg: Algorithm,
    created_at: u64,
    activate_at: u64,
    sealed: String,
}

/// The key ring in Redis.
pub struct RedisKeyStore {
    conn: SyncConn,
    hash: String,
    channel: String,
    kek: Kek,
    /// The node's local snapshot of the ring (the same sealed records): kept current on every
    /// load and change, and what the ring starts from while Redis cannot be reached or after
    /// Redis lost its keys.
    snapshot: Option<Arc<LocalSnapshot>>,
    /// Whether a load has succeeded or fallen back already (only the first may fall back to
    /// the snapshot when Redis cannot be reached).
    loaded: bool,
}

// === impl RedisKeyStore ===

impl RedisKeyStore {
    /// A store in `names.keys`, announcing on `names.keys_channel`.
    pub fn new(conn: SyncConn, names: &Names, kek: Kek) -> Self {
        Self {
            conn,
            hash: names.keys.clone(),
            channel: names.keys_channel.clone(),
            kek,
            snapshot: None,
            loaded: false,
        }
    }

    /// Keeps the ring in the node's local `snapshot` too (see the field).
    pub fn with_snapshot(mut self, snapshot: Arc<LocalSnapshot>) -> Self {
        self.snapshot = Some(snapshot);
        self
    }

    /// The snapshot's records, if it has any.
    fn local(&self) -> Option<BTreeMap<String, String>> {
        match self.snapshot.as_ref()?.load_keys() {
            Ok(keys) => keys.filter(|k| !k.is_empty()),
            Err(e) => {
                tracing::warn!(error = %e, "the local key ring snapshot is unreadable");
                None
            }
        }
    }

    /// Changes the snapshot's records with `change`, if there is a snapshot.
    fn update_local(&self, change: impl FnOnce(&mut BTreeMap<String, String>)) {
        let Some(snapshot) = &self.snapshot else {
            return;
        };
        let mut keys = self.local().unwrap_or_default();
        change(&mut keys);
        if let Err(e) = snapshot.write_keys(&keys) {
            tracing::warn!(error = %e, "could not write the local key ring snapshot");
        }
    }

    fn encode(&self, key: &RingKey) -> Result<String, ClusterError> {
        let stored = StoredKey {
            kid: key.key.kid().to_owned(),
            alg: key.key.algorithm(),
            created_at: key.created_at,
            activate_at: key.activate_at,
            sealed: self.kek.seal(key.key.kid(), key.key.to_pem().as_bytes())?,
        };
        serde_json::to_string(&stored).map_err(|e| ClusterError::Corrupt {
            key: self.hash.clone(),
            reason: e.to_string(),
        })
    }

    fn decode(&self, field: &str, json: &str) -> Result<RingKey, ClusterError> {
        let corrupt = |reason: String| ClusterError::Corrupt {
            key: format!("{} {field}", self.hash),
            reason,
        };
        let stored: StoredKey = serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?;
        let pem = self.kek.open(&stored.kid, &stored.sealed)?;
        let pem = String::from_utf8(pem).map_err(|_| corrupt("sealed key is not PEM".into()))?;
        let key = SigningKey::from_pem(&pem).map_err(|e| corrupt(e.to_string()))?;
        if key.kid() != field || key.kid() != stored.kid || key.algorithm() != stored.alg {
            return Err(corrupt("the key does not match its kid or alg".into()));
        }
        Ok(RingKey {
            key,
            created_at: stored.created_at,
            activate_at: stored.activate_at,
        })
    }
}

fn unavailable(e: &redis::RedisError) -> ClusterError {
    ClusterError::Unavailable(describe(e))
}

impl KeyStore for RedisKeyStore {
    fn load(&mut self) -> Result<Vec<RingKey>, ClusterError> {
        let first = !std::mem::replace(&mut self.loaded, true);
        let hash = self.hash.clone();
        let all: BTreeMap<String, String> =
            match self.conn.run(|c| redis::cmd("HGETALL").arg(&hash).query(c)) {
                Ok(all) => all,
                Err(e) => {
                    let local = if first { self.local() } else { None };
                    let Some(local) = local else {
                        return Err(unavailable(&e));
                    };
                    tracing::warn!(
                        error = %describe(&e),
                        keys = local.len(),
                        "redis cannot be reached: starting from the local key ring snapshot"
                    );
                    return local.iter().map(|(f, v)| self.decode(f, v)).collect();
                }
            };
        if all.is_empty()
            && let Some(local) = self.local()
        {
            tracing::error!(
                hash = %self.hash,
                keys = local.len(),
                "redis holds no signing keys but this node's snapshot does: redis has lost its \
                 data; keeping the snapshot's keys (re-seed redis with scopegate cluster reseed)"
            );
            return local.iter().map(|(f, v)| self.decode(f, v)).collect();
        }
        let keys = all
            .iter()
            .map(|(f, v)| self.decode(f, v))
            .collect::<Result<Vec<_>, _>>()?;
        if !all.is_empty() && self.local().as_ref() != Some(&all) {
            self.update_local(|local| *local = all);
        }
        Ok(keys)
    }

    fn seed(&mut self, key: &RingKey) -> Result<bool, ClusterError> {
        let value = self.encode(key)?;
        let script = Script::new(
            "if redis.call('HLEN', KEYS[1]) == 0 then \
               redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) \
               redis.call('PUBLISH', KEYS[2], ARGV[1]) \
               return 1 \
             end \
             return 0",
        );
        let (hash, channel, kid) = (
            self.hash.clone(),
            self.channel.clone(),
            key.key.kid().to_owned(),
        );
        let stored: i64 = self
            .conn
            .run(|c| {
                script
                    .key(&hash)
                    .key(&channel)
                    .arg(&kid)
                    .arg(&value)
                    .invoke(c)
            })
            .map_err(|e| unavailable(&e))?;
        Ok(stored == 1)
    }

    fn add(&mut self, key: &RingKey) -> Result<(), ClusterError> {
        let value = self.encode(key)?;
        let script = Script::new(
            "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) \
             redis.call('PUBLISH', KEYS[2], ARGV[1]) \
             return 1",
        );
        let (hash, channel, kid) = (
            self.hash.clone(),
            self.channel.clone(),
            key.key.kid().to_owned(),
        );
        self.conn
            .run(|c| {
                script
                    .key(&hash)
                    .key(&channel)
                    .arg(&kid)
                    .arg(&value)
                    .invoke::<i64>(c)
            })
            .map_err(|e| unavailable(&e))?;
        self.update_local(|local| {
            local.insert(kid, value);
        });
        Ok(())
    }

    fn remove(&mut self, kids: &[String]) -> Result<(), ClusterError> {
        if kids.is_empty() {
            return Ok(());
        }
        let hash = self.hash.clone();
        self.conn
            .run(|c| redis::cmd("HDEL").arg(&hash).arg(kids).query::<i64>(c))
            .map_err(|e| unavailable(&e))?;
        self.update_local(|local| local.retain(|kid, _| !kids.contains(kid)));
        Ok(())
    }

    fn describe(&self) -> String {
        format!("redis hash {}", self.hash)
    }
}

/// Reloads `ring` whenever a key is announced on `names.keys_channel`, and after every
/// (re)subscription (an announcement may have been missed while disconnected).
pub fn spawn_key_listener(
    redis: Arc<Redis>,
    names: &Names,
    ring: KeyRingHandle,
) -> tokio::task::JoinHandle<()> {
    struct Listener(KeyRingHandle);
    impl Subscriber for Listener {
        fn on_subscribed(&mut self) {
            self.0.reload();
        }
        fn on_message(&mut self, _payload: &[u8]) {
            self.0.reload();
        }
    }
    subscribe(redis, names.keys_channel.clone(), Listener(ring))
}
