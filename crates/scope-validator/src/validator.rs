//! [`ScopeValidator`]: the handle the server's check and introspection routes call.
//!
//! A decision runs entirely on the caller's thread from snapshots: the key set (`ArcSwap`),
//! the policy ([`PolicyReader`]), the revocation set (`ArcSwap` of a persistent map) and the
//! verified-token cache. Only the revocation methods ([`ScopeValidator::revoke`],
//! [`ScopeValidator::revoke_subject`], [`ScopeValidator::apply_remote`],
//! [`ScopeValidator::resync`]) and [`ScopeValidator::prune_expired`] talk to the actor.
//!
//! # Order of the checks
//!
//! 1. a token is present;
//! 2. cache hit: the key epoch (the `kid` is still in the key set with the same material), then
//!    `exp`/`nbf` with the leeway, then revocation (the `jti`, and the `sub` against a subject
//!    revocation's "before" with the token's `iat`). An entry whose key no longer holds is
//!    dropped and the token verified in full, so it gets the reason an uncached token would;
//! 3. cache miss: the [`Verifier`](scopegate_jwt::Verifier) (shape, `kid`, `alg`, `typ`,
//!    signature, `iss`, `aud`, `exp`, `nbf`), then revocation; a token that passes is cached;
//! 4. the path and the scopes ([`crate::decision`]).

use std::fmt;
use std::sync::Arc;

use actix::{Actor, Addr, Arbiter, System};
use arc_swap::ArcSwap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use scopegate_jwt::{AccessTokenClaims, KeySet, VerifyError};
use scopegate_policy_store::PolicyReader;

use crate::Clock;
use crate::actor::ValidatorActor;
use crate::cache::{CachedToken, TokenCache};
use crate::config::{ValidatorConfig, ValidatorSettings};
use crate::decision::{Decision, Deny, DenyReason, Principal, authorize};
use crate::error::{StartError, ValidatorError};
use crate::keys::{KeyGeneration, Keys};
use crate::messages::{ApplyRemote, PruneExpired, Resync, Revoke, RevokeSubject};
use crate::revocation::{RevocationEvent, RevocationSet, RevocationStore, SharedRevocations};

/// Longer tokens are refused before they are hashed for a cache lookup (the verifier has the
/// same limit).
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Decides requests and records revocations. Cheap to clone (one `Arc`); every clone shares the
/// same cache, snapshots and actor, so the server hands one clone to each HTTP worker.
#[derive(Clone)]
pub struct ScopeValidator {
    /// The shared state; when the last clone goes, the actor's arbiter stops.
    inner: Arc<Inner>,
}

/// The state behind every [`ScopeValidator`] clone.
struct Inner {
    /// Leeway, cache size, the unmatched-path rule.
    settings: ValidatorSettings,
    /// The current policy snapshot, read without a mailbox round trip.
    policy: PolicyReader,
    /// The key-set generation and its verifier.
    keys: Keys,
    /// Verified tokens (see [`crate::cache`]).
    cache: TokenCache,
    /// Revoked `jti`s and subjects, published by the actor after each durable write, remote
    /// event or reload.
    revoked: SharedRevocations,
    /// The actor that owns the revocation store.
    actor: Addr<ValidatorActor>,
    /// The dedicated thread the actor runs on; stopped when `Inner` drops.
    arbiter: Arbiter,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.arbiter.stop();
    }
}

// === impl ScopeValidator ===

impl ScopeValidator {
    /// Loads the revocation list from `store` and starts the actor that owns it on a dedicated
    /// arbiter. Must be called inside a running actix `System`.
    pub fn start(
        config: ValidatorConfig,
        policy: PolicyReader,
        keys: Arc<ArcSwap<KeySet>>,
        store: Box<dyn RevocationStore>,
    ) -> Result<ScopeValidator, StartError> {
        Self::start_with_clock(
            config,
            policy,
            keys,
            store,
            Arc::new(scopegate_jwt::unix_now),
        )
    }

