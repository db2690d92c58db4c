//! [`TokenService`]: the entry point of the token endpoint, what the HTTP handler calls.
//!
//! It holds everything a request needs: the policy reader (snapshots, no mailbox), the signing
//! key set, the secret cache, the hash pool, and the address of the
//! [`TokenIssuer`](crate::actor::TokenIssuer) actor. The hot path, `client_credentials` with a
//! cached secret, touches only the first three: snapshot read, HMAC, sign.

use std::fmt;
use std::sync::Arc;

use actix::{Actor, Addr, Arbiter, System};
use arc_swap::ArcSwap;
use scopegate_jwt::KeySet;
use scopegate_policy_store::PolicyReader;

use crate::Clock;
use crate::actor::TokenIssuer;
use crate::config::IssuerConfig;
use crate::error::{StartError, TokenError};
use crate::hash_pool::HashPool;
use crate::links::Links;
use crate::messages::{LookupRefresh, RevokeFamily, RevokeSubject};
use crate::refresh::{RefreshRecord, Revocation};
use crate::refresh::{RefreshStore, TokenHash};
use crate::request::{ClientRequest, Grant, TokenRequest};
use crate::response::TokenResponse;
use crate::secret_cache::SecretCache;
use crate::throttle::{Lockout, Throttle, ThrottleKey, ThrottleKind, ThrottleUnavailable};

/// Issues tokens. Cheap to clone (one `Arc`); every clone shares the same cache, pool and
/// actor, so the server hands one clone to each HTTP worker.
#[derive(Clone)]
pub struct TokenService {
    /// The shared state; when the last clone goes, the actor's arbiter and the pool stop.
    inner: Arc<Inner>,
}

/// The state behind every [`TokenService`] clone.
pub(crate) struct Inner {
    /// Lifetimes, issuer, audience, the empty-grant rule.
    pub(crate) config: IssuerConfig,
    /// The current policy snapshot, read without a mailbox round trip.
    pub(crate) policy: PolicyReader,
    /// The signing key set; swapped as a whole on key rotation, read with one atomic load.
    pub(crate) keys: Arc<ArcSwap<KeySet>>,
    /// Recent successful client-secret verifications (see [`crate::secret_cache`]).
    pub(crate) cache: SecretCache,
    /// Where argon2 runs, off the event loop, behind a bounded queue.
    pub(crate) pool: HashPool,
    /// The actor that owns the refresh store.
    pub(crate) issuer: Addr<TokenIssuer>,
    /// Seconds since the Unix epoch; injected so tests control expiry.
    pub(crate) clock: Clock,
    /// Failed sign-ins per username and per client + address; locked keys are refused before
    /// any argon2 work.
    pub(crate) throttle: Throttle,
    /// Where a revoked family's access tokens are revoked.
    pub(crate) links: Links,
    /// The dedicated thread the actor runs on; stopped when `Inner` drops.
    arbiter: Arbiter,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.arbiter.stop();
    }
}

// === impl TokenService ===

impl TokenService {
    /// Starts the TokenIssuer actor (which owns `refresh_store`) on a dedicated arbiter, and
    /// the hash pool. Must be called inside a running actix `System`.
    pub fn start(
        config: IssuerConfig,
        policy: PolicyReader,
        keys: Arc<ArcSwap<KeySet>>,
        refresh_store: Box<dyn RefreshStore>,
        links: Links,
    ) -> Result<TokenService, StartError> {
        Self::start_with_clock(
            config,
            policy,
            keys,
            refresh_store,
            links,
            Arc::new(scopegate_jwt::unix_now),
        )
    }

    /// [`TokenService::start`] with an injected clock.
    pub(crate) fn start_with_clock(
        config: IssuerConfig,
        policy: PolicyReader,
        keys: Arc<ArcSwap<KeySet>>,
        refresh_store: Box<dyn RefreshStore>,
        links: Links,
        clock: Clock,
    ) -> Result<TokenService, StartError> {
        if System::try_current().is_none() {
            return Err(StartError::NoSystem);
        }
        if config.hash_workers == 0 {
            return Err(StartError::Config("hash_workers must be at least 1"));
        }
        if config.access_token_ttl_secs == 0
            || config.refresh_token_ttl_secs == 0
            || config.refresh_family_lifetime_secs == 0
        {
            return Err(StartError::Config(
                "token lifetimes must be at least 1 second",
            ));
        }
        if config.max_scopes_per_token == 0 {
            return Err(StartError::Config(
                "max_scopes_per_token must be at least 1",
            ));
        }
        if config.max_token_bytes > crate::config::CHECK_PATH_TOKEN_LIMIT {
            return Err(StartError::Config(
                "max_token_bytes may not exceed 8192, the longest token the check endpoints accept",
            ));
        }
        let pool = HashPool::start(config.hash_workers, config.hash_queue)?;
        let cache = SecretCache::new(config.secret_cache_ttl_secs, config.secret_cache_capacity)?;
        let throttle = Throttle::new(
            config.throttle.clone(),
            links.throttle.clone(),
            Arc::clone(&clock),
        );
        let arbiter = Arbiter::new();
        let actor_clock = Arc::clone(&clock);
        let issuer = TokenIssuer::start_in_arbiter(&arbiter.handle(), move |_| {
            TokenIssuer::new(refresh_store, actor_clock)
        });
        tracing::info!(
            hash_workers = config.hash_workers,
            hash_queue = config.hash_queue,
            secret_cache_ttl_secs = config.secret_cache_ttl_secs,
            "token service started"
        );
        Ok(TokenService {
            inner: Arc::new(Inner {
                config,
                policy,
                keys,
                cache,
                pool,
                issuer,
                clock,
                throttle,
                links,
                arbiter,
            }),
        })
    }

