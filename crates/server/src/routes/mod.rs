//! HTTP routes. Handlers are thin: extract, call a service, map the answer.
//!
//! One file per route group: [`token`] (`POST /oauth2/token`), [`jwks`] (`/oauth2/jwks`,
//! `/.well-known/jwks.json`), [`metadata`] (RFC 8414), [`health`] (`/healthz`, `/readyz`).

pub mod health;
pub mod jwks;
pub mod metadata;
pub mod token;

use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use crate::errors::ApiError;

/// Registers every route on an actix-web service config.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth2/token")
            .route(web::post().to(token::token))
            .default_service(web::to(|| async {
                Err::<(), _>(ApiError::MethodNotAllowed { allow: "POST" })
            })),
    )
    .service(get_only("/oauth2/jwks", jwks::jwks))
    .service(get_only("/.well-known/jwks.json", jwks::jwks))
    .service(get_only(
        "/.well-known/oauth-authorization-server",
        metadata::metadata,
    ))
    .service(get_only("/healthz", health::healthz))
    .service(get_only("/readyz", health::readyz));
}

fn get_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
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
        let chunk = chunk
            .map_err(|e| ApiError::BadRequest(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