    /// [`ScopeValidator::start`] with an injected clock (used only by the pruning timer).
    pub(crate) fn start_with_clock(
        config: ValidatorConfig,
        policy: PolicyReader,
        keys: Arc<ArcSwap<KeySet>>,
        mut store: Box<dyn RevocationStore>,
        clock: Clock,
    ) -> Result<ScopeValidator, StartError> {
        if System::try_current().is_none() {
            return Err(StartError::NoSystem);
        }
        if config.issuer.is_empty() || config.audience.is_empty() {
            return Err(StartError::Config("issuer and audience must not be empty"));
        }
        let settings = config.settings;
        let loaded = store.load(clock().saturating_sub(settings.leeway_secs))?;
        let set = RevocationSet::from(loaded);
        let revoked: SharedRevocations = Arc::new(ArcSwap::from_pointee(set.clone()));
        let arbiter = Arbiter::new();
        let published = Arc::clone(&revoked);
        let (leeway, actor_clock) = (settings.leeway_secs, Arc::clone(&clock));
        let actor = ValidatorActor::start_in_arbiter(&arbiter.handle(), move |_| {
            ValidatorActor::new(store, set, published, leeway, actor_clock)
        });
        tracing::info!(
            revoked = revoked.load().len(),
            cache_capacity = settings.cache_capacity,
            leeway_secs = settings.leeway_secs,
            unmatched_path = ?settings.unmatched_path,
            "scope validator started"
        );
        Ok(ScopeValidator {
            inner: Arc::new(Inner {
                keys: Keys::new(keys, config.issuer, config.audience, settings.leeway_secs),
                cache: TokenCache::new(settings.cache_capacity),
                settings,
                policy,
                revoked,
                actor,
                arbiter,
            }),
        })
    }

    /// Decides whether `token` (the bearer token, if the request had one) may call `method`
    /// `path` at `now` (seconds since the Unix epoch). Runs on the caller's thread from
    /// snapshots; never waits on the actor.
    pub fn decide(&self, token: Option<&str>, method: &str, path: &str, now: u64) -> Decision {
        let Some(token) = token else {
            return Decision::Deny(Deny::invalid_token(
                DenyReason::MissingToken,
                "no access token was presented",
            ));
        };
        let principal = match self.authenticate(token, now) {
            Ok(principal) => principal,
            Err(deny) => return Decision::Deny(deny),
        };
        let policy = self.inner.policy.current();
        authorize(
            &policy,
            principal,
            method,
            path,
            self.inner.settings.unmatched_path,
        )
    }

    /// The token checks alone (signature, `kid`, `alg`, `typ`, `iss`, `aud`, `exp`, `nbf`,
    /// revocation), as introspection needs them. Uses and fills the cache like
    /// [`ScopeValidator::decide`]; a refusal is a 401 `invalid_token` [`Deny`].
    pub fn authenticate(&self, token: &str, now: u64) -> Result<Principal, Deny> {
        self.inner.authenticate(token, now)
    }

    /// Revokes the access token `jti` until its `exp`. Returns once the revocation is durable
    /// and visible to every later [`ScopeValidator::decide`], cached tokens included.
    pub async fn revoke(&self, jti: String, exp: u64) -> Result<(), ValidatorError> {
        self.inner.actor.send(Revoke { jti, exp }).await??;
        Ok(())
    }

    /// Revokes every access token of the grant family `family` (their `sid` claim) until
    /// `last_exp`, the latest `exp` any of them can have. Recorded in the same revocation set
    /// (and store, and cluster channel) as a `jti`, so it is in force on every node and for
    /// cached tokens as soon as this returns, and pruned once the family's last token expired.
    pub async fn revoke_family(&self, family: String, last_exp: u64) -> Result<(), ValidatorError> {
        self.revoke(family, last_exp).await
    }

    /// Revokes every token of `subject` (`sub`) issued at or before `before` (`iat <= before`,
    /// seconds since the Unix epoch), cached ones included, until `keep_until`: the caller
    /// passes `before` + the longest access-token lifetime + the leeway, after which every such
    /// token has expired and the entry is pruned. A token issued after `before` is unaffected.
    /// Returns once the revocation is durable and visible to every later decision.
    pub async fn revoke_subject(
        &self,
        subject: String,
        before: u64,
        keep_until: u64,
    ) -> Result<(), ValidatorError> {
        let message = RevokeSubject {
            subject,
            before,
            keep_until,
        };
        self.inner.actor.send(message).await??;
        Ok(())
    }

    /// Publishes a revocation another node made, without writing it to the store (the shared
    /// store already has it). Does not wait: callable from a listener task; decisions see it
    /// as soon as the actor has handled it (microseconds later).
    pub fn apply_remote(&self, event: RevocationEvent) {
        self.inner.actor.do_send(ApplyRemote { event });
    }

    /// Reloads the store and merges it into the published set, e.g. after the listener for
    /// other nodes' revocations reconnected (what was announced meanwhile is lost, but it is
    /// in the store). Revocations only ever grow until they expire, so the union is exact.
    /// Does not wait; if the reload fails the actor retries with a backoff (100 ms doubling to
    /// 5 s) until one succeeds.
    pub fn resync(&self) {
        self.inner.actor.do_send(Resync);
    }

    /// Forgets revocations of tokens expired (beyond the leeway) at `now`; returns how many
    /// were deleted from the store. The actor also does this every minute by itself.
    pub async fn prune_expired(&self, now: u64) -> Result<usize, ValidatorError> {
        Ok(self.inner.actor.send(PruneExpired { now }).await??)
    }

