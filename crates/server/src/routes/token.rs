//! `POST /oauth2/token` (RFC 6749 §3.2).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_token_issuer::{TokenError, TokenRequest, TokenService};

use crate::errors::ApiError;
use crate::startup::Limits;

/// Issues a token for a form-encoded grant request.
pub async fn token(
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<TokenService>,
    limits: web::Data<Limits>,
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(TokenError::InvalidRequest(format!(
            "the request body must be application/x-www-form-urlencoded, not {:?}",
            truncate(media_type, 64)
        ))
        .into());
    }
    let body = super::read_body(&req, payload, limits.max_form_bytes).await?;
    let authorization = match req.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            TokenError::InvalidClient("the Authorization header is not valid text".to_owned())
        })?),
    };
    let request = TokenRequest::parse(&body, authorization)?;
    let response = service.token(request).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .json(response))
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
