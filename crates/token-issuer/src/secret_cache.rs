//! [`SecretCache`]: remembers recent successful client-secret verifications so that
//! `client_credentials` throughput is bounded by signing, not by argon2.
//!
//! # Security reasoning
//!
//! argon2id is deliberately slow so that a stolen hash resists offline guessing. A machine
//! client, however, presents the same high-entropy secret on every token request; paying 20+ ms
//! of CPU and 19 MiB for each would cap issuance at a few dozen tokens per second per core. The
//! cache lets a repeat of an already verified `(client_id, secret)` pair skip argon2, without
//! weakening what argon2 protects:
//!
//! - **Keyed by HMAC-SHA256 under a per-process random key**, never by the secret itself. The
//!   cache holds no secret, so a heap dump or core file yields none. A plain (unkeyed) fast hash
//!   of the secret would be worse than no cache: it would let whoever reads memory brute-force
//!   low-entropy secrets at GPU speed, bypassing argon2 entirely. With the HMAC, guessing needs
//!   the 32-byte key, which is random, never persisted, never logged, and dies with the process.
//!   Including the client id (`client_id ‖ 0x00 ‖ secret`) binds an entry to one client, so the
//!   same secret reused by two clients cannot authenticate one as the other.
//! - **Bound to the client's current `secret_hash`.** Each entry stores the SHA-256 of the
//!   argon2 hash it was verified against; a hit requires that the client in the *current*
//!   policy snapshot still has exactly that hash. Rotating a client's secret or deleting the
//!   client therefore drops its entries implicitly, on every node, with no invalidation message
//!   and no window in which the old secret still works.
//! - **Short TTL.** Even an unchanged entry expires after `secret_cache_ttl_secs`, after which
//!   argon2 runs again. That bounds how long a key compromise (or a bug in the binding above)
//!   could matter and keeps a periodic full verification in the loop.
//! - **Only successes, only clients.** A failed verification is never cached (no negative
//!   cache an attacker could fill or probe), and user passwords are never cached: they are
//!   low-entropy and a password grant is rare enough to pay argon2 each time.
//! - **Bounded.** At most `secret_cache_capacity` entries: expired ones are evicted first, then
//!   an arbitrary one, so a flood of distinct valid credentials cannot grow memory.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use aws_lc_rs::{digest, hmac};

use crate::error::{StartError, TokenError};

/// A verification in progress: `(cache tag of client and secret, digest of the hash)`.
type FlightKey = ([u8; 32], [u8; 32]);

/// One remembered verification.
struct Entry {
    /// SHA-256 of the client's `secret_hash` at verification time; a hit needs it unchanged.
    hash_digest: [u8; 32],
    /// After this (seconds since the Unix epoch) the entry no longer counts.
    expires_at: u64,
}

/// The cache of successful client-secret verifications. See the module docs for why it is safe.
pub(crate) struct SecretCache {
    /// The per-process HMAC key; random at start, never leaves this struct.
    key: hmac::Key,
    /// Entry lifetime in seconds; 0 disables the cache.
    ttl: u64,
    /// Most entries held; 0 disables the cache.
    capacity: usize,
    /// HMAC tag → entry. Read-locked on the hot path, write-locked only on insert.
    entries: RwLock<HashMap<[u8; 32], Entry>>,
    /// Verifications running now, so that concurrent requests presenting the same client and
    /// secret wait for one argon2 run instead of each starting their own (a cold cache under
    /// a burst would otherwise run one per request). Keyed like the cache, so a request with
    /// a different secret never shares another's result.
    in_flight: Mutex<HashMap<FlightKey, Arc<tokio::sync::OnceCell<bool>>>>,
}

// === impl SecretCache ===

impl SecretCache {
    /// An empty cache with a fresh random key.
    pub(crate) fn new(ttl_secs: u64, capacity: usize) -> Result<Self, StartError> {
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| StartError::Random)?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            ttl: ttl_secs,
            capacity,
            entries: RwLock::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    fn enabled(&self) -> bool {
        self.ttl > 0 && self.capacity > 0
    }

