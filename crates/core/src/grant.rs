//! Scope granting: which of the requested scopes a principal gets.
//!
//! granted = (requested ∩ permitted) ∪ (requested ∩ allowlisted), where `SYSTEM` requests every
//! permitted scope. When nothing is granted the token carries the single scope `default`, or the
//! request fails with `invalid_scope`, as configured.

use std::collections::HashSet;

use crate::policy::Policy;

/// The scope requested by `scope=SYSTEM`: every scope the principal is permitted.
pub const SYSTEM: &str = "SYSTEM";
/// The scope a token carries when nothing else was granted.
pub const DEFAULT_SCOPE: &str = "default";

/// What to do when no requested scope can be granted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyGrant {
    /// Issue the token with the single scope `default` (WSO2 behaviour).
    #[default]
    Default,
    /// Refuse the request with `invalid_scope`.
    InvalidScope,
}

/// Why a grant produced no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// Nothing requested could be granted and the policy says to refuse.
    #[error("none of the requested scopes can be granted")]
    NothingGranted,
    /// A refresh asked for a scope the original grant did not include (RFC 6749 §6). The
    /// message does not repeat the scope: error descriptions never echo client input.
    #[error("a requested scope was not in the original grant (RFC 6749 section 6)")]
    ExceedsOriginal(String),
}

/// A malformed `scope` parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the scope parameter has a character outside RFC 6749 section 3.3 (scope tokens are \
     printable ASCII without space, double quote or backslash)"
)]
pub struct ScopeSyntaxError {
    /// The offending token, cut to 64 characters.
    pub token: String,
}

/// Whether `s` is a scope-token: `1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3).
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A parsed `scope` parameter: distinct scope tokens in the order first requested.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeRequest {
    scopes: Vec<String>,
}

impl ScopeRequest {
    /// Parses a space-separated `scope` parameter. Repeated spaces are tolerated; any other
    /// character outside the scope-token set is an error.
    pub fn parse(raw: &str) -> Result<Self, ScopeSyntaxError> {
        let mut scopes = Vec::new();
        let mut seen = HashSet::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            if !is_scope_token(token) {
                return Err(ScopeSyntaxError {
                    token: token.chars().take(64).collect(),
                });
            }
            if seen.insert(token) {
                scopes.push(token.to_owned());
            }
        }
        Ok(Self { scopes })
    }

    /// A request for exactly these scopes (already validated by the caller, e.g. from a token).
    pub fn from_scopes<I: IntoIterator<Item = String>>(scopes: I) -> Self {
        let mut seen = HashSet::new();
        let scopes = scopes
            .into_iter()
            .filter(|s| seen.insert(s.clone()))
            .collect();
        Self { scopes }
    }

    /// The requested scopes.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether nothing was requested.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }
}

/// Decides the scopes a principal holding `roles` gets for `request` under `policy`.
///
/// The result keeps the order of the request (`SYSTEM` expands in key order) and has no
/// duplicates. Unknown or unpermitted scopes are dropped silently.
pub fn grant_scopes(
    policy: &Policy,
    roles: &[String],
    request: &ScopeRequest,
    empty: EmptyGrant,
) -> Result<Vec<String>, GrantError> {
    let mut granted: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut system: Vec<String> = Vec::new();
    for scope in request.scopes() {
        if scope == SYSTEM {
            system = policy.permitted_scopes(roles).into_iter().collect();
            continue;
        }
        if (policy.is_permitted(roles, scope) || policy.is_allowlisted(scope)) && seen.insert(scope)
        {
            granted.push(scope.clone());
        }
    }
    for scope in system {
        if !seen.contains(scope.as_str()) {
            granted.push(scope);
        }
    }
    if granted.is_empty() {
        return match empty {
            EmptyGrant::Default => Ok(vec![DEFAULT_SCOPE.to_owned()]),
            EmptyGrant::InvalidScope => Err(GrantError::NothingGranted),
        };
    }
    Ok(granted)
}

/// For a refresh: the requested scopes if they are all within `original`; all of `original`
/// when nothing is requested (RFC 6749 §6).
pub fn narrow(original: &[String], request: &ScopeRequest) -> Result<Vec<String>, GrantError> {
    if request.is_empty() {
        return Ok(original.to_vec());
    }
    for scope in request.scopes() {
        if !original.contains(scope) {
            return Err(GrantError::ExceedsOriginal(scope.clone()));
        }
    }
    Ok(request.scopes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens_follow_rfc_6749() {
        assert!(is_scope_token("order_view"));
        assert!(is_scope_token("urn:x:y/z!#[]"));
        assert!(!is_scope_token(""));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token("a\\b"));
        assert!(!is_scope_token("a\tb"));
        assert!(!is_scope_token("é"));
    }

    #[test]
    fn parse_dedupes_and_keeps_order() {
        let r = ScopeRequest::parse("b a  b c").unwrap();
        assert_eq!(r.scopes(), ["b", "a", "c"]);
        assert!(ScopeRequest::parse("a\tb").is_err());
        assert!(ScopeRequest::parse("").unwrap().is_empty());
    }

    #[test]
    fn narrow_refuses_widening() {
        let original = vec!["a".to_owned(), "b".to_owned()];
        let req = ScopeRequest::parse("a").unwrap();
        assert_eq!(narrow(&original, &req).unwrap(), ["a"]);
        assert_eq!(
            narrow(&original, &ScopeRequest::default()).unwrap(),
            original
        );
        assert!(narrow(&original, &ScopeRequest::parse("c").unwrap()).is_err());
    }
}
