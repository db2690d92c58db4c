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
    /// The outcome a metric counts: [`ApiError::code`], or `throttled` for an attempt the
    /// sign-in throttle refused.
    pub fn outcome(&self) -> &str {
        match self {
            Self::Token(e) => e.outcome(),
            other => other.code(),
        }
    }

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

impl ApiError {
    /// `Retry-After` seconds, for a request the sign-in throttle refused.
    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Token(e) => e.retry_after(),
            _ => None,
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
        if let Some(seconds) = matches!(self, Self::Token(_))
            .then(|| self.retry_after())
            .flatten()
        {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(ErrorBody {
            error: self.code(),
            error_description: &description_text(&description),
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
///
/// A request without credentials (no `Authorization`, or another scheme than Bearer) gets the
/// bare challenge `Bearer realm="scopegate"` with no error code (RFC 6750 §3.1: the client may
/// not know authentication is needed).
pub fn deny_response(deny: &scopegate_scope_validator::Deny) -> HttpResponse {
    use scopegate_scope_validator::DenyReason;
    let status = StatusCode::from_u16(deny.status).unwrap_or(StatusCode::FORBIDDEN);
    let mut challenge = "Bearer realm=\"scopegate\"".to_owned();
    if deny.reason != DenyReason::MissingToken {
        challenge.push_str(&format!(
            ", error=\"{}\", error_description=\"{}\"",
            description_text(deny.error),
            description_text(&deny.description)
        ));
    }
    if deny.error == "insufficient_scope" {
        challenge.push_str(&format!(
            ", scope=\"{}\"",
            description_text(&deny.required.join(" "))
        ));
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
        "error_description": description_text(&deny.description),
        "required": deny.required,
        "granted": deny.granted,
    });
    if let Some(api) = &deny.api {
        body["api"] = serde_json::json!(api);
    }
    body
}

/// What is wrong with a JSON body, in words that never repeat the body: the kind of problem
/// and where (line and column). Only a missing field is named (by this server's own schema).
pub fn json_problem(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {} column {}", e.line(), e.column());
    let message = e.to_string();
    match e.classify() {
        Category::Io => "the JSON body could not be read".to_owned(),
        Category::Eof => format!("the JSON body ends early ({at})"),
        Category::Syntax => format!("the body is not valid JSON ({at})"),
        Category::Data => match message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
        {
            Some((field, _)) => format!("the JSON body lacks the field {field}"),
            // The strict extractor's refusal of an array (or a value) where an object belongs.
            None if message.contains("expected a JSON object") => {
                format!("expected a JSON object, not an array or a plain value ({at})")
            }
            None if message.starts_with("unknown field") => {
                format!("the JSON body has a field this endpoint does not accept ({at})")
            }
            None if message.starts_with("invalid type") || message.starts_with("invalid value") => {
                format!("a value in the JSON body has the wrong type or form ({at})")
            }
            None => format!("the JSON body does not have the shape this endpoint expects ({at})"),
        },
    }
}

/// Text fit for an `error_description` (RFC 6749 §5.2, RFC 6750 §3) and for a quoted-string
/// in a header: only the characters %x20-21 / %x23-5B / %x5D-7E. A double quote becomes a
/// single one, anything else outside the set (backslash, control characters, non-ASCII)
/// becomes `?`, so a description can never break out of its JSON string or header.
pub fn description_text(s: &str) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    if s.chars().all(allowed) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| match c {
                c if allowed(c) => c,
                '"' => '\'',
                _ => '?',
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_problems_say_what_and_where_without_repeating_the_body() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            method: String,
            count: u8,
        }
        let problem = |text: &str| json_problem(&serde_json::from_str::<Body>(text).unwrap_err());
        assert_eq!(
            problem(r#"{"count": 1}"#),
            "the JSON body lacks the field method"
        );
        for (text, start) in [
            (
                r#"{"zqx": 1}"#,
                "the JSON body has a field this endpoint does not accept",
            ),
            (
                r#"{"method": "zqx", "count": "zqx"}"#,
                "a value in the JSON body has the wrong type",
            ),
            (
                r#"{"method": "zqx", "count": 999}"#,
                "a value in the JSON body has the wrong type",
            ),
            (r#"{"zqx"#, "the JSON body ends early"),
            (r#"zqx"#, "the body is not valid JSON (line 1 column 1)"),
        ] {
            let p = problem(text);
            assert!(p.starts_with(start), "{text}: {p}");
            assert!(!p.contains("zqx"), "{p}");
        }
    }

    #[test]
    fn descriptions_keep_to_the_rfc_6749_character_set() {
        assert_eq!(description_text("plain text: ok!"), "plain text: ok!");
        assert_eq!(
            description_text("a \"quoted\" \\ back\nslash \u{e9}t\u{e9} \u{1b}[31m"),
            "a 'quoted' ? back?slash ?t? ?[31m"
        );
        let every: String = (0u8..=255).map(char::from).collect();
        assert!(description_text(&every).chars().all(|c| matches!(
            c,
            '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e'
        )));
    }
}
