//! The grants: client authentication, `client_credentials`, `password`, `refresh_token`, and
//! the signing of the access token they end in.
//!
//! Scope decisions are delegated to the pure functions of `scopegate-core`; this module adds
//! the effects around them (argon2 in the pool, the secret cache, the actor, signing).

use std::net::IpAddr;
use std::sync::Arc;

use scopegate_core::grant::narrow;
use scopegate_core::{
    Client, EmptyGrant, GrantError, GrantType, Policy, ScopeRequest, grant_scopes,
};
use scopegate_jwt::{AccessTokenClaims, Audience};

use crate::error::TokenError;
use crate::hash_pool::DUMMY_HASH;
use crate::messages::{IssueRefresh, RotateRefresh};
use crate::refresh::{self, RefreshRecord, RotateOutcome, TokenHash};
use crate::request::ClientCredentials;
use crate::response::TokenResponse;
use crate::service::Inner;
use crate::throttle::ThrottleKey;

/// Who a token is about: `sub`, and `username` for user grants.
struct Principal<'a> {
    /// The `sub` claim: the username, or the client id for `client_credentials`.
    sub: &'a str,
    /// The `username` claim; only for grants on behalf of a user.
    username: Option<&'a str>,
    /// The `sid` claim: the refresh family the token belongs to, when there is one.
    family: Option<&'a str>,
}

// === impl Inner ===

