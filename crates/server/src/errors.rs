//! [`ApiError`]: the only place where errors become HTTP responses.
//!
//! Token-endpoint errors follow RFC 6749 §5.2 (`{"error": …, "error_description": …}`, 401 with
//! `WWW-Authenticate` for `invalid_client`, `Cache-Control: no-store`). Everything else answers
//! with the same JSON shape so a client never has to parse HTML or an empty body.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use scopegate_token_issuer::TokenError;
use serde::Serialize;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A token-endpoint error (RFC 6749 §5.2).
    #[error("{0}")]
    Token(#[from] TokenError),
    /// The request body is larger than the endpoint accepts.
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The request is malformed in a way no endpoint-specific code covers.
    #[error("{0}")]
    BadRequest(String),
    /// The request body did not arrive within `server.body_read_timeout_ms` (408; the
    /// connection is closed by [`crate::limits`]).
    #[error("{0}")]
    RequestTimeout(String),
    /// No route matches the path.
    #[error("no such endpoint")]
    NotFound,
    /// The route exists but not for this method.
    #[error("method not allowed; this endpoint accepts {allow}")]
    MethodNotAllowed {
        /// The methods the endpoint accepts, for the `Allow` header.
        allow: &'static str,
    },
    /// A fault on our side; details go to the log, not to the client.
    #[error("internal error")]
    Unexpected(#[from] anyhow::Error),
    /// An admin API error, answered as RFC 9457 `application/problem+json`.
    #[error("{}", .0.detail)]
    Problem(crate::routes::admin::Problem),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl ApiError {
    /// The `error` code answered (an RFC 6749 code for token-endpoint errors).
    pub fn code(&self) -> &str {
        match self {
            Self::Token(e) => e.code(),
            Self::PayloadTooLarge { .. } | Self::BadRequest(_) | Self::RequestTimeout(_) => {
                "invalid_request"
            }
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Unexpected(_) => "server_error",
            Self::Problem(p) => p.kind.slug(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Token(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Problem(p) => {
                StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Problem(p) = self {
            return problem_response(p);
        }
        let description = match self {
            Self::Token(e) => e.description().to_owned(),
            other => other.to_string(),
        };
        if let Self::Unexpected(e) = self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
        if matches!(self, Self::Token(e) if e.code() == "invalid_client") {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"scopegate\", charset=\"UTF-8\""),
            ));
        }
        if let Self::MethodNotAllowed { allow } = self {
            response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
        }
        response.json(ErrorBody {
            error: self.code(),
            error_description: &description,
        })
    }
}

/// An admin API problem as `application/problem+json` (RFC 9457), with the headers it calls
/// for: `WWW-Authenticate` (401, 403), `ETag` of the current version (412), `Allow` (405),
/// `Retry-After` (503).
fn problem_response(p: &crate::routes::admin::Problem) -> HttpResponse {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .content_type("application/problem+json");
    let headers = [
        (header::WWW_AUTHENTICATE, p.challenge.clone()),
        (header::ETAG, p.current_version.map(|v| format!("\"{v}\""))),
        (header::ALLOW, p.allow.clone()),
        (
            header::RETRY_AFTER,
            (status == StatusCode::SERVICE_UNAVAILABLE).then(|| "1".to_owned()),
        ),
    ];
    for (name, value) in headers {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.insert_header((name, value));
        }
    }
    response.body(serde_json::to_string(&**p).unwrap_or_default())
}

/// The answer to a request the scope validator allowed: 200, with the principal in headers the
/// proxy can hand to the upstream (`X-Scopegate-Subject`, `X-Scopegate-Client-Id`,
/// `X-Scopegate-Scopes`).
pub fn allow_response(principal: &scopegate_scope_validator::Principal) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    for (name, value) in [
        ("x-scopegate-subject", principal.subject.clone()),
        ("x-scopegate-client-id", principal.client_id.clone()),
        ("x-scopegate-scopes", principal.scopes.join(" ")),
    ] {
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            response.insert_header((name, value));
        }
    }
    response
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .finish()
}

/// The answer to a request the scope validator denied (RFC 6750 §3): 401 `invalid_token`, 403
/// `insufficient_scope` naming the required scopes, 403 `access_denied`, or 400, each with a
/// JSON body saying what was required and what the token had.
pub fn deny_response(deny: &scopegate_scope_validator::Deny) -> HttpResponse {
    let status = StatusCode::from_u16(deny.status).unwrap_or(StatusCode::FORBIDDEN);
    let mut challenge = format!(
        "Bearer realm=\"scopegate\", error=\"{}\", error_description=\"{}\"",
        quoted(deny.error),
        quoted(&deny.description)
    );
    if deny.error == "insufficient_scope" {
        challenge.push_str(&format!(", scope=\"{}\"", quoted(&deny.required.join(" "))));
    }
    let mut response = HttpResponse::build(status);
    if deny.error != "access_denied" {
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
    }
    response
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(deny_body(deny))
}

/// The JSON of a denial: `error`, `error_description`, `required`, `granted`, and the `api` that
/// claimed the path when one did.
pub fn deny_body(deny: &scopegate_scope_validator::Deny) -> serde_json::Value {
    let mut body = serde_json::json!({
        "error": deny.error,
        "error_description": deny.description,
        "required": deny.required,
        "granted": deny.granted,
    });
    if let Some(api) = &deny.api {
        body["api"] = serde_json::json!(api);
    }
    body
}

/// Text fit for a quoted-string in a header: no quotes, backslashes or control characters.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}
