//! [`Target`]: what a policy write changes, so that the problems the policy reports (at
//! document locations such as `scopes[4] "x".roles[0]`) can be named as fields of the request
//! body (`roles[0]`) when they concern the item written.

use scopegate_core::Problem as PolicyProblem;

use super::problem::FieldError;

/// The kinds of item the admin API writes one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A scope, keyed by `key`.
    Scope,
    /// A role, keyed by `name`.
    Role,
    /// A user, keyed by `username`.
    User,
    /// A client, keyed by `client_id`.
    Client,
    /// An API, keyed by `name`.
    Api,
}

impl Kind {
    /// The policy document's list of this kind (`scopes`).
    pub fn collection(self) -> &'static str {
        match self {
            Self::Scope => "scopes",
            Self::Role => "roles",
            Self::User => "users",
            Self::Client => "clients",
            Self::Api => "apis",
        }
    }

    /// The field that identifies an item (`key`).
    pub fn id_field(self) -> &'static str {
        match self {
            Self::Scope => "key",
            Self::Role | Self::Api => "name",
            Self::User => "username",
            Self::Client => "client_id",
        }
    }

    /// The word for one item (`scope`).
    pub fn noun(self) -> &'static str {
        match self {
            Self::Scope => "scope",
            Self::Role => "role",
            Self::User => "user",
            Self::Client => "client",
            Self::Api => "API",
        }
    }
}

/// What a policy write changes, for naming its problems.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The item written, or `None` for a document-wide write (import, allowlist).
    item: Option<(Kind, &'a str)>,
    /// Whether the write deletes the item (so "invalid" means "still in use").
    pub(super) delete: bool,
}

impl<'a> Target<'a> {
    /// Creating or replacing (or changing part of) one item.
    pub fn put(kind: Kind, key: &'a str) -> Self {
        Self {
            item: Some((kind, key)),
            delete: false,
        }
    }

    /// Deleting one item.
    pub fn delete(kind: Kind, key: &'a str) -> Self {
        Self {
            item: Some((kind, key)),
            delete: true,
        }
    }

    /// A write whose problems are best named by their policy-document location.
    pub fn document() -> Self {
        Self {
            item: None,
            delete: false,
        }
    }

    pub(super) fn describe(&self) -> String {
        match self.item {
            Some((kind, key)) => format!("{} {key:?}", kind.noun()),
            None => "the item".to_owned(),
        }
    }

    /// The problem as a field of the request body when it is about the item itself
    /// (`scopes[4] "x".roles[0]` → `roles[0]`), else at its document location.
    pub(super) fn relative(&self, problem: &PolicyProblem) -> FieldError {
        let field = self
            .item
            .and_then(|(kind, key)| relative_field(&problem.location, kind, key))
            .unwrap_or_else(|| problem.location.clone());
        FieldError::new(field, problem.message.clone())
    }
}

/// `scopes[4] "x".roles[0]` → `roles[0]` for the scope `x`; `scopes[4] "x"` → `key`; `None` when
/// the location is about another item.
fn relative_field(location: &str, kind: Kind, key: &str) -> Option<String> {
    let rest = location
        .strip_prefix(kind.collection())?
        .strip_prefix('[')?;
    let (index, rest) = rest.split_once("] ")?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest.strip_prefix(&format!("{key:?}"))?;
    if rest.is_empty() {
        return Some(kind.id_field().to_owned());
    }
    rest.strip_prefix('.').map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(location: &str) -> PolicyProblem {
        PolicyProblem::new(location, "bad")
    }

    #[test]
    fn item_problems_are_named_relative_to_the_body() {
        let t = Target::put(Kind::Scope, "order_add");
        assert_eq!(
            t.relative(&problem("scopes[3] \"order_add\".roles[0]"))
                .field,
            "roles[0]"
        );
        assert_eq!(t.relative(&problem("scopes[3] \"order_add\"")).field, "key");
        // Another item, or another collection: the document location as it is.
        for other in [
            "scopes[2] \"order_view\".roles[0]",
            "apis[0] \"X\".scopes[0]",
            "allowlist[1]",
        ] {
            assert_eq!(t.relative(&problem(other)).field, other);
        }
    }
}
