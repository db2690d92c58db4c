//! [`Rejection`], and the crate's only mapping to HTTP: refusals answer exactly as the scopegate
//! server's check endpoints do (RFC 6750 §3), and [`EdgeError`]s become a 500.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use scopegate_core::ScopeMode;
use scopegate_jwt::VerifyError;
use serde::Serialize;

use crate::error::EdgeError;

/// The `realm` of every `WWW-Authenticate` challenge, the same as the server's.
const REALM: &str = "scopegate";

/// A refused request: everything the answer needs.
///
/// - 401 `invalid_token`: no token, or one that is malformed, forged, expired, or for another
///   issuer or audience (`WWW-Authenticate: Bearer error="invalid_token"`);
/// - 403 `insufficient_scope`: a valid token without the route's scopes (the challenge names
///   them in `scope="..."`, the body lists `required` and `granted`);
/// - 403 `access_denied`: no rule covers the route (no challenge: another token won't help);
/// - 400 `invalid_request`: a path that has no canonical form (`..`, an encoded `/`).
///
/// Descriptions name the failed check, never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}: {description}")]
pub struct Rejection {
    /// 401, 403 or 400.
    #[serde(skip)]
    pub status: u16,
    /// `invalid_token`, `insufficient_scope`, `access_denied` or `invalid_request`.
    pub error: &'static str,
    /// What went wrong, for people.
    #[serde(rename = "error_description", serialize_with = "described")]
    pub description: String,
    /// The scopes the route needs (set for `insufficient_scope`).
    pub required: Vec<String>,
    /// The scopes the token had; empty when the token itself was refused.
    pub granted: Vec<String>,
    /// The rules' API name, when a rule or the API claimed the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// The request carried no credentials (no `Authorization`, or another scheme than
    /// Bearer): the challenge is the bare `Bearer realm="scopegate"`, with no error code
    /// (RFC 6750 §3.1), since the client may not know authentication is needed.
    #[serde(skip)]
    pub no_credentials: bool,
}

// === impl Rejection ===

impl Rejection {
    /// 401 for a request without a bearer token.
    pub(crate) fn no_token() -> Rejection {
        Rejection {
            no_credentials: true,
            ..Rejection::invalid_token("no access token was presented".to_owned())
        }
    }

    /// 400 `invalid_request` for ambiguous credentials: more than one `Authorization` header
    /// (RFC 6750 §3.1), never resolved by believing the first.
    pub fn duplicate_authorization() -> Rejection {
        Rejection {
            status: 400,
            error: "invalid_request",
            description: "the request has more than one Authorization header".to_owned(),
            required: Vec::new(),
            granted: Vec::new(),
            api: None,
            no_credentials: false,
        }
    }

    /// 401 for a token the verifier refused.
    pub(crate) fn refused(error: &VerifyError) -> Rejection {
        Rejection::invalid_token(error.to_string())
    }

    fn invalid_token(description: String) -> Rejection {
        Rejection {
            status: 401,
            error: "invalid_token",
            description,
            required: Vec::new(),
            granted: Vec::new(),
            api: None,
            no_credentials: false,
        }
    }

    /// 400 for a path with no canonical form.
    pub(crate) fn invalid_path(error: &scopegate_core::PathError, granted: &[String]) -> Self {
        Rejection {
            status: 400,
            error: "invalid_request",
            description: format!("the request path is invalid: {error}"),
            required: Vec::new(),
            granted: granted.to_vec(),
            api: None,
            no_credentials: false,
        }
    }

    /// 403 for a route no rule covers.
    pub(crate) fn no_rule(api: Option<String>, granted: &[String]) -> Rejection {
        let description = match &api {
            Some(api) => format!("the API {api} has no resource for this method and path"),
            None => "no API is registered for this path".to_owned(),
        };
        Rejection {
            status: 403,
            error: "access_denied",
            description,
            required: Vec::new(),
            granted: granted.to_vec(),
            api,
            no_credentials: false,
        }
    }

    /// 403 for a valid token without the route's scopes.
    pub(crate) fn insufficient_scope(
        required: Vec<String>,
        mode: ScopeMode,
        granted: &[String],
        api: String,
    ) -> Rejection {
        let which = match mode {
            ScopeMode::AnyOf => "one of",
            ScopeMode::AllOf => "all of",
        };
        Rejection {
            status: 403,
            error: "insufficient_scope",
            description: format!(
                "the token lacks the scope this resource requires ({which}: {})",
                required.join(" ")
            ),
            required,
            granted: granted.to_vec(),
            api: Some(api),
            no_credentials: false,
        }
    }

    /// The RFC 6750 challenge, or `None` for `access_denied` (another token would not help).
    pub fn challenge(&self) -> Option<String> {
        if self.error == "access_denied" {
            return None;
        }
        if self.no_credentials {
            return Some(format!("Bearer realm=\"{REALM}\""));
        }
        let mut challenge = format!(
            "Bearer realm=\"{REALM}\", error=\"{}\", error_description=\"{}\"",
            quoted(self.error),
            quoted(&self.description)
        );
        if self.error == "insufficient_scope" {
            challenge.push_str(&format!(", scope=\"{}\"", quoted(&self.required.join(" "))));
        }
        Some(challenge)
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::FORBIDDEN)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(value) = self
            .challenge()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
        response
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .json(self)
    }
}

/// Every [`EdgeError`] reaching a client is a fault of the service's setup: 500 with the
/// server's error shape. The message names the mistake (never a token or key).
impl ResponseError for EdgeError {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::InternalServerError()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .json(serde_json::json!({
                "error": "server_error",
                "error_description": quoted(&self.to_string()),
            }))
    }
}

/// Serializes a description as [`quoted`] text.
fn described<S: serde::Serializer>(description: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&quoted(description))
}

/// Text fit for a quoted-string in a header and an RFC 6749 §5.2 `error_description`: only
/// %x20-21 / %x23-5B / %x5D-7E (a double quote becomes a single one, anything else `?`), as
/// the server renders it.
fn quoted(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e' => c,
            '"' => '\'',
            _ => '?',
        })
        .collect()
}