impl Inner {
    /// Authenticates the client and, when `grant` is given, checks it may use it.
    ///
    /// A cached verification (see [`crate::secret_cache`]) skips argon2 and the throttle;
    /// otherwise a client locked by the sign-in throttle from this address is refused, and the
    /// secret is verified in the hash pool, once for concurrent requests presenting the same
    /// client and secret. An unknown client still costs one (dummy) verification. A failure
    /// counts against the client + address.
    pub(crate) async fn authenticate<'p>(
        &self,
        policy: &'p Policy,
        creds: &ClientCredentials,
        grant: Option<GrantType>,
        source: Option<IpAddr>,
        now: u64,
    ) -> Result<&'p Client, TokenError> {
        let source_key = source.map(|address| ThrottleKey::Source {
            client_id: creds.id.clone(),
            address,
        });
        let client = policy.client(&creds.id);
        let cached = client.is_some_and(|c| {
            self.cache
                .check(&c.client_id, &creds.secret, &c.secret_hash, now)
        });
        // A cached verification proves the secret without argon2 and without the throttle (the
        // hot path touches neither Redis nor the pool); anything that would run argon2 is
        // refused first when the client is locked from this address.
        if !cached
            && let Some(key) = &source_key
            && let Some(lockout) = self.throttle.locked(std::slice::from_ref(key), now).await
        {
            let password = grant == Some(GrantType::Password);
            return Err(TokenError::throttled(password, now, lockout.until));
        }
        let verified = match client {
            _ if cached => true,
            Some(c) => {
                let ok = self
                    .cache
                    .verify_once(&c.client_id, &creds.secret, &c.secret_hash, || {
                        self.pool.verify(&c.secret_hash, &creds.secret)
                    })
                    .await?;
                if ok {
                    self.cache
                        .remember(&c.client_id, &creds.secret, &c.secret_hash, now);
                }
                ok
            }
            None => {
                self.pool.verify(DUMMY_HASH, &creds.secret).await?;
                false
            }
        };
        let client = match client {
            Some(c) if verified && c.enabled => c,
            _ => {
                if let Some(key) = source_key {
                    self.throttle.failed(&[key], now).await;
                }
                return Err(TokenError::client("client authentication failed"));
            }
        };
        if let Some(grant) = grant
            && !client.grant_types.contains(&grant)
        {
            return Err(TokenError::UnauthorizedClient(format!(
                "the client may not use the {} grant",
                grant.as_str()
            )));
        }
        Ok(client)
    }

    /// `client_credentials`: the client's own roles decide; no refresh token.
    pub(crate) fn client_credentials(
        &self,
        policy: &Policy,
        client: &Client,
        scope: &ScopeRequest,
        now: u64,
    ) -> Result<TokenResponse, TokenError> {
        let scopes = grant_scopes(policy, &client.roles, scope, self.config.empty_grant)
            .map_err(grant_error)?;
        let principal = Principal {
            sub: &client.client_id,
            username: None,
            family: None,
        };
        self.respond(now, &principal, &client.client_id, &scopes, None)
    }

    /// `password`: refuse a locked username or source before any argon2 work, verify the user
    /// in the pool (counting a failure against both), grant by the user's roles, and start a
    /// refresh family if the client may refresh.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn password(
        &self,
        policy: &Policy,
        client: &Client,
        username: &str,
        password: &str,
        scope: &ScopeRequest,
        source: Option<IpAddr>,
        now: u64,
    ) -> Result<TokenResponse, TokenError> {
        let user_key = ThrottleKey::User {
            username: username.to_owned(),
        };
        let mut keys = vec![user_key.clone()];
        keys.extend(source.map(|address| ThrottleKey::Source {
            client_id: client.client_id.clone(),
            address,
        }));
        if let Some(lockout) = self.throttle.locked(&keys, now).await {
            return Err(TokenError::throttled(true, now, lockout.until));
        }
        let user = policy.user(username);
        let phc = user.map_or(DUMMY_HASH, |u| u.password_hash.as_str());
        let ok = self.pool.verify(phc, password).await?;
        let user = match user {
            Some(u) if ok && u.enabled => u,
            _ => {
                self.throttle.failed(&keys, now).await;
                return Err(TokenError::grant("invalid username or password"));
            }
        };
        self.throttle.succeeded(&user_key).await;
        let scopes = grant_scopes(policy, &user.roles, scope, self.config.empty_grant)
            .map_err(grant_error)?;
        let (refresh_token, family) = if client.grant_types.contains(&GrantType::RefreshToken) {
            self.start_family(user, client, &scopes, now).await?
        } else {
            (None, None)
        };
        let principal = Principal {
            sub: &user.username,
            username: Some(&user.username),
            family: family.as_deref(),
        };
        self.respond(now, &principal, &client.client_id, &scopes, refresh_token)
    }

    /// Stores the first refresh token of a new family; `(token, family)`, or nothing while the
    /// refresh store (Redis in a cluster) is unreachable: the user still gets an access token
    /// from the snapshot, without a refresh token (RFC 6749 §5.1 makes it optional), rather
    /// than no answer at all.
    async fn start_family(
        &self,
        user: &scopegate_core::User,
        client: &Client,
        scopes: &[String],
        now: u64,
    ) -> Result<(Option<String>, Option<String>), TokenError> {
        let token = refresh::new_token()?;
        let family_end = now.saturating_add(self.config.refresh_family_lifetime_secs);
        let record = RefreshRecord {
            family: refresh::random_id::<16>()?,
            subject: user.username.clone(),
            client_id: client.client_id.clone(),
            scopes: scopes.to_vec(),
            issued_at: now,
            expires_at: now
                .saturating_add(self.config.refresh_token_ttl_secs)
                .min(family_end),
            rotated: false,
            family_expires_at: Some(family_end),
        };
        let family = record.family.clone();
        let hash = TokenHash::of(&token);
        match self
            .issuer
            .send(IssueRefresh { hash, record })
            .await
            .map_err(mailbox)?
        {
            Ok(()) => Ok((Some(token), Some(family))),
            Err(crate::refresh::StoreError::Unavailable(why)) => {
                tracing::warn!(reason = %why, "refresh store unavailable: issuing the access token without a refresh token");
                Ok((None, None))
            }
            Err(e) => Err(TokenError::store("storing a refresh token failed", &e)),
        }
    }

    /// `refresh_token`: rotate the presented token in the actor and issue a new access token
    /// for the user's current roles. A reused token revokes its family's refresh tokens (in
    /// the store) and access tokens (through [`crate::FamilyRevoker`]).
    pub(crate) async fn refresh(
        &self,
        policy: Arc<Policy>,
        client: &Client,
        token: &str,
        scope: ScopeRequest,
        now: u64,
    ) -> Result<TokenResponse, TokenError> {
        let replacement = refresh::new_token()?;
        let outcome = self
            .issuer
            .send(RotateRefresh {
                presented: TokenHash::of(token),
                replacement: TokenHash::of(&replacement),
                client_id: client.client_id.clone(),
                now,
                expires_at: now.saturating_add(self.config.refresh_token_ttl_secs),
                scope,
                policy,
                empty_grant: self.config.empty_grant,
            })
            .await
            .map_err(mailbox)?
            .map_err(|e| TokenError::store("rotating a refresh token failed", &e))?;
        let (record, scopes) = match outcome {
            RotateOutcome::Rotated { record, scopes } => (record, scopes),
            RotateOutcome::Unknown => {
                return Err(TokenError::grant("refresh token is invalid or revoked"));
            }
            RotateOutcome::Expired => return Err(TokenError::grant("refresh token has expired")),
            RotateOutcome::WrongClient => {
                return Err(TokenError::grant(
                    "refresh token was issued to another client",
                ));
            }
            RotateOutcome::Reused { family } => {
                // The family's access tokens go too; if that cannot be recorded now the grant
                // is still refused, and the failure is in the log.
                if let Err(e) = self.revoke_family_access(family, now).await {
                    tracing::error!(error = %e, "revoking the access tokens of a reused refresh family failed");
                }
                return Err(TokenError::grant(
                    "refresh token was already used; every token of its family is revoked",
                ));
            }
            RotateOutcome::Refused(e) => return Err(e),
        };
        let principal = Principal {
            sub: &record.subject,
            username: Some(&record.subject),
            family: Some(&record.family),
        };
        self.respond(
            now,
            &principal,
            &client.client_id,
            &scopes,
            Some(replacement),
        )
    }

    /// Revokes every access token of `family` that can still be valid at `now`: until the
    /// longest access-token lifetime has passed, no token issued from it can outlive this.
    pub(crate) async fn revoke_family_access(
        &self,
        family: String,
        now: u64,
    ) -> Result<(), String> {
        let last_exp = now.saturating_add(self.config.access_token_ttl_secs);
        self.links.families.revoke_family(family, last_exp).await
    }

    /// Signs the access token with the current signing key and builds the response. A token
    /// with more scopes than `max_scopes_per_token`, or larger than `max_token_bytes`, is
    /// refused with `invalid_scope` rather than issued: the check path would refuse it.
    fn respond(
        &self,
        now: u64,
        principal: &Principal<'_>,
        client_id: &str,
        scopes: &[String],
        refresh_token: Option<String>,
    ) -> Result<TokenResponse, TokenError> {
        let max_scopes = self.config.max_scopes_per_token;
        if scopes.len() > max_scopes {
            return Err(TokenError::scope(format!(
                "the request would grant {} scopes; one token carries at most {max_scopes}, \
                 ask for fewer scopes",
                scopes.len()
            )));
        }
        let ttl = self.config.access_token_ttl_secs;
        let scope = scopes.join(" ");
        let claims = AccessTokenClaims {
            iss: self.config.issuer.clone(),
            sub: principal.sub.to_owned(),
            aud: Audience::from(self.config.audience.clone()),
            exp: now.saturating_add(ttl),
            iat: now,
            nbf: now,
            jti: refresh::random_id::<16>()?,
            client_id: client_id.to_owned(),
            scope: scope.clone(),
            username: principal.username.map(str::to_owned),
            sid: principal.family.map(str::to_owned),
        };
        let access_token = self
            .keys
            .load()
            .signing()
            .sign(&claims)
            .map_err(|e| TokenError::internal("signing an access token failed", &e))?;
        let max_bytes = self.config.max_token_bytes;
        if access_token.len() > max_bytes {
            return Err(TokenError::scope(format!(
                "the token for these scopes would be {} bytes; at most {max_bytes} are \
                 issued, ask for fewer scopes",
                access_token.len()
            )));
        }
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            scope,
            refresh_token,
        })
    }
}

