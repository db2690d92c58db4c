//! [`Problem`]: the admin API's errors as RFC 9457 problem details, and the translation of store,
//! validator and token-issuer errors into them.
//!
//! A problem is a value; [`crate::errors`] turns it into the `application/problem+json` answer
//! (with `WWW-Authenticate`, `ETag`, `Allow` or `Retry-After` where the problem calls for one),
//! so HTTP is still mapped in one place. Every problem that is about the request names what was
//! wrong in `errors: [{field, message}]`: a JSON path into the body (`roles[0]`), a header
//! (`If-Match`), a query parameter, or a location in the policy document
//! (`scopes[3] "order_add".roles[0]`).

use scopegate_core::{PolicyError, Problem as PolicyProblem};
use scopegate_policy_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub use super::target::{Kind, Target};
use crate::errors::ApiError;

/// The kinds of problem the admin API answers, each with its status, `type` and `title`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// 400: the body is not JSON, or a field has the wrong type, is missing or unknown.
    InvalidBody,
    /// 400: a header or query parameter is malformed.
    InvalidRequest,
    /// 401: no bearer token, or one that is not valid.
    Unauthorized,
    /// 403: a valid token without the internal scope the route requires.
    Forbidden,
    /// 404: no such route, or no such item.
    NotFound,
    /// 405: the route exists, not for this method.
    MethodNotAllowed,
    /// 409: the change conflicts with the policy (deleting something still in use).
    Conflict,
    /// 408: the body did not arrive within `server.body_read_timeout_ms`.
    RequestTimeout,
    /// 412: `If-Match` names another policy version.
    PreconditionFailed,
    /// 413: the body is larger than `server.max_json_bytes`.
    PayloadTooLarge,
    /// 415: the body is not in a media type the route reads.
    UnsupportedMediaType,
    /// 422: the body is well formed but the change is not valid.
    ValidationFailed,
    /// 503: the policy store (or another store) cannot be reached or did not record the change.
    Unavailable,
    /// 504: the change was sent to the store but no answer came: it may or may not be applied.
    OutcomeUnknown,
    /// 500: a fault on our side.
    Internal,
}

impl ProblemKind {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidBody | Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::RequestTimeout => 408,
            Self::PreconditionFailed => 412,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::ValidationFailed => 422,
            Self::Unavailable => 503,
            Self::OutcomeUnknown => 504,
            Self::Internal => 500,
        }
    }

    /// The last part of the `type` URI, also a short code for logs.
    pub fn slug(self) -> &'static str {
        match self {
            Self::InvalidBody => "invalid-body",
            Self::InvalidRequest => "invalid-request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict => "conflict",
            Self::RequestTimeout => "request-timeout",
            Self::PreconditionFailed => "precondition-failed",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::ValidationFailed => "validation-failed",
            Self::Unavailable => "unavailable",
            Self::OutcomeUnknown => "outcome-unknown",
            Self::Internal => "internal",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::InvalidBody => "The request body is not valid",
            Self::InvalidRequest => "The request is not valid",
            Self::Unauthorized => "A valid bearer token is required",
            Self::Forbidden => "The token lacks the required internal scope",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict => "The change conflicts with the policy",
            Self::RequestTimeout => "The request body was not received in time",
            Self::PreconditionFailed => "The policy changed meanwhile",
            Self::PayloadTooLarge => "The request body is too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::ValidationFailed => "The change is not valid",
            Self::Unavailable => "The service is unavailable",
            Self::OutcomeUnknown => "The outcome of the change is unknown",
            Self::Internal => "Internal error",
        }
    }
}

/// One thing wrong with a request, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Where: a JSON path into the body (`roles[0]`, `resources[1].methods`), a header
    /// (`If-Match`), a query parameter, or a policy-document location
    /// (`scopes[3] "order_add".roles[0]`).
    pub field: String,
    /// What is wrong there.
    pub message: String,
}

