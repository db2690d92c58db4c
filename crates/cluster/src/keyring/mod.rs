//! The key ring: every signing key of the deployment, when each starts signing, and how long a
//! superseded key keeps verifying.
//!
//! Rotation is driven by time, so no node ever has to tell the others "sign now":
//! - a new key is stored with `activate_at = now + announce`; every node learns it at once
//!   (Redis pub/sub, or the one node of an embedded deployment) and publishes it in its JWKS
//!   and verifying set, but nobody signs with it yet;
//! - at `activate_at` each node, on its own timer, makes it the signing key. By then every node
//!   (and every edge that refreshes its JWKS more often than `announce`) already verifies it;
//! - the key it replaced keeps verifying until `activate_at + retain` (the longest access-token
//!   lifetime plus the leeway), after which no token it signed can still be valid, and it
//!   leaves the JWKS.
//!
//! [`select`] is that rule as a pure function; the [`KeyRing`] actor owns the keys and the
//! store, and publishes the resulting [`KeySet`] into the `ArcSwap` token issuance and
//! validation read.

mod file;
mod redis_store;
mod seal;

use std::sync::Arc;
use std::time::Duration;

use actix::{
    Actor, ActorContext, Addr, Arbiter, AsyncContext, Context, Handler, Message, SpawnHandle,
};
use arc_swap::ArcSwap;
use scopegate_jwt::{Algorithm, KeySet, SigningKey};
use serde::Serialize;

use crate::error::ClusterError;

pub use file::FileKeyStore;
pub use redis_store::{RedisKeyStore, spawn_key_listener};
pub use seal::Kek;

/// A signing key of the ring with its schedule.
#[derive(Clone, Debug)]
pub struct RingKey {
    /// The key (private half in memory only).
    pub key: SigningKey,
    /// When it was created, seconds since the Unix epoch.
    pub created_at: u64,
    /// When it starts signing, seconds since the Unix epoch.
    pub activate_at: u64,
}

/// Where the ring persists. Called only from the [`KeyRing`] actor's thread.
pub trait KeyStore: Send + 'static {
    /// Every stored key.
    fn load(&mut self) -> Result<Vec<RingKey>, ClusterError>;
    /// Stores `key` only if the store holds no key at all (first start, exactly once even when
    /// several nodes start together). Returns whether it was stored.
    fn seed(&mut self, key: &RingKey) -> Result<bool, ClusterError>;
    /// Stores a new key and tells every node about it.
    fn add(&mut self, key: &RingKey) -> Result<(), ClusterError>;
    /// Deletes keys that no longer verify anything.
    fn remove(&mut self, kids: &[String]) -> Result<(), ClusterError>;
    /// A short name for logs.
    fn describe(&self) -> String;
}

/// Where a key stands at some moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Announced: verifies and is in the JWKS, does not sign yet.
    Pending,
    /// Signs new tokens.
    Active,
    /// Superseded: verifies tokens it signed until `retire_at`.
    Retiring,
}

/// What the admin API and metrics show about a key. Never the private half.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// The key id (RFC 7638 thumbprint).
    pub kid: String,
    /// Its algorithm.
    pub alg: Algorithm,
    /// Its status now.
    pub status: KeyStatus,
    /// Created, seconds since the Unix epoch.
    pub created_at: u64,
    /// Signs from, seconds since the Unix epoch.
    pub activate_at: u64,
    /// For a superseded key: when it leaves the JWKS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<u64>,
}

/// The outcome of [`select`] at one moment.
#[derive(Debug)]
pub struct Selection {
    /// The key set to publish: the signing key first, then every key that still verifies.
    pub key_set: KeySet,
    /// What each kept key is doing.
    pub infos: Vec<KeyInfo>,
    /// Keys past their retirement: delete them.
    pub expired: Vec<String>,
    /// When the selection changes next (an activation or a retirement), if ever.
    pub next_change: Option<u64>,
}

