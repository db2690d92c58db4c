//! The answer to "may this token make this call": [`Decision`], [`Principal`], [`Deny`], and
//! `authorize`, the path half of a decision (pure: a policy snapshot in, a value out).

use std::sync::Arc;

use scopegate_core::{Policy, RouteMatch, ScopeMode, satisfies};
use scopegate_jwt::AccessTokenClaims;
use serde::Serialize;

use crate::config::UnmatchedPath;

/// A token that passed every check: who is calling, for which client, with which scopes.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// `sub`: the user for user grants, the client id for `client_credentials`.
    pub subject: String,
    /// `client_id`: the application the token was issued to.
    pub client_id: String,
    /// The resource owner for user grants; `None` for `client_credentials`.
    pub username: Option<String>,
    /// The granted scopes, in the token's order.
    pub scopes: Vec<String>,
    /// Every claim, for introspection (RFC 7662) and headers forwarded upstream.
    pub claims: Arc<AccessTokenClaims>,
}

// === impl Principal ===

impl Principal {
    /// The principal a verified claim set stands for.
    pub(crate) fn from_claims(claims: AccessTokenClaims) -> Self {
        Self {
            subject: claims.sub.clone(),
            client_id: claims.client_id.clone(),
            username: claims.username.clone(),
            scopes: claims.scopes().map(str::to_owned).collect(),
            claims: Arc::new(claims),
        }
    }
}

/// The outcome of [`crate::ScopeValidator::decide`].
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The call may proceed.
    Allow {
        /// Who is calling.
        principal: Principal,
        /// The API whose resource matched; `None` when an unclaimed path was allowed by
        /// `unmatched_path = "allow"`.
        api: Option<String>,
    },
    /// The call is refused, with the status and RFC 6750 error to answer.
    Deny(Deny),
}

/// A refused call: everything the HTTP answer needs (status, RFC 6750 `error`, the
/// `WWW-Authenticate` `scope`, and a JSON body).
///
/// Safe to show the caller: descriptions name the failed check, never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deny {
    /// 401 (`invalid_token`), 403 (`insufficient_scope`, `access_denied`) or 400
    /// (`invalid_request`: the path itself is unacceptable).
    pub status: u16,
    /// `invalid_token`, `insufficient_scope`, `access_denied` or `invalid_request`.
    pub error: &'static str,
    /// What went wrong, for people; never echoes the token.
    pub description: String,
    /// The scopes the resource needs (set for `insufficient_scope`; the `scope` attribute of
    /// RFC 6750's `WWW-Authenticate`).
    pub required: Vec<String>,
    /// The scopes the token had; empty when the token itself was refused (401).
    pub granted: Vec<String>,
    /// The API the path belongs to, when one claimed it.
    pub api: Option<String>,
    /// Why, as a fixed name fit for a metric label.
    #[serde(skip)]
    pub reason: DenyReason,
}

/// Why a call was refused: one of a fixed set, so it can label a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// No bearer token was presented.
    MissingToken,
    /// Not a well-formed access token (syntax, claims, or `typ` other than `at+jwt`).
    MalformedToken,
    /// No `kid`, or a `kid` no key here has.
    UnknownKey,
    /// The signature, or the algorithm pinned to the key, does not verify.
    BadSignature,
    /// `exp` has passed.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// Another issuer's token.
    WrongIssuer,
    /// Not meant for this audience.
    WrongAudience,
    /// Revoked, by `jti` or by subject.
    Revoked,
    /// A valid token without the scopes the resource needs.
    InsufficientScope,
    /// No registered resource covers the call.
    NoResource,
    /// The path itself is unacceptable.
    InvalidPath,
    /// The credentials are ambiguous: two `Authorization` headers, or a token sent two ways
    /// (RFC 6750 §3.1 `invalid_request`).
    InvalidRequest,
}

impl DenyReason {
    /// The label: `missing_token`, `malformed_token`, `unknown_key`, `bad_signature`,
    /// `expired`, `not_yet_valid`, `wrong_issuer`, `wrong_audience`, `revoked`,
    /// `insufficient_scope`, `no_resource`, `invalid_path` or `invalid_request`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MalformedToken => "malformed_token",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::Revoked => "revoked",
            Self::InsufficientScope => "insufficient_scope",
            Self::NoResource => "no_resource",
            Self::InvalidPath => "invalid_path",
            Self::InvalidRequest => "invalid_request",
        }
    }

    /// The reason for a token the verifier refused.
    pub(crate) fn of(error: &scopegate_jwt::VerifyError) -> Self {
        use scopegate_jwt::VerifyError as E;
        match error {
            E::Malformed(_) | E::WrongType => Self::MalformedToken,
            E::MissingKid | E::UnknownKey => Self::UnknownKey,
            E::AlgorithmMismatch | E::BadSignature => Self::BadSignature,
            E::Expired => Self::Expired,
            E::NotYetValid => Self::NotYetValid,
            E::WrongIssuer => Self::WrongIssuer,
            E::WrongAudience => Self::WrongAudience,
        }
    }
}

