//! `POST /oauth2/introspect` (RFC 7662) and `POST /oauth2/revoke` (RFC 7009): client-
//! authenticated requests about a token.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_jwt::unix_now;
use scopegate_scope_validator::ScopeValidator;
use scopegate_token_issuer::{ClientRequest, TokenError, TokenService};
use serde_json::json;

use crate::errors::ApiError;
use crate::routes::admin::access::INTROSPECT_SCOPE;
use crate::routes::form_body;
use crate::routes::health::refuse_if_stale;
use crate::routes::source::{TrustedProxies, client_address};
use crate::startup::Limits;
use crate::stores::NodeState;

async fn client_request(
    req: &HttpRequest,
    payload: web::Payload,
    limits: &Limits,
    tokens: &TokenService,
) -> Result<(ClientRequest, String), ApiError> {
    let (body, authorization) = form_body(req, payload, limits.max_form_bytes).await?;
    let source = req
        .app_data::<web::Data<TrustedProxies>>()
        .and_then(|trusted| client_address(req, trusted));
    let request = ClientRequest::parse(&body, authorization)?.with_source(source);
    let client_id = tokens.authenticate_client(&request).await?;
    Ok((request, client_id))
}

fn no_store(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
    builder
}

/// Introspection: everything scopegate knows about an active access token or a live refresh
/// token (not rotated, not expired, family not revoked), or exactly `{"active": false}` for
/// anything else (expired, revoked, foreign, garbage).
///
/// Only a client permitted to introspect ([`INTROSPECT_SCOPE`] through its roles: a resource
/// server) learns about tokens issued to other clients; any other client learns only about
/// its own, and `{"active": false}` about the rest (RFC 7662 §4, §2.2: a token the caller may
/// not introspect is answered as inactive, so nothing about it leaks).
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    limits: web::Data<Limits>,
    tokens: web::Data<TokenService>,
    validator: web::Data<ScopeValidator>,
    node: web::Data<NodeState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(refusal) = refuse_if_stale(&node) {
        return Ok(refusal);
    }
    let (request, client) = client_request(&req, payload, &limits, &tokens).await?;
    let may_see = |owner: &str| owner == client || tokens.client_holds(&client, INTROSPECT_SCOPE);
    let body = match validator.authenticate(request.token(), unix_now()) {
        Ok(principal) if !may_see(&principal.client_id) => json!({ "active": false }),
        Ok(principal) => {
            let c = &principal.claims;
            let mut body = json!({
                "active": true,
                "scope": c.scope,
                "client_id": c.client_id,
                "sub": c.sub,
                "exp": c.exp,
                "iat": c.iat,
                "nbf": c.nbf,
                "jti": c.jti,
                "iss": c.iss,
                "aud": c.aud,
                "token_type": "Bearer",
            });
            if let Some(username) = &c.username {
                body["username"] = json!(username);
            }
            body
        }
        // Refresh tokens are opaque (no dots); a JWT that failed the checks above is inactive
        // without asking the token issuer, so access-token introspection never waits on an actor.
        Err(_) if request.token().contains('.') => json!({ "active": false }),
        Err(_) => match tokens.introspect_refresh_token(request.token()).await? {
            Some(r) if !may_see(&r.client_id) => json!({ "active": false }),
            Some(r) => json!({
                "active": true,
                "scope": r.scopes.join(" "),
                "client_id": r.client_id,
                "username": r.subject,
                "sub": r.subject,
                "exp": r.expires_at,
                "iat": r.issued_at,
                "token_type": "refresh_token",
            }),
            None => json!({ "active": false }),
        },
    };
    Ok(no_store(HttpResponse::Ok()).json(body))
}

/// Revocation: an access token goes into the revocation set until it expires; a refresh token
/// takes its whole family with it, access tokens included. Unknown or already invalid tokens
/// are answered 200 as RFC 7009 §2.2 requires.
///
/// `token_type_hint` only decides which kind is looked for first: a token not found as that
/// kind is looked for as the other (RFC 7009 §2.1), so a wrong hint never leaves a token
/// valid behind a 200.
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    limits: web::Data<Limits>,
    tokens: web::Data<TokenService>,
    validator: web::Data<ScopeValidator>,
) -> Result<HttpResponse, ApiError> {
    let (request, client_id) = client_request(&req, payload, &limits, &tokens).await?;
    let token = request.token();
    let order = if request.token_type_hint() == Some("refresh_token") {
        [Kind::Refresh, Kind::Access]
    } else {
        [Kind::Access, Kind::Refresh]
    };
    let mut revoked = false;
    for kind in order {
        revoked = match kind {
            Kind::Access => revoke_access_token(token, &client_id, &validator).await?,
            Kind::Refresh => tokens.revoke_refresh_token(token, &client_id).await?,
        };
        if revoked {
            break;
        }
    }
    tracing::debug!(client_id = ?client_id, revoked, "token revocation request");
    Ok(no_store(HttpResponse::Ok()).finish())
}

/// The kinds of token the revocation endpoint looks a token up as.
#[derive(Clone, Copy)]
enum Kind {
    Access,
    Refresh,
}

/// Revokes `token` if it is a live access token issued to `client_id`; `false` if it is not a
/// live access token at all, `unauthorized_client` if it belongs to another client.
async fn revoke_access_token(
    token: &str,
    client_id: &str,
    validator: &ScopeValidator,
) -> Result<bool, ApiError> {
    let Ok(principal) = validator.authenticate(token, unix_now()) else {
        return Ok(false);
    };
    if principal.client_id != client_id {
        return Err(TokenError::UnauthorizedClient(
            "the token was not issued to this client".to_owned(),
        )
        .into());
    }
    let claims = &principal.claims;
    validator
        .revoke(claims.jti.clone(), claims.exp)
        .await
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("revocation failed: {e}")))?;
    Ok(true)
}