/// The key rule (pure): at `now`, the signing key is the latest-activated key with
/// `activate_at <= now`; a key superseded at `s` verifies until `s + retain`; pending keys
/// verify. `None` when no key is active yet.
pub fn select(keys: &[RingKey], now: u64, retain: u64) -> Option<Selection> {
    let mut sorted: Vec<&RingKey> = keys.iter().collect();
    sorted.sort_by(|a, b| {
        (a.activate_at, a.created_at, a.key.kid()).cmp(&(b.activate_at, b.created_at, b.key.kid()))
    });
    let active = sorted.iter().rposition(|k| k.activate_at <= now)?;
    let signing = sorted[active];
    let mut key_set = KeySet::new(signing.key.clone());
    let mut infos = vec![info(signing, KeyStatus::Active, None)];
    let mut expired = Vec::new();
    let mut next_change: Option<u64> = None;
    let mut note = |t: u64| next_change = Some(next_change.map_or(t, |n| n.min(t)));
    for (i, k) in sorted.iter().enumerate() {
        if i == active {
            continue;
        }
        if i > active {
            note(k.activate_at);
            key_set = key_set.with_verifying(k.key.verifying_key());
            infos.push(info(k, KeyStatus::Pending, None));
            continue;
        }
        let superseded_at = sorted[i + 1].activate_at;
        let retire_at = superseded_at.saturating_add(retain);
        if retire_at <= now {
            expired.push(k.key.kid().to_owned());
        } else {
            note(retire_at);
            key_set = key_set.with_verifying(k.key.verifying_key());
            infos.push(info(k, KeyStatus::Retiring, Some(retire_at)));
        }
    }
    Some(Selection {
        key_set,
        infos,
        expired,
        next_change,
    })
}

fn info(k: &RingKey, status: KeyStatus, retire_at: Option<u64>) -> KeyInfo {
    KeyInfo {
        kid: k.key.kid().to_owned(),
        alg: k.key.algorithm(),
        status,
        created_at: k.created_at,
        activate_at: k.activate_at,
        retire_at,
    }
}

/// The ring's timing.
#[derive(Clone, Copy, Debug)]
pub struct RingSettings {
    /// Seconds between storing a new key and signing with it.
    pub announce_secs: u64,
    /// Seconds a superseded key keeps verifying (longest token lifetime plus leeway).
    pub retain_secs: u64,
    /// Algorithm of keys made by a rotation that names none.
    pub algorithm: Algorithm,
}

/// The key-ring actor: owns the ring and its store, publishes the [`KeySet`].
pub struct KeyRing {
    store: Box<dyn KeyStore>,
    keys: Vec<RingKey>,
    settings: RingSettings,
    published: Arc<ArcSwap<KeySet>>,
    infos: Arc<ArcSwap<Vec<KeyInfo>>>,
    timer: Option<SpawnHandle>,
    clock: fn() -> u64,
}

impl Actor for KeyRing {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.publish(ctx);
    }
}

// === impl KeyRing ===

impl KeyRing {
    /// Publishes the selection at the current time and schedules the next change.
    fn publish(&mut self, ctx: &mut Context<Self>) {
        let now = (self.clock)();
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        let Some(selection) = select(&self.keys, now, self.settings.retain_secs) else {
            tracing::error!(store = %self.store.describe(), "the key ring holds no active key; keeping the last key set");
            return;
        };
        let previous = self.published.load().signing().kid().to_owned();
        if previous != selection.key_set.signing().kid() {
            tracing::info!(
                from = %previous,
                to = selection.key_set.signing().kid(),
                "signing key rotated"
            );
        }
        self.published.store(Arc::new(selection.key_set));
        self.infos.store(Arc::new(selection.infos));
        if !selection.expired.is_empty() {
            self.keys
                .retain(|k| !selection.expired.iter().any(|e| e == k.key.kid()));
            match self.store.remove(&selection.expired) {
                Ok(()) => tracing::info!(kids = ?selection.expired, "retired signing keys removed"),
                Err(e) => tracing::warn!(error = %e, "could not remove retired keys; will retry"),
            }
        }
        if let Some(at) = selection.next_change {
            // A second past the boundary, so the selection at wake-up is the new one.
            let wait = Duration::from_secs(at.saturating_sub(now)) + Duration::from_millis(50);
            self.timer = Some(ctx.run_later(wait, |ring, ctx| ring.publish(ctx)));
        }
    }