    /// Revocations currently in force, `jti`s and subjects (for metrics and tests).
    pub fn revoked_len(&self) -> usize {
        self.inner.revoked.load().len()
    }

    /// Subject revocations currently in force (for metrics and tests).
    pub fn revoked_subjects_len(&self) -> usize {
        self.inner.revoked.load().subjects_len()
    }

    /// Verified tokens currently cached (for metrics and tests).
    pub fn cache_len(&self) -> usize {
        self.inner.cache.len()
    }

    /// Requests answered from the cache without a signature check, since start.
    pub fn cache_hits(&self) -> u64 {
        self.inner.cache.hits()
    }

    /// Full token verifications (cache misses), since start.
    pub fn cache_misses(&self) -> u64 {
        self.inner.cache.misses()
    }

    /// Reloads the store now and replies how many entries changed (tests; the public
    /// [`ScopeValidator::resync`] does not wait).
    #[cfg(test)]
    pub(crate) async fn resync_now(&self) -> Result<usize, ValidatorError> {
        Ok(self.inner.actor.send(Resync).await??)
    }

    /// The cache itself, for tests that stage what a request racing a key change could leave.
    #[cfg(test)]
    pub(crate) fn cache(&self) -> &TokenCache {
        &self.inner.cache
    }
}

/// Shows the configuration and sizes, never a token.
impl fmt::Debug for ScopeValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeValidator")
            .field("settings", &self.inner.settings)
            .field("revoked", &self.revoked_len())
            .field("cached", &self.cache_len())
            .finish_non_exhaustive()
    }
}

// === impl Inner ===

impl Inner {
    fn authenticate(&self, token: &str, now: u64) -> Result<Principal, Deny> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(refused(&VerifyError::Malformed("token is too long".into())));
        }
        let keys = self.keys.current(&self.cache);
        if let Some(entry) = self.cache.get(token) {
            if keys.epoch(&entry.kid) == Some(entry.key_epoch) {
                self.recheck(token, &entry, now)?;
                self.cache.hit();
                return Ok(entry.principal.clone());
            }
            // The key was retired or re-bound since: verify in full, as if never cached.
            self.cache.remove(token);
        }
        self.verify(token, &keys, now)
    }

    /// What may have changed since a cached token was verified: time and revocation.
    fn recheck(&self, token: &str, entry: &CachedToken, now: u64) -> Result<(), Deny> {
        let leeway = self.settings.leeway_secs;
        let problem = if now > entry.exp.saturating_add(leeway) {
            Some(refused(&VerifyError::Expired))
        } else if entry.nbf > now.saturating_add(leeway) {
            Some(refused(&VerifyError::NotYetValid))
        } else if self.is_revoked(&entry.principal.claims) {
            Some(revoked())
        } else {
            None
        };
        match problem {
            Some(deny) => {
                // Expired or revoked never becomes valid again; one refused for `nbf` (a clock
                // stepping back) is simply verified in full next time.
                self.cache.remove(token);
                Err(deny)
            }
            None => Ok(()),
        }
    }

    /// The full check of an uncached token; a token that passes is cached.
    fn verify(&self, token: &str, keys: &KeyGeneration, now: u64) -> Result<Principal, Deny> {
        self.cache.miss();
        let claims = keys.verifier.verify(token, now).map_err(|e| refused(&e))?;
        if self.is_revoked(&claims) {
            return Err(revoked());
        }
        let (exp, nbf) = (claims.exp, claims.nbf);
        let principal = Principal::from_claims(claims);
        let epoch = header_kid(token).and_then(|kid| keys.epoch(&kid).map(|e| (kid, e)));
        if let Some((kid, key_epoch)) = epoch {
            self.cache.insert(
                token,
                CachedToken {
                    principal: principal.clone(),
                    exp,
                    nbf,
                    kid,
                    key_epoch,
                },
            );
        }
        Ok(principal)
    }

    fn is_revoked(&self, claims: &AccessTokenClaims) -> bool {
        self.revoked.load().refuses(claims)
    }
}

/// The `kid` of a token that has just been verified (so its header is known to be valid JSON
/// with a `kid`); `None` only if that somehow fails, and then the token is simply not cached.
fn header_kid(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Header {
        kid: String,
    }
    let header_b64 = token.split('.').next()?;
    let json = URL_SAFE_NO_PAD.decode(header_b64).ok()?;
    serde_json::from_slice::<Header>(&json)
        .ok()
        .map(|header| header.kid)
}

/// A 401 for a token the verifier (or a cache re-check) refused; the verifier's messages name
/// the failed check and never the token.
fn refused(error: &VerifyError) -> Deny {
    Deny::invalid_token(DenyReason::of(error), error.to_string())
}

/// A 401 for a revoked token.
fn revoked() -> Deny {
    Deny::invalid_token(DenyReason::Revoked, "token has been revoked")
}