    /// Answers a token request: authenticates the client, runs the grant, signs the token.
    ///
    /// Each answer is logged at `debug` (a busy node answers thousands a second); security
    /// events (lockouts, refresh-token reuse, revocations) are logged at `info` where they
    /// happen.
    pub async fn token(&self, request: TokenRequest) -> Result<TokenResponse, TokenError> {
        let grant = request.grant_type().as_str();
        let client_id = loggable(request.client_id());
        let username = request.username().map(loggable);
        let result = self.inner.token(request).await;
        match &result {
            Ok(response) => tracing::debug!(
                client_id = ?client_id,
                username = ?username,
                grant,
                scope = %response.scope,
                outcome = "issued",
                "token issued"
            ),
            Err(e) => tracing::debug!(
                client_id = ?client_id,
                username = ?username,
                grant,
                outcome = e.outcome(),
                "token refused"
            ),
        }
        result
    }

    /// Authenticates the client of an introspection or revocation request (the same rules, cache
    /// and hash pool as the token endpoint) and returns its client id.
    pub async fn authenticate_client(&self, request: &ClientRequest) -> Result<String, TokenError> {
        let now = (self.inner.clock)();
        let policy = self.inner.policy.current();
        let client = self
            .inner
            .authenticate(&policy, &request.client, None, request.source, now)
            .await?;
        Ok(client.client_id.clone())
    }

    /// Whether `client_id` may introspect tokens issued to other clients (RFC 7662 §4): its
    /// roles permit the internal scope `scope` in the current policy (allowlist and open
    /// scopes do not count: the scope must be bound to one of the client's roles or
    /// permissions). Every client may introspect its own tokens.
    pub fn client_holds(&self, client_id: &str, scope: &str) -> bool {
        let policy = self.inner.policy.current();
        policy.client(client_id).is_some_and(|client| {
            policy
                .scope(scope)
                .is_some_and(|s| !s.is_open() && policy.is_permitted(&client.roles, scope))
        })
    }

    /// The record of a live refresh token (known, not yet rotated, not expired), for
    /// introspection (RFC 7662); `None` for anything else.
    pub async fn introspect_refresh_token(
        &self,
        token: &str,
    ) -> Result<Option<RefreshRecord>, TokenError> {
        let now = (self.inner.clock)();
        let record = self
            .inner
            .issuer
            .send(LookupRefresh {
                hash: TokenHash::of(token),
            })
            .await
            .map_err(|_| {
                TokenError::TemporarilyUnavailable(
                    "the token issuer is unavailable; retry later".to_owned(),
                )
            })?
            .map_err(|e| TokenError::store("looking up a refresh token failed", &e))?;
        Ok(record.filter(|r| !r.rotated && r.expires_at > now))
    }

    /// Revokes the refresh token's whole family (RFC 7009) for the authenticated `client_id`,
    /// and every access token issued from that family (RFC 7009 §2.1: "SHOULD also invalidate
    /// all access tokens based on the same authorization grant"). `false` if the token is
    /// unknown, which the revocation endpoint still answers with 200 (RFC 7009 §2.2); a token
    /// issued to another client is `unauthorized_client` and changes nothing (RFC 7009 §2.1).
    pub async fn revoke_refresh_token(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<bool, TokenError> {
        let hash = TokenHash::of(token);
        let outcome = self
            .inner
            .issuer
            .send(RevokeFamily {
                hash,
                client_id: client_id.to_owned(),
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "the token issuer actor is unavailable");
                TokenError::TemporarilyUnavailable(
                    "the token issuer is unavailable; retry later".to_owned(),
                )
            })?
            .map_err(|e| TokenError::store("revoking a refresh token family failed", &e))?;
        tracing::info!(
            client_id = ?loggable(client_id),
            outcome = ?outcome,
            "refresh token family revocation"
        );
        match outcome {
            Revocation::Revoked { family } => {
                let now = (self.inner.clock)();
                self.inner
                    .revoke_family_access(family, now)
                    .await
                    .map_err(|e| {
                        tracing::warn!(error = %e, "revoking a refresh family's access tokens failed");
                        TokenError::TemporarilyUnavailable(
                            "the refresh token is revoked, but its access tokens could not be \
                             revoked yet; retry"
                                .to_owned(),
                        )
                    })?;
                Ok(true)
            }
            Revocation::Unknown => Ok(false),
            Revocation::OtherClient => Err(TokenError::UnauthorizedClient(
                "the token was not issued to this client".to_owned(),
            )),
        }
    }