    fn reload(&mut self) -> Result<(), ClusterError> {
        let keys = self.store.load()?;
        if keys.is_empty() {
            return Err(ClusterError::Corrupt {
                key: self.store.describe(),
                reason: "the key ring is empty".into(),
            });
        }
        self.keys = keys;
        Ok(())
    }
}

/// Load the ring from the store again (another node changed it).
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct Reload;

impl Handler<Reload> for KeyRing {
    type Result = ();

    fn handle(&mut self, _: Reload, ctx: &mut Self::Context) {
        match self.reload() {
            Ok(()) => self.publish(ctx),
            Err(e) => {
                tracing::warn!(error = %e, "could not reload the key ring; keeping the current keys")
            }
        }
    }
}

/// Make a new key that signs after the announce period.
#[derive(Debug, Message)]
#[rtype(result = "Result<KeyInfo, ClusterError>")]
struct Rotate {
    algorithm: Option<Algorithm>,
}

impl Handler<Rotate> for KeyRing {
    type Result = Result<KeyInfo, ClusterError>;

    fn handle(&mut self, msg: Rotate, ctx: &mut Self::Context) -> Self::Result {
        let now = (self.clock)();
        let alg = msg.algorithm.unwrap_or(self.settings.algorithm);
        let key = SigningKey::generate(alg)
            .map_err(|e| ClusterError::Config(format!("could not generate a {alg} key: {e}")))?;
        let ring_key = RingKey {
            key,
            created_at: now,
            activate_at: now.saturating_add(self.settings.announce_secs),
        };
        self.store.add(&ring_key)?;
        tracing::info!(
            kid = ring_key.key.kid(),
            %alg,
            activate_at = ring_key.activate_at,
            "new signing key announced"
        );
        let info = info(&ring_key, KeyStatus::Pending, None);
        self.keys.push(ring_key);
        self.publish(ctx);
        Ok(info)
    }
}

/// Stop the actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct Stop;

impl Handler<Stop> for KeyRing {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

/// The handle the server holds: rotation, reload, and the published key set and key list.
#[derive(Clone)]
pub struct KeyRingHandle {
    addr: Addr<KeyRing>,
    key_set: Arc<ArcSwap<KeySet>>,
    infos: Arc<ArcSwap<Vec<KeyInfo>>>,
}

impl std::fmt::Debug for KeyRingHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRingHandle")
            .field("signing", &self.key_set.load().signing().kid())
            .finish_non_exhaustive()
    }
}

// === impl KeyRingHandle ===

impl KeyRingHandle {
    /// Loads the ring (seeding an empty store with `seed`, exactly once across nodes), publishes
    /// the key set and starts the actor on a thread of its own (store calls block). Must be
    /// called inside a running actix System.
    pub fn start(
        mut store: Box<dyn KeyStore>,
        seed: SigningKey,
        settings: RingSettings,
    ) -> Result<Self, ClusterError> {
        let clock: fn() -> u64 = unix_now;
        let mut keys = store.load()?;
        if keys.is_empty() {
            let seed = RingKey {
                key: seed,
                created_at: clock(),
                activate_at: 0,
            };
            if store.seed(&seed)? {
                tracing::info!(kid = seed.key.kid(), store = %store.describe(), "seeded the key ring");
            }
            keys = store.load()?;
        }
        let selection =
            select(&keys, clock(), settings.retain_secs).ok_or_else(|| ClusterError::Corrupt {
                key: store.describe(),
                reason: "the key ring has no active key".into(),
            })?;
        let key_set = Arc::new(ArcSwap::from_pointee(selection.key_set));
        let infos = Arc::new(ArcSwap::from_pointee(selection.infos));
        let (published, shown) = (Arc::clone(&key_set), Arc::clone(&infos));
        let arbiter = Arbiter::new();
        let addr = KeyRing::start_in_arbiter(&arbiter.handle(), move |_| KeyRing {
            store,
            keys,
            settings,
            published,
            infos: shown,
            timer: None,
            clock,
        });
        Ok(Self {
            addr,
            key_set,
            infos,
        })
    }