/// The scopes a refresh grants: the requested ones (all of the original grant if none were
/// requested; more than that is `invalid_scope`), limited to what the user's *current* roles
/// permit. A deleted or disabled user cannot refresh.
pub(crate) fn refresh_scopes(
    policy: &Policy,
    record: &RefreshRecord,
    request: &ScopeRequest,
    empty: EmptyGrant,
) -> Result<Vec<String>, TokenError> {
    let user = policy
        .user(&record.subject)
        .filter(|u| u.enabled)
        .ok_or_else(|| TokenError::grant("the user of this refresh token is gone or disabled"))?;
    let narrowed = narrow(&record.scopes, request).map_err(grant_error)?;
    grant_scopes(
        policy,
        &user.roles,
        &ScopeRequest::from_scopes(narrowed),
        empty,
    )
    .map_err(grant_error)
}

fn grant_error(e: GrantError) -> TokenError {
    TokenError::scope(e.to_string())
}

fn mailbox(e: actix::MailboxError) -> TokenError {
    tracing::error!(error = %e, "the token issuer actor is unavailable");
    TokenError::TemporarilyUnavailable("the token issuer is unavailable; retry later".to_owned())
}

#[cfg(test)]
mod tests {
    use scopegate_core::PolicyDocument;

    use super::*;