    /// Revokes every refresh token of `subject` (the user name, an access token's `sub`), in
    /// every family and for every client: "sign out everywhere", or an account that must lose
    /// access now. Returns how many families were revoked.
    ///
    /// Access tokens already issued stay valid until they expire unless the validator is told
    /// too (`ScopeValidator::revoke_subject`); the caller (an admin route) does both.
    pub async fn revoke_subject(&self, subject: &str) -> Result<usize, TokenError> {
        let families = self
            .inner
            .issuer
            .send(RevokeSubject {
                subject: subject.to_owned(),
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "the token issuer actor is unavailable");
                TokenError::TemporarilyUnavailable(
                    "the token issuer is unavailable; retry later".to_owned(),
                )
            })?
            .map_err(|e| TokenError::store("revoking a subject's refresh tokens failed", &e))?;
        tracing::info!(
            subject = ?loggable(subject),
            families,
            "refresh tokens of a subject revoked"
        );
        Ok(families)
    }

    /// Lockouts of the sign-in throttle in force now (the cluster's, or this node's while the
    /// shared store is unreachable).
    pub async fn lockouts(&self) -> Vec<Lockout> {
        let now = (self.inner.clock)();
        self.inner.throttle.lockouts(now).await
    }

    /// Lifts a lockout (an administrator's decision) and resets the key's budget; whether one
    /// was in force. Fails when the cluster's shared counters cannot be reached.
    pub async fn clear_lockout(&self, key: &ThrottleKey) -> Result<bool, ThrottleUnavailable> {
        let now = (self.inner.clock)();
        let lifted = self.inner.throttle.clear(key, now).await?;
        tracing::info!(key = ?key, lifted, "sign-in throttle: lockout cleared by an administrator");
        Ok(lifted)
    }

    /// Attempts refused by the sign-in throttle since start, by the locked key's kind.
    pub fn throttled_attempts(&self, kind: ThrottleKind) -> u64 {
        self.inner.throttle.refused(kind)
    }

    /// Lockouts started on this node since start, by kind.
    pub fn lockouts_started(&self, kind: ThrottleKind) -> u64 {
        self.inner.throttle.started(kind)
    }

    /// Credential checks waiting for a hash worker right now (a gauge for metrics).
    pub fn hash_queue_depth(&self) -> usize {
        self.inner.pool.queue_depth()
    }

    /// Credential checks refused with 503 because the hash queue was full, since start.
    pub fn hash_rejections(&self) -> u64 {
        self.inner.pool.rejections()
    }

    /// argon2 verifications run since start (cache hits do not count).
    pub fn hash_verifications(&self) -> u64 {
        self.inner.pool.verifications()
    }

    /// Entries in the client-secret cache (a gauge for metrics).
    pub fn secret_cache_len(&self) -> usize {
        self.inner.cache.len()
    }

    /// The actor's address, for tests that drive it directly.
    #[cfg(test)]
    pub(crate) fn issuer(&self) -> &Addr<TokenIssuer> {
        &self.inner.issuer
    }
}

impl fmt::Debug for TokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenService")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

// === impl Inner ===

impl Inner {
    async fn token(&self, request: TokenRequest) -> Result<TokenResponse, TokenError> {
        let now = (self.clock)();
        // One snapshot for the whole request: client, user and scopes are judged consistently.
        let policy = self.policy.current();
        let grant_type = request.grant_type();
        let TokenRequest {
            client,
            grant,
            scope,
            source,
        } = request;
        let authenticated = self
            .authenticate(&policy, &client, Some(grant_type), source, now)
            .await?;
        match grant {
            Grant::ClientCredentials => {
                self.client_credentials(&policy, authenticated, &scope, now)
            }
            Grant::Password { username, password } => {
                self.password(
                    &policy,
                    authenticated,
                    &username,
                    &password,
                    &scope,
                    source,
                    now,
                )
                .await
            }
            Grant::RefreshToken { refresh_token } => {
                self.refresh(
                    Arc::clone(&policy),
                    authenticated,
                    &refresh_token,
                    scope,
                    now,
                )
                .await
            }
        }
    }
}

/// A client-supplied string fit for a log field: at most 64 characters (the field is
/// Debug-escaped by the formatter, so control characters cannot forge log lines).
pub(crate) fn loggable(value: &str) -> String {
    value.chars().take(64).collect()
}