    /// The published key set: what token issuance signs with and validation verifies with.
    pub fn key_set(&self) -> Arc<ArcSwap<KeySet>> {
        Arc::clone(&self.key_set)
    }

    /// Every key that is pending, active or retiring, as of the last publication.
    pub fn keys(&self) -> Arc<Vec<KeyInfo>> {
        self.infos.load_full()
    }

    /// Announces a new key (of `algorithm`, or the configured one). It signs after the announce
    /// period; the current key keeps verifying for the retain period after that.
    pub async fn rotate(&self, algorithm: Option<Algorithm>) -> Result<KeyInfo, ClusterError> {
        self.addr
            .send(Rotate { algorithm })
            .await
            .map_err(|e| ClusterError::Unavailable(format!("key ring: {e}")))?
    }

    /// Asks the actor to load the store again (another node changed it). Does not wait.
    pub fn reload(&self) {
        self.addr.do_send(Reload);
    }

    /// Stops the actor (tests).
    pub fn stop(&self) {
        self.addr.do_send(Stop);
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(alg: Algorithm, activate_at: u64) -> RingKey {
        RingKey {
            key: SigningKey::generate(alg).unwrap(),
            created_at: activate_at.saturating_sub(10),
            activate_at,
        }
    }

    #[test]
    fn the_latest_activated_key_signs_and_pending_keys_only_verify() {
        let old = key(Algorithm::EdDSA, 0);
        let new = key(Algorithm::EdDSA, 100);
        let keys = [old.clone(), new.clone()];
        let before = select(&keys, 99, 50).unwrap();
        assert_eq!(before.key_set.signing().kid(), old.key.kid());
        assert!(
            before.key_set.get(new.key.kid()).is_some(),
            "announced key verifies"
        );
        assert_eq!(before.next_change, Some(100));
        assert_eq!(before.infos[1].status, KeyStatus::Pending);

        let after = select(&keys, 100, 50).unwrap();
        assert_eq!(after.key_set.signing().kid(), new.key.kid());
        assert!(
            after.key_set.get(old.key.kid()).is_some(),
            "old key verifies while retiring"
        );
        assert_eq!(after.infos[1].retire_at, Some(150));
        assert_eq!(after.next_change, Some(150));

        let later = select(&keys, 150, 50).unwrap();
        assert!(later.key_set.get(old.key.kid()).is_none());
        assert_eq!(later.expired, vec![old.key.kid().to_owned()]);
        assert_eq!(later.next_change, None);
        assert_eq!(later.key_set.jwks().keys.len(), 1);
    }

    #[test]
    fn no_active_key_is_no_selection() {
        assert!(select(&[key(Algorithm::EdDSA, 100)], 99, 10).is_none());
        assert!(select(&[], 0, 10).is_none());
    }

    #[test]
    fn several_rotations_keep_every_key_that_can_still_have_valid_tokens() {
        let keys = [
            key(Algorithm::EdDSA, 0),
            key(Algorithm::ES256, 100),
            key(Algorithm::RS256, 120),
        ];
        let s = select(&keys, 130, 50).unwrap();
        assert_eq!(s.key_set.signing().kid(), keys[2].key.kid());
        // keys[0] superseded at 100 → retires at 150; keys[1] superseded at 120 → 170.
        assert!(s.key_set.get(keys[0].key.kid()).is_some());
        assert!(s.key_set.get(keys[1].key.kid()).is_some());
        assert_eq!(s.next_change, Some(150));
    }
}
