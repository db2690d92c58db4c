//! [`Principal`]: who is calling, as the middleware verified it, and its actix-web extractor.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{Ready, ready};
use scopegate_jwt::AccessTokenClaims;

use crate::error::EdgeError;

/// The caller of a request the [`crate::ScopeGate`] middleware let through.
///
/// Use it as a handler argument. On a route the middleware does not cover, extracting it fails
/// with a 500 naming the mistake: a handler that needs a caller never silently gets an
/// anonymous one. (`Option<Principal>` extracts `None` there instead, for handlers that serve
/// both.)
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
    /// Every claim of the verified token (`jti`, `exp`, `aud`, ...).
    pub claims: Arc<AccessTokenClaims>,
}

// === impl Principal ===

impl Principal {
    /// The principal a verified claim set stands for.
    pub fn from_claims(claims: AccessTokenClaims) -> Principal {
        Principal {
            subject: claims.sub.clone(),
            client_id: claims.client_id.clone(),
            username: claims.username.clone(),
            scopes: claims.scopes().map(str::to_owned).collect(),
            claims: Arc::new(claims),
        }
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Reads the principal the middleware stored in the request extensions.
impl FromRequest for Principal {
    type Error = EdgeError;
    type Future = Ready<Result<Principal, EdgeError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = req.extensions().get::<Principal>().cloned();
        ready(principal.ok_or_else(|| {
            tracing::error!(
                path = req.path(),
                "a handler asked for a Principal on a route without the ScopeGate middleware"
            );
            EdgeError::PrincipalMissing
        }))
    }
}
