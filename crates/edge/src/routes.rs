//! [`RouteTable`]: compiled [`crate::ScopeRules`], answering "what does (method, path) need".

use scopegate_core::{PathError, Policy, RouteMatch, normalize_path};

use crate::rules::UnknownRoute;

/// The context the rules of a root-mounted service are compiled under. Core's router matches
/// whole request paths against `{context}{resource}` and a context cannot be empty, so the
/// table prefixes every canonical request path with this before the lookup. The parentheses
/// make it readable in the router's conflict messages and impossible to confuse with a real
/// context of the service (the one-API policy holds nothing else).
pub(crate) const ROOT_CONTEXT: &str = "/(root)";

/// Scope rules compiled into core's radix router: a lookup walks the path, never a list.
///
/// Built by [`crate::ScopeRules::compile`]; immutable and cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct RouteTable {
    /// A policy holding only the rules' API (and the scopes it names), so matching is
    /// exactly the server's `Policy::match_request`.
    policy: Policy,
    /// Whether the API sits at the service root (under [`ROOT_CONTEXT`]).
    root: bool,
    /// What a valid token gets on a route no rule covers.
    unknown_route: UnknownRoute,
}

// === impl RouteTable ===

impl RouteTable {
    pub(crate) fn new(policy: Policy, root: bool, unknown_route: UnknownRoute) -> RouteTable {
        RouteTable {
            policy,
            root,
            unknown_route,
        }
    }

    /// What `method` on the raw request `path` (a query string is ignored) needs: a
    /// [`RouteMatch::Matched`] requirement, or no rule ([`RouteMatch::NoResource`] inside the
    /// API, [`RouteMatch::NoApi`] outside a prefix or context mount). Paths core refuses to
    /// canonicalize (`..`, encoded `/`, control characters, `;`) are errors and must be
    /// refused.
    pub fn lookup(&self, method: &str, path: &str) -> Result<RouteMatch, PathError> {
        if !self.root {
            return self.policy.match_request(method, path);
        }
        let canonical = normalize_path(path)?;
        let mut full = String::with_capacity(ROOT_CONTEXT.len() + canonical.len());
        full.push_str(ROOT_CONTEXT);
        full.push_str(&canonical);
        self.policy.match_request(method, &full)
    }

    /// What a valid token gets on a route no rule covers.
    pub fn unknown_route(&self) -> UnknownRoute {
        self.unknown_route
    }
}
