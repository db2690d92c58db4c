//! `POST /oauth2/token` (RFC 6749 §3.2).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_token_issuer::{TokenRequest, TokenService};

use crate::errors::ApiError;
use crate::startup::Limits;

/// Issues a token for a form-encoded grant request.
pub async fn token(
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<TokenService>,
    limits: web::Data<Limits>,
) -> Result<HttpResponse, ApiError> {
    let (body, authorization) = super::form_body(&req, payload, limits.max_form_bytes).await?;
    let request = TokenRequest::parse(&body, authorization)?;
    let response = service.token(request).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .json(response))
}