    fn tag(&self, client_id: &str, secret: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(client_id.as_bytes());
        ctx.update(&[0]);
        ctx.update(secret.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// Whether `secret` was verified for `client_id` within the TTL against the same
    /// `current_hash` the client has now.
    pub(crate) fn check(
        &self,
        client_id: &str,
        secret: &str,
        current_hash: &str,
        now: u64,
    ) -> bool {
        if !self.enabled() {
            return false;
        }
        let tag = self.tag(client_id, secret);
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&tag)
            .is_some_and(|e| now < e.expires_at && e.hash_digest == digest_of(current_hash))
    }

    /// Remembers a *successful* verification of `secret` against `verified_hash`.
    pub(crate) fn remember(&self, client_id: &str, secret: &str, verified_hash: &str, now: u64) {
        if !self.enabled() {
            return;
        }
        let tag = self.tag(client_id, secret);
        let entry = Entry {
            hash_digest: digest_of(verified_hash),
            expires_at: now.saturating_add(self.ttl),
        };
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&tag) {
            entries.retain(|_, e| now < e.expires_at);
            if entries.len() >= self.capacity
                && let Some(victim) = entries.keys().next().copied()
            {
                entries.remove(&victim);
            }
        }
        entries.insert(tag, entry);
    }

    /// Entries held (expired ones included until evicted).
    /// Runs `verify` (an argon2 verification of `secret` against `hash`) once for all the
    /// requests that present this client and secret at the same time: the first runs it, the
    /// others wait for its answer. A failed run (queue full) is not shared: the next waiter
    /// runs its own. The entry goes when the run ends, so a later request starts afresh.
    pub(crate) async fn verify_once<F, Fut>(
        &self,
        client_id: &str,
        secret: &str,
        hash: &str,
        verify: F,
    ) -> Result<bool, TokenError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<bool, TokenError>>,
    {
        let key = (self.tag(client_id, secret), digest_of(hash));
        let cell = {
            let mut flights = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(flights.entry(key).or_default())
        };
        let result = cell.get_or_try_init(verify).await.copied();
        let mut flights = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if flights.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            flights.remove(&key);
        }
        result
    }

    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

fn digest_of(hash: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, hash.as_bytes()).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaDE";
    const H2: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaDI";

    #[test]
    fn hit_after_remember_miss_for_other_secret_or_client() {
        let cache = SecretCache::new(300, 10).unwrap();
        assert!(!cache.check("app", "s3cret", H1, 0));
        cache.remember("app", "s3cret", H1, 0);
        assert!(cache.check("app", "s3cret", H1, 10));
        assert!(!cache.check("app", "wrong", H1, 10));
        assert!(!cache.check("other", "s3cret", H1, 10));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        cache.remember("ab", "c", H1, 0);
        assert!(!cache.check("a", "bc", H1, 1));
    }

    #[test]
    fn miss_after_the_client_secret_hash_changes() {
        let cache = SecretCache::new(300, 10).unwrap();
        cache.remember("app", "s3cret", H1, 0);
        assert!(!cache.check("app", "s3cret", H2, 1));
        assert!(cache.check("app", "s3cret", H1, 1));
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = SecretCache::new(300, 10).unwrap();
        cache.remember("app", "s3cret", H1, 1000);
        assert!(cache.check("app", "s3cret", H1, 1299));
        assert!(!cache.check("app", "s3cret", H1, 1300));
    }

    #[test]
    fn capacity_evicts_expired_first_then_arbitrary() {
        let cache = SecretCache::new(100, 2).unwrap();
        cache.remember("old", "s", H1, 0);
        cache.remember("a", "s", H1, 150);
        // "old" has expired at 200: it goes, "a" stays.
        cache.remember("b", "s", H1, 200);
        assert_eq!(cache.len(), 2);
        assert!(cache.check("a", "s", H1, 200) && cache.check("b", "s", H1, 200));
        // Nothing expired: one arbitrary entry goes, the new one is in.
        cache.remember("c", "s", H1, 201);
        assert_eq!(cache.len(), 2);
        assert!(cache.check("c", "s", H1, 201));
        // Re-remembering an existing entry at capacity evicts nothing.
        cache.remember("c", "s", H1, 202);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn zero_ttl_or_capacity_disables() {
        for cache in [
            SecretCache::new(0, 10).unwrap(),
            SecretCache::new(300, 0).unwrap(),
        ] {
            cache.remember("app", "s3cret", H1, 0);
            assert!(!cache.check("app", "s3cret", H1, 0));
            assert_eq!(cache.len(), 0);
        }
    }

    #[test]
    fn keys_differ_per_process_instance() {
        let (a, b) = (
            SecretCache::new(1, 1).unwrap(),
            SecretCache::new(1, 1).unwrap(),
        );
        assert_ne!(a.tag("app", "s"), b.tag("app", "s"));
    }
}