    fn policy(edit: impl FnOnce(&mut PolicyDocument)) -> Policy {
        let mut doc = crate::tests::cheap_quickstart();
        edit(&mut doc);
        Policy::from_document(1, doc).unwrap()
    }

    fn alex_record() -> RefreshRecord {
        RefreshRecord {
            family: "f".into(),
            subject: "alex".into(),
            client_id: "shopping-app".into(),
            scopes: vec!["item_view".into(), "item_add".into(), "news_read".into()],
            issued_at: 0,
            expires_at: 10,
            rotated: false,
            family_expires_at: None,
        }
    }

    fn decide(policy: &Policy, scope: &str, empty: EmptyGrant) -> Result<Vec<String>, TokenError> {
        let request = ScopeRequest::parse(scope).unwrap();
        refresh_scopes(policy, &alex_record(), &request, empty)
    }

    #[test]
    fn refresh_follows_the_users_current_roles() {
        let unchanged = policy(|_| {});
        assert_eq!(
            decide(&unchanged, "", EmptyGrant::Default).unwrap(),
            ["item_view", "item_add", "news_read"]
        );
        // alex lost manager: item_view and item_add go, news_read (employee) stays.
        let demoted = policy(|doc| alex(doc).roles = vec!["employee".into()]);
        assert_eq!(
            decide(&demoted, "", EmptyGrant::Default).unwrap(),
            ["news_read"]
        );
        assert_eq!(
            decide(&demoted, "item_add", EmptyGrant::Default).unwrap(),
            ["default"]
        );
        assert_eq!(
            decide(&demoted, "item_add", EmptyGrant::InvalidScope)
                .unwrap_err()
                .code(),
            "invalid_scope"
        );
    }

    #[test]
    fn refresh_refuses_widening_and_gone_users() {
        let unchanged = policy(|_| {});
        let err = decide(&unchanged, "news_write", EmptyGrant::Default).unwrap_err();
        assert_eq!(err.code(), "invalid_scope");
        let disabled = policy(|doc| alex(doc).enabled = false);
        let err = decide(&disabled, "", EmptyGrant::Default).unwrap_err();
        assert_eq!(err.code(), "invalid_grant");
        let deleted = policy(|doc| doc.users.retain(|u| u.username != "alex"));
        let err = decide(&deleted, "", EmptyGrant::Default).unwrap_err();
        assert_eq!(err.code(), "invalid_grant");
    }

    fn alex(doc: &mut PolicyDocument) -> &mut scopegate_core::User {
        doc.users.iter_mut().find(|u| u.username == "alex").unwrap()
    }
}
