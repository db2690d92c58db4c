//! [`Gate`]: the whole decision for one request (token, then route, then scopes), independent
//! of any web framework. The actix-web middleware is a thin wrapper around it.

use std::sync::Arc;

use scopegate_core::{RouteMatch, satisfies};

use crate::error::EdgeError;
use crate::jwks::JwksCache;
use crate::principal::Principal;
use crate::rejection::Rejection;
use crate::routes::RouteTable;
use crate::rules::{ScopeRules, UnknownRoute};

/// Verifies a request's token locally and checks its scopes against the service's rules.
///
/// Cheap to clone; share one per service across workers.
#[derive(Clone, Debug)]
pub struct Gate {
    /// The issuer's keys, verified against locally.
    keys: JwksCache,
    /// The compiled rules.
    routes: Arc<RouteTable>,
}

// === impl Gate ===

impl Gate {
    /// A gate over `keys` enforcing `rules` (compiled here; see [`ScopeRules::compile`]).
    pub fn new(keys: JwksCache, rules: &ScopeRules) -> Result<Gate, EdgeError> {
        Ok(Gate::with_table(keys, rules.compile()?))
    }

    /// A gate over `keys` enforcing an already compiled table.
    pub fn with_table(keys: JwksCache, routes: RouteTable) -> Gate {
        Gate {
            keys,
            routes: Arc::new(routes),
        }
    }

    /// Decides one request, in the server's order: the token first (401 whatever the path),
    /// then the path (400 when it has no canonical form), the rule (403 `access_denied` when
    /// none covers the route, unless unknown routes are allowed) and the scopes (403
    /// `insufficient_scope`).
    ///
    /// `authorization` is the raw `Authorization` header value, if any; `path` the request
    /// path (a query string is ignored).
    pub async fn authorize(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
    ) -> Result<Principal, Rejection> {
        let token = authorization
            .and_then(bearer_token)
            .ok_or_else(Rejection::no_token)?;
        let claims = self
            .keys
            .verify(token)
            .await
            .map_err(|e| Rejection::refused(&e))?;
        let principal = Principal::from_claims(claims);
        let granted = &principal.scopes;
        let requirement = match self.routes.lookup(method, path) {
            Err(e) => return Err(Rejection::invalid_path(&e, granted)),
            Ok(RouteMatch::Matched(requirement)) => requirement,
            Ok(RouteMatch::NoResource { .. } | RouteMatch::NoApi)
                if self.routes.unknown_route() == UnknownRoute::Allow =>
            {
                return Ok(principal);
            }
            Ok(RouteMatch::NoResource { api }) => {
                return Err(Rejection::no_rule(Some(api), granted));
            }
            Ok(RouteMatch::NoApi) => return Err(Rejection::no_rule(None, granted)),
        };
        let held: Vec<&str> = granted.iter().map(String::as_str).collect();
        if satisfies(&requirement, &held) {
            return Ok(principal);
        }
        Err(Rejection::insufficient_scope(
            requirement.scopes,
            requirement.mode,
            granted,
            requirement.api,
        ))
    }

    /// The key cache, for readiness checks ([`JwksCache::kids`]).
    pub fn keys(&self) -> &JwksCache {
        &self.keys
    }
}

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive,
/// RFC 7235 §2.1), or `None` for another scheme.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
