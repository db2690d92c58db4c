//! `POST /oauth2/token` (RFC 6749 §3.2).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_token_issuer::{TokenRequest, TokenService};

use crate::errors::ApiError;
use crate::metrics::{Metrics, grant_label};
use crate::routes::source::{TrustedProxies, client_address};
use crate::startup::Limits;

/// Issues a token for a form-encoded grant request, and counts the answer by grant and outcome.
pub async fn token(
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<TokenService>,
    limits: web::Data<Limits>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    let mut grant = "other";
    let answer = issue(&req, payload, &service, &limits, &mut grant).await;
    let outcome = match &answer {
        Ok(_) => "issued",
        Err(e) => e.outcome(),
    };
    metrics.token(grant, outcome);
    answer
}

async fn issue(
    req: &HttpRequest,
    payload: web::Payload,
    service: &TokenService,
    limits: &Limits,
    grant: &mut &'static str,
) -> Result<HttpResponse, ApiError> {
    let (body, authorization) = super::form_body(req, payload, limits.max_form_bytes).await?;
    *grant = grant_label(&body);
    let source = req
        .app_data::<web::Data<TrustedProxies>>()
        .and_then(|trusted| client_address(req, trusted));
    let request = TokenRequest::parse(&body, authorization)?.with_source(source);
    let response = service.token(request).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .json(response))
}