impl FieldError {
    /// A problem at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An admin API error: [`ProblemDetails`] behind one pointer, so `Result<_, Problem>` stays
/// small on the happy path.
#[derive(Debug, Clone)]
pub struct Problem(Box<ProblemDetails>);

impl std::ops::Deref for Problem {
    type Target = ProblemDetails;

    fn deref(&self) -> &ProblemDetails {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemDetails {
        &mut self.0
    }
}

/// An RFC 9457 problem details object (`application/problem+json`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDetails {
    /// A URI naming the kind of problem: `urn:scopegate:problem:validation-failed`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
    /// Each field (or header, or policy location) that was wrong.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The policy version now (412 answers; also sent as `ETag`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// The internal scopes of which the route requires one (403 answers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_scopes: Vec<String>,
    /// The kind, for the HTTP mapping.
    #[serde(skip)]
    #[schema(ignore)]
    pub kind: ProblemKind,
    /// The `WWW-Authenticate` challenge of a 401 or 403.
    #[serde(skip)]
    #[schema(ignore)]
    pub challenge: Option<String>,
    /// The `Allow` header of a 405.
    #[serde(skip)]
    #[schema(ignore)]
    pub allow: Option<String>,
}

// === impl Problem ===

impl Problem {
    /// A problem of `kind` with `detail`.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self(Box::new(ProblemDetails {
            type_uri: format!("urn:scopegate:problem:{}", kind.slug()),
            title: kind.title().to_owned(),
            status: kind.status(),
            detail: detail.into(),
            errors: Vec::new(),
            current_version: None,
            required_scopes: Vec::new(),
            kind,
            challenge: None,
            allow: None,
        }))
    }

    /// Adds one field error.
    pub fn field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError::new(field, message));
        self
    }

    /// Adds field errors.
    pub fn fields(mut self, errors: impl IntoIterator<Item = FieldError>) -> Self {
        self.errors.extend(errors);
        self
    }

    /// A 404 for an item of `kind` that does not exist.
    pub fn not_found(kind: Kind, key: &str) -> Self {
        Self::new(
            ProblemKind::NotFound,
            format!("{} {key:?} does not exist", kind.noun()),
        )
    }

    /// A 412: `If-Match` named another version than `current`.
    pub fn precondition_failed(detail: impl Into<String>, current: u64) -> Self {
        let mut p = Self::new(ProblemKind::PreconditionFailed, detail).field(
            "If-Match",
            format!("the policy is at version {current}; send If-Match: \"{current}\""),
        );
        p.current_version = Some(current);
        p
    }

    /// A 500 whose cause goes to the log, not to the client.
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{context}");
        Self::new(
            ProblemKind::Internal,
            format!("{context}; see the server log"),
        )
    }

    /// The answer to a policy write that the store refused. `target` says what was written, so
    /// that problems are named relative to the request body where they concern the item itself.
    pub fn from_store(err: StoreError, target: &Target<'_>) -> Self {
        match err {
            StoreError::Invalid(PolicyError::NotFound { kind, name }) => Self::new(
                ProblemKind::NotFound,
                format!("{kind} {name:?} does not exist"),
            ),
            StoreError::Invalid(PolicyError::Invalid(problems)) if target.delete => {
                // The policy was valid before, so every problem is a reference to the item.
                let what = target.describe();
                Self::new(
                    ProblemKind::Conflict,
                    format!(
                        "{what} is still in use; remove the references listed in `errors` first"
                    ),
                )
                .fields(
                    problems
                        .into_iter()
                        .map(|p| FieldError::new(p.location, format!("still refers to {what}"))),
                )
            }
            StoreError::Invalid(PolicyError::Invalid(problems)) => Self::new(
                ProblemKind::ValidationFailed,
                "the change would make the policy invalid; see `errors`",
            )
            .fields(problems.iter().map(|p| target.relative(p))),
            StoreError::VersionConflict { expected, actual } => Self::precondition_failed(
                format!(
                    "the policy is at version {actual}, not {expected} as If-Match said; reload \
                     it and retry"
                ),
                actual,
            ),
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "admin write refused: the policy store is unavailable");
                Self::new(
                    ProblemKind::Unavailable,
                    "the policy store is unavailable, so the change was not applied; the policy \
                     in force is unchanged; retry later",
                )
            }
            StoreError::OutcomeUnknown(reason) => {
                tracing::warn!(%reason, "admin write: the policy store did not answer in time");
                Self::new(
                    ProblemKind::OutcomeUnknown,
                    "the change was sent to the policy store but no answer came in time, so it \
                     may or may not have been applied; if it was, every node applies it as soon \
                     as the store answers again. Read the resource back before retrying",
                )
            }
            StoreError::StoreBehind {
                stored, current, ..
            } => Self::new(
                ProblemKind::Unavailable,
                format!(
                    "the change was not applied: the shared policy store has lost data (it holds \
                     policy version {stored}, behind the version {current} this node serves; it \
                     restarted empty or was restored from an older backup). Writes are refused \
                     until an operator re-seeds it from a node's snapshot (scopegate cluster \
                     reseed); the policy in force is unchanged"
                ),
            ),
            StoreError::Save(e) => {
                tracing::error!(error = %e, "admin write could not be recorded");
                Self::new(
                    ProblemKind::Unavailable,
                    "the policy store could not record the change, so it was not applied; retry \
                     later",
                )
            }
            e @ (StoreError::Load(_) | StoreError::SeedInvalid(_)) => {
                Self::internal("the policy store failed", &e)
            }
        }
    }

    /// Problems in a whole policy document (an import), each at its location.
    pub fn invalid_document(problems: &[PolicyProblem]) -> Self {
        Self::new(
            ProblemKind::ValidationFailed,
            format!(
                "the policy document has {} problem(s); nothing was changed",
                problems.len()
            ),
        )
        .fields(problems.iter().map(document_error))
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError::Problem(problem)
    }
}

