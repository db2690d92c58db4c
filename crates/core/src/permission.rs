//! Permission paths, WSO2 style: `/permission/admin/manage/identity`.
//!
//! A role that holds a permission holds every permission below it in the tree. Coverage is by
//! whole path segments: `/permission/admin/man` does **not** cover `/permission/admin/manage`.

use std::fmt;

/// A validated permission path: starts with `/`, has no empty segments and no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission(String);

impl Permission {
    /// Parses a permission path, saying what is wrong with it if it is not one.
    pub fn parse(path: &str) -> Result<Self, String> {
        if !path.starts_with('/') {
            return Err(format!("permission {path:?} must start with '/'"));
        }
        if path.len() > 1 && path.ends_with('/') {
            return Err(format!("permission {path:?} must not end with '/'"));
        }
        if path.len() > 1 && path[1..].split('/').any(str::is_empty) {
            return Err(format!("permission {path:?} has an empty segment"));
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "permission {path:?} contains whitespace or control characters"
            ));
        }
        Ok(Self(path.to_owned()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether holding `self` grants `other`: equal, or `other` lies below `self` by whole segments.
    pub fn covers(&self, other: &str) -> bool {
        covers(&self.0, other)
    }
}

/// Whether permission `held` covers permission `required` by whole path segments.
pub fn covers(held: &str, required: &str) -> bool {
    if held == "/" {
        return required.starts_with('/');
    }
    match required.strip_prefix(held) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_is_by_whole_segments() {
        assert!(covers(
            "/permission/admin/manage",
            "/permission/admin/manage"
        ));
        assert!(covers(
            "/permission/admin/manage",
            "/permission/admin/manage/identity/identitymgt/view"
        ));
        assert!(!covers("/permission/admin/man", "/permission/admin/manage"));
        assert!(!covers(
            "/permission/admin/manage",
            "/permission/admin/manage-x"
        ));
        assert!(!covers(
            "/permission/admin/manage/identity",
            "/permission/admin/manage"
        ));
        assert!(covers("/", "/permission"));
    }

    #[test]
    fn parse_refuses_malformed_paths() {
        assert!(Permission::parse("/permission/admin").is_ok());
        assert!(Permission::parse("permission/admin").is_err());
        assert!(Permission::parse("/permission/admin/").is_err());
        assert!(Permission::parse("/permission//admin").is_err());
        assert!(Permission::parse("/permission/ad min").is_err());
    }
}
