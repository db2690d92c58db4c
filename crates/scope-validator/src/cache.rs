//! [`TokenCache`]: remembers tokens whose signature has been verified, so a repeat of the same
//! token skips the signature check (27–36 µs for EdDSA/ES256 here, more than a whole trivial
//! HTTP request).
//!
//! # Why this is safe
//!
//! - **Keyed by the whole token string**, compared in full on every lookup. The hash only picks
//!   a bucket; equality decides. Oathkeeper's CVE-2021-32701 and CVE-2026-33496 came from cache
//!   keys that left part of the token out, so that a forged token collided with a verified one;
//!   here two tokens that differ in a single character (in the signature, say) are two keys.
//! - **Only successes.** A token is inserted after every check passed (signature, `kid`, `alg`,
//!   `typ`, `iss`, `aud`, `exp`, `nbf`, revocation). Failures are never cached, so an attacker
//!   can neither fill the cache with garbage nor learn anything from it.
//! - **Every hit re-checks what can change after verification** (see
//!   [`crate::validator`]): `exp`/`nbf` against the caller's `now` with the leeway, so an entry
//!   never outlives its token; that the signing key is still in the current key set under the
//!   same `kid` and with the same material (its *epoch*, see [`crate::keys`]), so retiring a
//!   key removes its tokens at once; and the revocation snapshot, so a revocation takes effect
//!   on the next request even for a cached token. An entry that fails a re-check is dropped
//!   there and then, which is also how a revoked token leaves the cache (no `jti` → token
//!   index to maintain).
//! - **Bounded.** At most `cache_capacity` entries, evicted by quick_cache's S3-FIFO policy, so
//!   a flood of distinct valid tokens cannot grow memory.
//!
//! quick_cache rather than moka: it is a small crate (a sharded lock per segment, no background
//! threads, no async runtime), and TTLs are not needed since every hit checks `exp` itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::Cache;

use crate::decision::Principal;

/// What a cache hit needs to re-check a verified token without its signature.
#[derive(Debug)]
pub(crate) struct CachedToken {
    /// The verified principal, handed out (cloned) on every hit.
    pub(crate) principal: Principal,
    /// The token's `exp`; a hit after it (plus leeway) is refused.
    pub(crate) exp: u64,
    /// The token's `nbf`; checked again so a clock moving backwards cannot admit it early.
    pub(crate) nbf: u64,
    /// The `kid` the token was verified with.
    pub(crate) kid: String,
    /// The epoch of that key when it verified the token; a hit needs the same epoch now.
    pub(crate) key_epoch: u64,
}

/// The verified-token cache with its counters. Disabled (always empty) at capacity 0.
pub(crate) struct TokenCache {
    /// Whole token → verification result; `None` when disabled.
    entries: Option<Cache<String, Arc<CachedToken>>>,
    /// Hits served from the cache (every re-check passed).
    hits: AtomicU64,
    /// Full verifications run (cache miss, or an entry that no longer passed).
    misses: AtomicU64,
}

// === impl TokenCache ===

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 disables it.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: (capacity > 0).then(|| Cache::new(capacity)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The entry for exactly `token`, if any. Counts nothing: the caller decides whether the
    /// entry still holds and calls [`TokenCache::hit`] or [`TokenCache::miss`].
    pub(crate) fn get(&self, token: &str) -> Option<Arc<CachedToken>> {
        self.entries.as_ref()?.get(token)
    }

    /// Remembers a token that passed every check.
    pub(crate) fn insert(&self, token: &str, entry: CachedToken) {
        if let Some(entries) = &self.entries {
            entries.insert(token.to_owned(), Arc::new(entry));
        }
    }

    /// Forgets `token` (an entry that no longer passes its re-checks).
    pub(crate) fn remove(&self, token: &str) {
        if let Some(entries) = &self.entries {
            entries.remove(token);
        }
    }

    /// Keeps only the entries `keep` accepts; a full scan, for the rare key-set change.
    pub(crate) fn retain(&self, keep: impl Fn(&CachedToken) -> bool) {
        if let Some(entries) = &self.entries {
            entries.retain(|_, entry| keep(entry));
        }
    }

    /// Counts a request answered from the cache.
    pub(crate) fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a full verification.
    pub(crate) fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// Entries held now.
    pub(crate) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }

    /// Requests answered from the cache so far.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Full verifications so far.
    pub(crate) fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}