fn document_error(p: &PolicyProblem) -> FieldError {
    FieldError::new(p.location.clone(), p.message.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(location: &str) -> PolicyProblem {
        PolicyProblem::new(location, "bad")
    }

    #[test]
    fn store_errors_map_to_statuses() {
        let put = Target::put(Kind::Role, "manager");
        let delete = Target::delete(Kind::Role, "manager");
        let invalid = || {
            StoreError::Invalid(PolicyError::Invalid(vec![problem(
                "scopes[0] \"a\".roles[0]",
            )]))
        };
        assert_eq!(Problem::from_store(invalid(), &put).status, 422);
        let conflict = Problem::from_store(invalid(), &delete);
        assert_eq!(conflict.status, 409);
        assert_eq!(conflict.errors[0].field, "scopes[0] \"a\".roles[0]");
        let missing = StoreError::Invalid(PolicyError::NotFound {
            kind: "role",
            name: "x".into(),
        });
        assert_eq!(Problem::from_store(missing, &delete).status, 404);
        let stale = Problem::from_store(
            StoreError::VersionConflict {
                expected: 3,
                actual: 5,
            },
            &put,
        );
        assert_eq!((stale.status, stale.current_version), (412, Some(5)));
        let down = Problem::from_store(StoreError::Unavailable("redis: refused".into()), &put);
        assert_eq!(down.status, 503);
        assert!(down.detail.contains("unavailable"), "{}", down.detail);
        assert!(!down.detail.contains("redis"), "internals stay in the log");
        let unknown = Problem::from_store(StoreError::OutcomeUnknown("timed out".into()), &put);
        assert_eq!(
            (unknown.status, unknown.type_uri.as_str()),
            (504, "urn:scopegate:problem:outcome-unknown")
        );
        assert!(
            unknown.detail.contains("may or may not"),
            "{}",
            unknown.detail
        );
        let behind = Problem::from_store(
            StoreError::StoreBehind {
                store: "redis".into(),
                stored: 0,
                current: 12,
            },
            &put,
        );
        assert_eq!(behind.status, 503);
        assert!(behind.detail.contains("lost data"), "{}", behind.detail);
    }
}
