//! [`EdgeError`]: everything that can go wrong setting the edge up or keeping its keys fresh.
//!
//! Request-time refusals are not errors of the library but answers to the caller; they are
//! [`crate::Rejection`]s.

use std::path::PathBuf;

use scopegate_core::Problem;
use thiserror::Error;

/// A problem with the edge's configuration, its scope rules, or the issuer's JWKS.
///
/// Operator-facing: messages name files, URLs and policy locations, never tokens or keys.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// The policy file could not be read.
    #[error("cannot read policy file {}: {source}", .path.display())]
    ReadPolicy {
        /// The file that was asked for.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The policy file is not a TOML policy document.
    #[error("cannot parse policy file {}: {message}", .path.display())]
    ParsePolicy {
        /// The file that was read.
        path: PathBuf,
        /// The parser's message (line and column included).
        message: String,
    },
    /// The policy document parses but is invalid (the server would refuse it too).
    #[error("policy file {} is invalid: {}", .path.display(), join(.problems))]
    InvalidPolicy {
        /// The file that was read.
        path: PathBuf,
        /// Every problem, each with where it is.
        problems: Vec<Problem>,
    },
    /// The policy document has no API of that name.
    #[error("no API named {name:?} in the policy (it defines: {})", .available.join(", "))]
    UnknownApi {
        /// The name that was asked for.
        name: String,
        /// The names the document does define.
        available: Vec<String>,
    },
    /// The scope rules cannot be compiled into a route table.
    #[error("invalid scope rules: {}", join(.0))]
    InvalidRules(Vec<Problem>),
    /// The HTTP client for JWKS fetches could not be built.
    #[error("cannot build the JWKS HTTP client: {0}")]
    HttpClient(String),
    /// The JWKS could not be fetched (connection refused, timeout, ...).
    #[error("cannot fetch the JWKS from {url}: {reason}")]
    JwksFetch {
        /// The JWKS URL.
        url: String,
        /// The transport's message.
        reason: String,
    },
    /// The issuer answered the JWKS request with a non-success status.
    #[error("the JWKS request to {url} answered HTTP {status}")]
    JwksStatus {
        /// The JWKS URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The issuer's answer is not a usable JWK Set.
    #[error("the JWKS from {url} is unusable: {reason}")]
    JwksInvalid {
        /// The JWKS URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A background task was needed but no Tokio runtime is running.
    #[error("the JWKS cache must be started inside a Tokio runtime (actix-web's is one)")]
    NoRuntime,
    /// A handler asked for a [`crate::Principal`] on a route the middleware does not cover.
    #[error(
        "no scopegate principal on this request: the route is not wrapped by the ScopeGate \
         middleware"
    )]
    PrincipalMissing,
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
