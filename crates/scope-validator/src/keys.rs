//! [`Keys`]: the current [`KeySet`] generation, its [`Verifier`], and each key's *epoch*.
//!
//! The server may swap the `Arc<KeySet>` at any time (key rotation). Every decision loads it
//! (one atomic load) and compares the pointer with the generation built last; only a new
//! pointer builds a new [`Verifier`], so the hot path allocates nothing for it.
//!
//! # Key epochs
//!
//! A cached token must stop being accepted the moment its key leaves the key set, and also if
//! its `kid` were ever re-bound to different key material (a JWK's `kid` is taken as given, so
//! a misconfigured set could do that). Each key therefore gets an epoch: a number assigned when
//! a generation first contains that `kid` with that exact JWK, and carried over unchanged while
//! later generations keep the same JWK. A cache entry records the epoch of the key that
//! verified it; a hit requires the current generation to hold the same `kid` at the same epoch.
//! When a new generation retires or re-binds a `kid`, the cache is purged of its entries at
//! once; the per-hit check covers entries inserted by a request that raced the swap.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwap, Guard};
use scopegate_jwt::{Jwk, KeySet, Verifier};

use crate::cache::TokenCache;

/// One key-set generation, ready to verify.
pub(crate) struct KeyGeneration {
    /// The key set this generation was built from; compared by pointer.
    keys: Arc<KeySet>,
    /// Verifies against `keys` with the configured issuer, audience and leeway.
    pub(crate) verifier: Verifier,
    /// Each key's JWK (its `kid`, and its material to notice a re-binding) with its epoch. Key
    /// sets hold a handful of keys, so a linear scan.
    epochs: Vec<(Jwk, u64)>,
}

// === impl KeyGeneration ===

impl KeyGeneration {
    /// The epoch of `kid` in this generation, `None` if the set no longer has that key.
    pub(crate) fn epoch(&self, kid: &str) -> Option<u64> {
        self.epochs
            .iter()
            .find(|(jwk, _)| jwk.kid == kid)
            .map(|(_, epoch)| *epoch)
    }
}

/// The source of key sets and the generation built from the latest one.
pub(crate) struct Keys {
    /// Where the server publishes the current key set.
    source: Arc<ArcSwap<KeySet>>,
    /// The generation built from the key set last seen in `source`.
    current: ArcSwap<KeyGeneration>,
    /// The next epoch to hand out.
    next_epoch: AtomicU64,
    /// The accepted `iss`.
    issuer: String,
    /// The required `aud`.
    audience: String,
    /// Tolerated clock skew, seconds.
    leeway_secs: u64,
}

// === impl Keys ===

impl Keys {
    /// Builds the first generation from `source`'s current key set.
    pub(crate) fn new(
        source: Arc<ArcSwap<KeySet>>,
        issuer: String,
        audience: String,
        leeway_secs: u64,
    ) -> Self {
        let next_epoch = AtomicU64::new(1);
        let keys = source.load_full();
        let first = build(keys, None, &next_epoch, &issuer, &audience, leeway_secs);
        Self {
            source,
            current: ArcSwap::from_pointee(first),
            next_epoch,
            issuer,
            audience,
            leeway_secs,
        }
    }

