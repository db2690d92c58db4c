//! HTTP routes. Handlers are thin: extract, call a service, map the answer.
//!
//! One file per route group: [`token`] (`POST /oauth2/token`), [`introspect`] (RFC 7662
//! introspection and RFC 7009 revocation), [`authz`] (`/authz/check`, `/authz/envoy/…`,
//! `/authz/v1/decide`), [`jwks`] (`/oauth2/jwks`, `/.well-known/jwks.json`), [`metadata`]
//! (RFC 8414), [`health`] (`/healthz`, `/readyz`), `/metrics` ([`crate::metrics`]), [`admin`] (the admin REST API under
//! `/api/v1/`).

pub mod admin;
pub mod authz;
pub mod health;
pub mod introspect;
pub mod json;
pub mod jwks;
pub mod metadata;
pub mod source;
pub mod token;

use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use crate::errors::ApiError;

/// Registers every route on an actix-web service config.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth2/token")
            .name("/oauth2/token")
            .route(web::post().to(token::token))
            .default_service(web::to(|| async {
                Err::<(), _>(ApiError::MethodNotAllowed { allow: "POST" })
            })),
    )
    .service(post_only("/oauth2/introspect", introspect::introspect))
    .service(post_only("/oauth2/revoke", introspect::revoke))
    .service(post_only("/authz/v1/decide", authz::decide))
    .service(named("/authz/check").to(authz::check))
    .service(named("/authz/envoy").to(authz::envoy))
    .service(named("/authz/envoy/{tail:.*}").to(authz::envoy))
    .service(get_only("/oauth2/jwks", jwks::jwks))
    .service(get_only("/.well-known/jwks.json", jwks::jwks))
    .service(get_only(
        "/.well-known/oauth-authorization-server",
        metadata::metadata,
    ))
    .service(get_only("/healthz", health::healthz))
    .service(get_only("/readyz", health::readyz))
    .service(get_only("/metrics", crate::metrics::scrape))
    .configure(admin::configure);
}

/// A resource named by its own path pattern: the request-latency metric reads the matched
/// resource's name as its `endpoint` label (no allocation on the request path).
pub fn named(path: &str) -> actix_web::Resource {
    web::resource(path).name(path)
}

fn post_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    named(path)
        .route(web::post().to(handler))
        .default_service(web::to(|| async {
            Err::<(), _>(ApiError::MethodNotAllowed { allow: "POST" })
        }))
}

fn get_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    named(path)
        .route(web::get().to(handler))
        .default_service(web::to(|| async {
            Err::<(), _>(ApiError::MethodNotAllowed { allow: "GET, HEAD" })
        }))
}

/// Answer for paths no route claims.
pub async fn not_found() -> Result<(), ApiError> {
    Err(ApiError::NotFound)
}

/// Reads a request body of at most `limit` bytes; larger bodies are refused as soon as the
/// `Content-Length` or the bytes received show it, without buffering the rest.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match crate::limits::body_timeout(&e) {
            Some(why) => ApiError::RequestTimeout(why),
            None => {
                tracing::debug!(error = %e, "reading a request body failed");
                ApiError::BadRequest("the request body could not be read".to_owned())
            }
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The body and `Authorization` header of an `application/x-www-form-urlencoded` request (the
/// token, introspection and revocation endpoints); other content types are `invalid_request`.
pub async fn form_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<(web::Bytes, Option<&str>), ApiError> {
    use actix_web::http::header;
    use scopegate_token_issuer::TokenError;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(TokenError::InvalidRequest(
            "the request body must be application/x-www-form-urlencoded (Content-Type)".to_owned(),
        )
        .into());
    }
    let body = read_body(req, payload, limit).await?;
    let authorization = match req.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            TokenError::InvalidClient("the Authorization header is not valid text".to_owned())
        })?),
    };
    Ok((body, authorization))
}
