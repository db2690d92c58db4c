//! [`TokenError`]: the RFC 6749 §5.2 error responses of the token endpoint, and [`StartError`].
//!
//! This crate knows the OAuth2 error *codes* and their HTTP status; the server's error module
//! turns them into responses (JSON body, `WWW-Authenticate` for `invalid_client`). Descriptions
//! are shown to clients, so they are fixed phrases plus parameter names: never a secret, a
//! password, a token, or which of "unknown client" and "wrong secret" happened.

use thiserror::Error;

use crate::refresh::StoreError;

/// Why the token endpoint refused a request (RFC 6749 §5.2, plus the 503/500 answers of
/// RFC 6749 §4.1.2.1's `temporarily_unavailable` and `server_error`).
///
/// Each variant carries the `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// Malformed request: missing or repeated parameter, two client authentication methods.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// Client authentication failed (unknown client, wrong secret, disabled, malformed Basic).
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// The credentials or refresh token are invalid, expired, revoked or issued to another client.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// The client may not use this grant type.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// The grant type is not one scopegate issues tokens for.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// The scope is malformed, exceeds the original grant, or nothing could be granted.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// Too many credential checks are waiting; the client should retry later (503).
    #[error("temporarily_unavailable: {0}")]
    TemporarilyUnavailable(String),
    /// An internal failure (refresh store, signing); details are in the server log only (500).
    #[error("server_error: {0}")]
    ServerError(String),
    /// Too many failed attempts for this username, or for this client from this address: the
    /// request is refused before any credential is checked, until the lockout ends.
    /// `invalid_grant` (400) for a password grant, `invalid_client` (401) otherwise; the
    /// server adds `Retry-After`.
    #[error("{code}: too many failed attempts")]
    Throttled {
        /// `invalid_grant` or `invalid_client`.
        code: &'static str,
        /// The description, naming when to retry.
        description: String,
        /// Seconds until the lockout ends.
        retry_after: u64,
    },
}

// === impl TokenError ===

impl TokenError {
    /// The `error` code of the JSON response (`invalid_request`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::TemporarilyUnavailable(_) => "temporarily_unavailable",
            Self::ServerError(_) => "server_error",
            Self::Throttled { code, .. } => code,
        }
    }

    /// The outcome a metric counts: the error code, or `throttled` for an attempt refused by
    /// the sign-in throttle.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Throttled { .. } => "throttled",
            other => other.code(),
        }
    }

    /// Seconds the client should wait before retrying (`Retry-After`), for throttled requests.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The answer to a request refused by the sign-in throttle until `until`.
    pub(crate) fn throttled(password_grant: bool, now: u64, until: u64) -> Self {
        let retry_after = until.saturating_sub(now).max(1);
        Self::Throttled {
            code: if password_grant {
                "invalid_grant"
            } else {
                "invalid_client"
            },
            description: format!("too many failed attempts; retry after {retry_after} seconds"),
            retry_after,
        }
    }

    /// The `error_description` of the JSON response; safe to show to the client.
    pub fn description(&self) -> &str {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidClient(d)
            | Self::InvalidGrant(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::InvalidScope(d)
            | Self::TemporarilyUnavailable(d)
            | Self::ServerError(d) => d,
            Self::Throttled { description, .. } => description,
        }
    }

    /// The HTTP status: 401 for `invalid_client` (the server adds `WWW-Authenticate`), 503 for
    /// `temporarily_unavailable`, 500 for `server_error`, 400 otherwise (RFC 6749 §5.2).
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidClient(_) => 401,
            Self::Throttled { code, .. } if *code == "invalid_client" => 401,
            Self::TemporarilyUnavailable(_) => 503,
            Self::ServerError(_) => 500,
            _ => 400,
        }
    }

    /// `invalid_request` with a description.
    pub(crate) fn request(description: impl Into<String>) -> Self {
        Self::InvalidRequest(description.into())
    }

    /// `invalid_client` with a description.
    pub(crate) fn client(description: impl Into<String>) -> Self {
        Self::InvalidClient(description.into())
    }

    /// `invalid_grant` with a description.
    pub(crate) fn grant(description: impl Into<String>) -> Self {
        Self::InvalidGrant(description.into())
    }

    /// `invalid_scope` with a description.
    pub(crate) fn scope(description: impl Into<String>) -> Self {
        Self::InvalidScope(description.into())
    }

    /// The answer to a failed refresh-store call: `temporarily_unavailable` (503) when a shared
    /// store could not be reached in time, `server_error` otherwise; the cause goes to the log.
    pub(crate) fn store(what: &str, cause: &StoreError) -> Self {
        match cause {
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %cause, "{what}");
                Self::TemporarilyUnavailable(
                    "the refresh token store is unavailable; retry later".to_owned(),
                )
            }
            _ => Self::internal(what, cause),
        }
    }

    /// `server_error`: the description stays generic, the cause goes to the log.
    pub(crate) fn internal(what: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{what}");
        Self::ServerError("internal error; see the server log".to_owned())
    }
}

/// Why [`crate::TokenService::start`] could not start the issuer.
#[derive(Debug, Error)]
pub enum StartError {
    /// `start` was called outside a running actix `System`.
    #[error("the token service must be started inside a running actix System")]
    NoSystem,
    /// A configuration value makes the issuer unusable.
    #[error("invalid [tokens] configuration: {0}")]
    Config(&'static str),
    /// A hash worker thread could not be spawned.
    #[error("could not start a hash worker thread: {0}")]
    Thread(#[from] std::io::Error),
    /// The system random number generator failed (process cache key).
    #[error("the system random number generator failed")]
    Random,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_rfc_6749() {
        let cases = [
            (TokenError::request("d"), "invalid_request", 400),
            (TokenError::client("d"), "invalid_client", 401),
            (TokenError::grant("d"), "invalid_grant", 400),
            (
                TokenError::UnauthorizedClient("d".into()),
                "unauthorized_client",
                400,
            ),
            (
                TokenError::UnsupportedGrantType("d".into()),
                "unsupported_grant_type",
                400,
            ),
            (TokenError::scope("d"), "invalid_scope", 400),
            (
                TokenError::TemporarilyUnavailable("d".into()),
                "temporarily_unavailable",
                503,
            ),
            (TokenError::ServerError("d".into()), "server_error", 500),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.status(), status);
            assert_eq!(err.description(), "d");
            assert_eq!(err.to_string(), format!("{code}: d"));
        }
    }

    #[test]
    fn an_unreachable_store_is_temporarily_unavailable_other_failures_are_internal() {
        let down = TokenError::store("x", &StoreError::Unavailable("Io: refused".into()));
        assert_eq!(
            (down.code(), down.status()),
            ("temporarily_unavailable", 503)
        );
        assert!(!down.description().contains("refused"));
        let broken = TokenError::store("x", &StoreError::Corrupt("bad json".into()));
        assert_eq!(broken.code(), "server_error");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = TokenError::internal("store failed", &"disk /secret/path full");
        assert_eq!(err.code(), "server_error");
        assert!(!err.description().contains("secret"));
    }
}