    /// The generation of the current key set, built (and the cache purged of retired keys'
    /// tokens) if the set was swapped since the last call.
    pub(crate) fn current(&self, cache: &TokenCache) -> Guard<Arc<KeyGeneration>> {
        // The generation first, then the source: the key set seen is then at least as new as
        // the one the generation was built from, so a slow request never rebuilds an older set.
        let generation = self.current.load();
        let keys = self.source.load();
        if Arc::ptr_eq(&generation.keys, &keys) {
            return generation;
        }
        let next = Arc::new(build(
            Arc::clone(&keys),
            Some(&generation),
            &self.next_epoch,
            &self.issuer,
            &self.audience,
            self.leeway_secs,
        ));
        // Racing requests may each build one; only the first replaces the generation and
        // purges. The others use theirs for this request: a different epoch for a new key only
        // costs its cached tokens one more verification.
        let previous = self
            .current
            .compare_and_swap(&generation, Arc::clone(&next));
        if !Arc::ptr_eq(&previous, &generation) {
            return Guard::from_inner(next);
        }
        let retired: Vec<&str> = generation
            .epochs
            .iter()
            .filter(|(jwk, epoch)| next.epoch(&jwk.kid) != Some(*epoch))
            .map(|(jwk, _)| jwk.kid.as_str())
            .collect();
        if !retired.is_empty() {
            cache.retain(|entry| next.epoch(&entry.kid) == Some(entry.key_epoch));
            tracing::info!(
                retired = ?retired,
                "key set changed: cached tokens of retired keys dropped"
            );
        }
        Guard::from_inner(next)
    }
}

/// A generation for `keys`, keeping the epochs of `previous` for unchanged keys.
fn build(
    keys: Arc<KeySet>,
    previous: Option<&KeyGeneration>,
    next_epoch: &AtomicU64,
    issuer: &str,
    audience: &str,
    leeway_secs: u64,
) -> KeyGeneration {
    let epochs = keys
        .jwks()
        .keys
        .into_iter()
        .map(|jwk| {
            let kept = previous.and_then(|p| p.epochs.iter().find(|(old, _)| *old == jwk));
            let epoch = match kept {
                Some((_, epoch)) => *epoch,
                None => next_epoch.fetch_add(1, Ordering::Relaxed),
            };
            (jwk, epoch)
        })
        .collect();
    let verifier = Verifier::new(Arc::clone(&keys), issuer, audience, leeway_secs);
    KeyGeneration {
        keys,
        verifier,
        epochs,
    }
}

#[cfg(test)]
mod tests {
    use scopegate_jwt::{Algorithm, SigningKey, VerifyingKey};

    use super::*;

    fn key() -> SigningKey {
        SigningKey::generate(Algorithm::EdDSA).unwrap()
    }

    #[test]
    fn epochs_survive_unchanged_keys_and_change_with_new_material() {
        let (a, b) = (key(), key());
        let source = Arc::new(ArcSwap::from_pointee(KeySet::new(a.clone())));
        let keys = Keys::new(Arc::clone(&source), "iss".into(), "aud".into(), 0);
        let cache = TokenCache::new(0);
        let first = keys.current(&cache);
        let epoch_a = first.epoch(a.kid()).unwrap();
        assert_eq!(first.epoch(b.kid()), None);

        // Same generation: the same pointer comes back, nothing is rebuilt.
        assert!(Arc::ptr_eq(&first, &keys.current(&cache)));

        // Rotation: b signs, a verifies. a keeps its epoch, b gets a new one.
        source.store(Arc::new(
            KeySet::new(b.clone()).with_verifying(a.verifying_key()),
        ));
        let second = keys.current(&cache);
        assert_eq!(second.epoch(a.kid()), Some(epoch_a));
        let epoch_b = second.epoch(b.kid()).unwrap();
        assert_ne!(epoch_b, epoch_a);

        // a's kid re-bound to other material: a new epoch, so old cache entries no longer hold.
        let mut impostor = key().verifying_key().to_jwk();
        impostor.kid = a.kid().to_owned();
        let impostor = VerifyingKey::from_jwk(&impostor).unwrap();
        source.store(Arc::new(KeySet::new(b.clone()).with_verifying(impostor)));
        let third = keys.current(&cache);
        assert_ne!(third.epoch(a.kid()), Some(epoch_a));
        assert_eq!(third.epoch(b.kid()), Some(epoch_b));

        // a retired.
        source.store(Arc::new(KeySet::new(b)));
        assert_eq!(keys.current(&cache).epoch(a.kid()), None);
    }
}