// === impl Deny ===

impl Deny {
    /// 401 `invalid_token`: missing, malformed, forged, expired or revoked token; `reason`
    /// names which.
    pub(crate) fn invalid_token(reason: DenyReason, description: impl Into<String>) -> Self {
        Self {
            status: 401,
            error: "invalid_token",
            description: description.into(),
            required: Vec::new(),
            granted: Vec::new(),
            api: None,
            reason,
        }
    }

    /// 400 `invalid_request`: the request's credentials are ambiguous (two `Authorization`
    /// headers, or a token sent in two places); which one to believe is never guessed.
    pub fn ambiguous_credentials(description: impl Into<String>) -> Self {
        Self {
            status: 400,
            error: "invalid_request",
            description: description.into(),
            required: Vec::new(),
            granted: Vec::new(),
            api: None,
            reason: DenyReason::InvalidRequest,
        }
    }

    /// 400 `invalid_request` (a path that cannot be matched at all), for a valid token.
    fn invalid_request(description: String, principal: &Principal) -> Self {
        Self {
            status: 400,
            error: "invalid_request",
            description,
            required: Vec::new(),
            granted: principal.scopes.clone(),
            api: None,
            reason: DenyReason::InvalidPath,
        }
    }

    /// 403 `access_denied`: no registered resource covers the call.
    fn access_denied(description: String, principal: &Principal, api: Option<String>) -> Self {
        Self {
            status: 403,
            error: "access_denied",
            description,
            required: Vec::new(),
            granted: principal.scopes.clone(),
            api,
            reason: DenyReason::NoResource,
        }
    }
}

/// The path half of a decision for an authenticated `principal`: find the resource `method`
/// and `path` belong to in `policy`, then check the principal's scopes against it.
///
/// - a path the matcher refuses → 400 `invalid_request`;
/// - no API claims the path → 403 `access_denied`, or allow when `unmatched` says so;
/// - an API claims it but has no resource for it → 403 `access_denied` naming the API;
/// - the scopes satisfy the resource → allow, else 403 `insufficient_scope` with the required
///   and granted scopes.
pub(crate) fn authorize(
    policy: &Policy,
    principal: Principal,
    method: &str,
    path: &str,
    unmatched: UnmatchedPath,
) -> Decision {
    let requirement = match policy.match_request(method, path) {
        Err(e) => {
            return Decision::Deny(Deny::invalid_request(
                format!("the request path is invalid: {e}"),
                &principal,
            ));
        }
        Ok(RouteMatch::NoApi) => {
            return match unmatched {
                UnmatchedPath::Allow => Decision::Allow {
                    principal,
                    api: None,
                },
                UnmatchedPath::Deny => Decision::Deny(Deny::access_denied(
                    "no API is registered for this path".to_owned(),
                    &principal,
                    None,
                )),
            };
        }
        Ok(RouteMatch::NoResource { api }) => {
            let description = format!("the API {api} has no resource for this method and path");
            return Decision::Deny(Deny::access_denied(description, &principal, Some(api)));
        }
        Ok(RouteMatch::Matched(requirement)) => requirement,
    };
    let granted: Vec<&str> = principal.scopes.iter().map(String::as_str).collect();
    if satisfies(&requirement, &granted) {
        return Decision::Allow {
            principal,
            api: Some(requirement.api),
        };
    }
    let which = match requirement.mode {
        ScopeMode::AnyOf => "one of",
        ScopeMode::AllOf => "all of",
    };
    Decision::Deny(Deny {
        status: 403,
        error: "insufficient_scope",
        description: format!(
            "the token lacks the scope this resource requires ({which}: {})",
            requirement.scopes.join(" ")
        ),
        required: requirement.scopes,
        granted: principal.scopes,
        api: Some(requirement.api),
        reason: DenyReason::InsufficientScope,
    })
}
