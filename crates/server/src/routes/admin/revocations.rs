//! `/api/v1/revocations/tokens`: an administrator revokes any token this scopegate issued.
//!
//! An access token is verified and its `jti` revoked until its `exp` (the check, decide and
//! introspection endpoints refuse it from the moment this answers, on every node that shares the
//! revocation store); a refresh token takes its whole family with it. Unlike RFC 7009's
//! endpoint, a token that is not live is reported (422), because an administrator wants to know.
//!
//! `/api/v1/revocations/subjects` revokes everything issued to a subject up to now: every access
//! token with that `sub` and an `iat` at or before this second is refused (on every node, from
//! the moment this answers), and every refresh-token family of the subject is deleted. A token
//! issued after the revocation is valid again (`iat` has one-second resolution, so one issued
//! in the same second is refused too).

use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_jwt::unix_now;
use scopegate_scope_validator::ValidatorError;
use scopegate_token_issuer::TokenError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::http::json_body;
use super::problem::{Problem, ProblemKind};
use super::{AdminContext, AdminPrincipal};
use crate::errors::ApiError;

/// Which kind of token the caller believes it sends (RFC 7009 `token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A JWT access token.
    AccessToken,
    /// An opaque refresh token.
    RefreshToken,
}

/// A token to revoke.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeTokenRequest {
    /// The access or refresh token, as issued.
    #[schema(write_only)]
    #[schema(min_length = 1)]
    pub token: String,
    /// Optional, and only a hint (RFC 7009 §2.1): the token is looked for as both kinds.
    #[serde(default)]
    pub token_type_hint: Option<TokenKind>,
}

/// What was revoked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevokedToken {
    /// The kind of token revoked.
    pub token_type: TokenKind,
    /// The token's subject (user, or client for `client_credentials`).
    pub subject: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The access token's `jti` (absent for a refresh token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// When the token would have expired (seconds since the Unix epoch).
    pub expires_at: u64,
}

/// Revokes an access token, or a refresh token and its whole family.
#[utoipa::path(post, path = "/api/v1/revocations/tokens", tag = "revocations",
    request_body = RevokeTokenRequest,
    responses((status = 200, description = "Revoked", body = RevokedToken)))]
pub async fn revoke_token(
    req: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let body: RevokeTokenRequest = json_body(&req, payload, ctx.max_json_bytes).await?;
    let token = body.token.trim();
    // A hint never hides a token of the other kind: an access token is verified locally (no
    // round trip), so it is always looked for first.
    let access = Some(ctx.validator.authenticate(token, unix_now()));
    let revoked = match access {
        Some(Ok(principal)) => {
            let claims = &principal.claims;
            ctx.validator
                .revoke(claims.jti.clone(), claims.exp)
                .await
                .map_err(revocation_failed)?;
            RevokedToken {
                token_type: TokenKind::AccessToken,
                subject: principal.subject.clone(),
                client_id: principal.client_id.clone(),
                jti: Some(claims.jti.clone()),
                expires_at: claims.exp,
            }
        }
        // A JWT that failed the checks is not live (expired, revoked, foreign, tampered).
        Some(Err(deny)) if token.contains('.') => {
            return Err(not_live(&format!("not a live access token: {}", deny.description)).into());
        }
        _ => {
            let record = ctx
                .tokens
                .introspect_refresh_token(token)
                .await
                .map_err(token_failed)?
                .ok_or_else(|| {
                    not_live(
                        "neither a live access token nor a live refresh token of this scopegate",
                    )
                })?;
            ctx.tokens
                .revoke_refresh_token(token, &record.client_id)
                .await
                .map_err(token_failed)?;
            RevokedToken {
                token_type: TokenKind::RefreshToken,
                subject: record.subject,
                client_id: record.client_id,
                jti: None,
                expires_at: record.expires_at,
            }
        }
    };
    tracing::info!(
        admin = %who.0.subject,
        token_type = ?revoked.token_type,
        subject = %revoked.subject,
        client_id = %revoked.client_id,
        jti = ?revoked.jti,
        "admin API revoked a token"
    );
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(revoked))
}

/// How long a subject revocation must be kept: the longest access-token lifetime plus the
/// validation leeway, seconds (a token issued before the revocation is expired after that).
#[derive(Debug, Clone, Copy)]
pub struct RevocationHorizon(pub u64);

/// A subject whose tokens are all to be revoked.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeSubjectRequest {
    /// The `sub` claim: a username, or a client id for `client_credentials` tokens.
    #[schema(pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub subject: String,
}

/// What a subject revocation did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevokedSubject {
    /// The subject.
    pub subject: String,
    /// Access tokens with an `iat` at or before this time (seconds since the Unix epoch) are
    /// refused.
    pub revoked_before: u64,
    /// Refresh-token families deleted.
    pub refresh_families_revoked: usize,
}

/// Revokes every access token issued to a subject up to now, and all its refresh tokens.
#[utoipa::path(post, path = "/api/v1/revocations/subjects", tag = "revocations",
    request_body = RevokeSubjectRequest,
    responses((status = 200, description = "Revoked", body = RevokedSubject)))]
pub async fn revoke_subject(
    req: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<AdminContext>,
    horizon: web::Data<RevocationHorizon>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let body: RevokeSubjectRequest = json_body(&req, payload, ctx.max_json_bytes).await?;
    let subject = body.subject.trim().to_owned();
    if subject.is_empty() {
        return Err(
            Problem::new(ProblemKind::ValidationFailed, "the subject is empty")
                .field("subject", "must not be empty")
                .into(),
        );
    }
    if subject.chars().any(char::is_control) {
        return Err(Problem::new(
            ProblemKind::ValidationFailed,
            "the subject has control characters; no token carries such a subject",
        )
        .field("subject", "must not contain control characters")
        .into());
    }
    let before = unix_now();
    ctx.validator
        .revoke_subject(subject.clone(), before, before.saturating_add(horizon.0))
        .await
        .map_err(revocation_failed)?;
    let families = ctx
        .tokens
        .revoke_subject(&subject)
        .await
        .map_err(token_failed)?;
    tracing::info!(
        admin = %who.0.subject,
        %subject,
        revoked_before = before,
        refresh_families = families,
        "admin API revoked a subject"
    );
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(RevokedSubject {
            subject,
            revoked_before: before,
            refresh_families_revoked: families,
        }))
}

fn not_live(why: &str) -> Problem {
    Problem::new(
        ProblemKind::ValidationFailed,
        format!("nothing to revoke: {why} (expired, already revoked, unknown or malformed)"),
    )
    .field("token", why)
}

fn revocation_failed(e: ValidatorError) -> Problem {
    tracing::error!(error = %e, "admin revocation failed");
    Problem::new(
        ProblemKind::Unavailable,
        "the store did not confirm the revocation, so the token may still be valid; revoking \
         again is harmless: retry",
    )
}

fn token_failed(e: TokenError) -> Problem {
    if e.status() == 503 {
        Problem::new(ProblemKind::Unavailable, e.description().to_owned())
    } else {
        Problem::internal("the refresh-token store failed", &e)
    }
}
