//! [`PolicyDocument`]: the declarative policy format (the policy file, export/import) and its
//! validation.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::error::Problem;
use crate::grant::is_scope_token;
use crate::model::{Api, Client, Resource, Role, Scope, User};
use crate::permission::Permission;

/// Scope names with a meaning of their own that a policy may not define.
pub const RESERVED_SCOPES: &[&str] = &["SYSTEM"];

/// A whole policy as plain data. The order of entries carries no meaning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Regular expressions; a requested scope that matches one *entirely* is granted without
    /// role validation (`^device_.*`, `openid`).
    #[serde(default)]
    pub allowlist: Vec<String>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// OAuth2 clients.
    #[serde(default)]
    pub clients: Vec<Client>,
    /// APIs and their resources.
    #[serde(default)]
    pub apis: Vec<Api>,
}

impl PolicyDocument {
    /// Every problem in the document, each with where it is. Empty means valid.
    pub fn validate(&self) -> Vec<Problem> {
        self.validate_with(true)
    }

    /// [`PolicyDocument::validate`], optionally skipping the allowlist's regexes (compiling
    /// them dominates validation; [`crate::Policy::apply`] skips them when an event left an
    /// already valid allowlist unchanged).
    pub(crate) fn validate_with(&self, allowlist: bool) -> Vec<Problem> {
        let mut v = Validator::default();
        if allowlist {
            v.allowlist(&self.allowlist);
        }
        let roles = v.roles(&self.roles);
        let scopes = v.scopes(&self.scopes, &roles);
        v.users(&self.users, &roles);
        v.clients(&self.clients, &roles);
        v.apis(&self.apis, &scopes);
        v.problems
    }

    /// Sorts every list by its key, so two documents with the same content compare equal.
    pub fn normalize(&mut self) {
        self.roles.sort_by(|a, b| a.name.cmp(&b.name));
        self.scopes.sort_by(|a, b| a.key.cmp(&b.key));
        self.users.sort_by(|a, b| a.username.cmp(&b.username));
        self.clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        self.apis.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    fn push(&mut self, location: String, message: impl Into<String>) {
        self.problems.push(Problem::new(location, message));
    }

    fn name(&mut self, at: &str, what: &str, value: &str) {
        if value.trim().is_empty() {
            self.push(at.to_owned(), format!("{what} must not be empty"));
        } else if value.trim() != value || value.chars().any(char::is_control) {
            self.push(
                at.to_owned(),
                format!("{what} {value:?} has surrounding whitespace or control characters"),
            );
        }
    }

    fn unique<'a>(&mut self, seen: &mut HashSet<&'a str>, at: &str, what: &str, value: &'a str) {
        if !seen.insert(value) {
            self.push(at.to_owned(), format!("duplicate {what} {value:?}"));
        }
    }

    fn role_refs(&mut self, at: &str, refs: &[String], roles: &HashSet<&str>) {
        for (i, role) in refs.iter().enumerate() {
            if !roles.contains(role.as_str()) {
                let hint = roles
                    .iter()
                    .find(|r| r.eq_ignore_ascii_case(role))
                    .map(|r| format!(" (role names are case sensitive; did you mean {r:?}?)"))
                    .unwrap_or_default();
                self.push(
                    format!("{at}.roles[{i}]"),
                    format!("role {role:?} is not defined{hint}"),
                );
            }
        }
    }

    fn secret_hash(&mut self, at: String, hash: &str) {
        if !hash.starts_with("$argon2id$") {
            self.push(
                at,
                "must be an argon2id hash in PHC format ($argon2id$...); \
                 create one with `scopegate hash-secret`",
            );
        }
    }

    fn allowlist(&mut self, patterns: &[String]) {
        for (i, p) in patterns.iter().enumerate() {
            if p.chars().any(char::is_control) {
                self.push(
                    format!("allowlist[{i}]"),
                    format!("pattern {p:?} has control characters (write them as regex escapes)"),
                );
            } else if let Err(e) = regex::Regex::new(p) {
                self.push(format!("allowlist[{i}]"), format!("invalid regex: {e}"));
            }
        }
    }

    fn roles<'a>(&mut self, roles: &'a [Role]) -> HashSet<&'a str> {
        let mut seen = HashSet::new();
        for (i, role) in roles.iter().enumerate() {
            let at = format!("roles[{i}] {:?}", role.name);
            self.name(&at, "role name", &role.name);
            self.unique(&mut seen, &at, "role", &role.name);
            for (j, p) in role.permissions.iter().enumerate() {
                if let Err(e) = Permission::parse(p) {
                    self.push(format!("{at}.permissions[{j}]"), e);
                }
            }
        }
        seen
    }

    fn scopes<'a>(&mut self, scopes: &'a [Scope], roles: &HashSet<&str>) -> HashSet<&'a str> {
        let mut seen = HashSet::new();
        for (i, scope) in scopes.iter().enumerate() {
            let at = format!("scopes[{i}] {:?}", scope.key);
            if !is_scope_token(&scope.key) {
                self.push(
                    format!("{at}.key"),
                    "a scope key must be non-empty printable ASCII without spaces, '\"' or '\\' \
                     (RFC 6749 section 3.3)",
                );
            }
            if RESERVED_SCOPES.contains(&scope.key.as_str()) {
                self.push(
                    format!("{at}.key"),
                    format!(
                        "{:?} is reserved: it requests every permitted scope",
                        scope.key
                    ),
                );
            }
            self.unique(&mut seen, &at, "scope", &scope.key);
            self.role_refs(&at, &scope.roles, roles);
            if let Some(p) = &scope.permission
                && let Err(e) = Permission::parse(p)
            {
                self.push(format!("{at}.permission"), e);
            }
        }
        seen
    }

    fn users(&mut self, users: &[User], roles: &HashSet<&str>) {
        let mut seen = HashSet::new();
        for (i, user) in users.iter().enumerate() {
            let at = format!("users[{i}] {:?}", user.username);
            self.name(&at, "username", &user.username);
            self.unique(&mut seen, &at, "user", &user.username);
            self.secret_hash(format!("{at}.password_hash"), &user.password_hash);
            self.role_refs(&at, &user.roles, roles);
        }
    }

    fn clients(&mut self, clients: &[Client], roles: &HashSet<&str>) {
        let mut seen = HashSet::new();
        for (i, client) in clients.iter().enumerate() {
            let at = format!("clients[{i}] {:?}", client.client_id);
            self.name(&at, "client_id", &client.client_id);
            if client.client_id.contains(':') {
                self.push(
                    format!("{at}.client_id"),
                    "a client_id must not contain ':' (HTTP Basic authentication splits on it)",
                );
            }
            self.unique(&mut seen, &at, "client", &client.client_id);
            self.secret_hash(format!("{at}.secret_hash"), &client.secret_hash);
            if client.grant_types.is_empty() {
                self.push(
                    format!("{at}.grant_types"),
                    "a client needs at least one grant type",
                );
            }
            self.role_refs(&at, &client.roles, roles);
        }
    }

    fn apis(&mut self, apis: &[Api], scopes: &HashSet<&str>) {
        let mut names = HashSet::new();
        let mut prefixes: HashMap<String, &str> = HashMap::new();
        for (i, api) in apis.iter().enumerate() {
            let at = format!("apis[{i}] {:?}", api.name);
            self.name(&at, "API name", &api.name);
            self.unique(&mut names, &at, "API", &api.name);
            if !api.context.starts_with('/')
                || api.context.ends_with('/')
                || api.context.contains("//")
                || api
                    .context
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                self.push(
                    format!("{at}.context"),
                    format!(
                        "context {:?} must start with '/', not end with '/', have no empty segment \
                         and no whitespace or control characters",
                        api.context
                    ),
                );
            }
            if let Some(version) = &api.version
                && (version.is_empty()
                    || version.contains('/')
                    || version.chars().any(|c| c.is_whitespace() || c.is_control()))
            {
                self.push(
                    format!("{at}.version"),
                    format!(
                        "version {version:?} must be one non-empty path segment without \
                         whitespace or control characters"
                    ),
                );
            }
            if api.default_version && api.version.is_none() {
                self.push(
                    format!("{at}.default_version"),
                    "default_version needs a version",
                );
            }
            let mut prefix_list = vec![match &api.version {
                Some(v) => format!("{}/{v}", api.context),
                None => api.context.clone(),
            }];
            if api.default_version {
                prefix_list.push(api.context.clone());
            }
            for prefix in prefix_list {
                if let Some(other) = prefixes.insert(prefix.clone(), &api.name) {
                    self.push(
                        format!("{at}.context"),
                        format!("path prefix {prefix:?} is already used by API {other:?}"),
                    );
                }
            }
            self.scope_refs(&format!("{at}.scopes"), &api.scopes, scopes);
            let mut paths = HashSet::new();
            for (j, resource) in api.resources.iter().enumerate() {
                self.resource(
                    &format!("{at}.resources[{j}] {:?}", resource.path),
                    resource,
                    scopes,
                );
                if !paths.insert(resource.path.as_str()) {
                    self.push(
                        format!("{at}.resources[{j}]"),
                        format!("duplicate resource path {:?}", resource.path),
                    );
                }
            }
        }
    }

    fn scope_refs(&mut self, at: &str, refs: &[String], scopes: &HashSet<&str>) {
        for (i, s) in refs.iter().enumerate() {
            if !scopes.contains(s.as_str()) {
                self.push(format!("{at}[{i}]"), format!("scope {s:?} is not defined"));
            }
        }
    }

    fn resource(&mut self, at: &str, resource: &Resource, scopes: &HashSet<&str>) {
        if let Err(e) = check_template(&resource.path) {
            self.push(format!("{at}.path"), e);
        }
        self.scope_refs(&format!("{at}.scopes"), &resource.scopes, scopes);
        for (method, list) in &resource.methods {
            self.scope_refs(&format!("{at}.methods.{}", method.as_str()), list, scopes);
        }
    }
}

/// Checks a resource path template: starts with `/`, parameters are whole segments (`{id}`),
/// a wildcard `*` may only be the last segment, no `.`/`..` or empty inner segments.
pub fn check_template(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("resource path {path:?} must start with '/'"));
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "resource path {path:?} has whitespace or control characters"
        ));
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    let mut params = BTreeSet::new();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() && i != last {
            return Err(format!("resource path {path:?} has an empty segment"));
        }
        if *seg == "." || *seg == ".." {
            return Err(format!("resource path {path:?} has a '.' or '..' segment"));
        }
        if *seg == "*" {
            if i != last {
                return Err(format!(
                    "resource path {path:?}: '*' is only allowed as the last segment"
                ));
            }
            continue;
        }
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(format!(
                    "resource path {path:?}: bad parameter name {name:?}"
                ));
            }
            if !params.insert(name) {
                return Err(format!(
                    "resource path {path:?}: parameter {name:?} repeats"
                ));
            }
        } else if seg.contains(['{', '}', '*', '?', '#']) {
            return Err(format!(
                "resource path {path:?}: segment {seg:?} mixes literal text with '{{', '}}', '*', '?' or '#'"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert!(check_template("/orders").is_ok());
        assert!(check_template("/").is_ok());
        assert!(check_template("/{user_id}/challenges").is_ok());
        assert!(check_template("/files/*").is_ok());
        assert!(check_template("orders").is_err());
        assert!(check_template("/a//b").is_err());
        assert!(check_template("/*/b").is_err());
        assert!(check_template("/a/../b").is_err());
        assert!(check_template("/x{id}").is_err());
        assert!(check_template("/{id}/{id}").is_err());
        assert!(check_template("/a\nb").is_err());
        assert!(check_template("/a b").is_err());
    }

    /// Every identifier with a control character is a problem named where it is.
    #[test]
    fn control_characters_in_identifiers_are_problems() {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
        let text = format!(
            r#"
            allowlist = ["a\nb"]
            [[roles]]
            name = "r\r"
            permissions = ["/permission/a\u0000"]
            [[scopes]]
            key = "s\n"
            [[users]]
            username = "u\n"
            password_hash = "{hash}"
            [[clients]]
            client_id = "c\u001b"
            secret_hash = "{hash}"
            grant_types = ["client_credentials"]
            [[apis]]
            name = "A\n"
            context = "/x\n"
            version = "1\t"
            [[apis.resources]]
            path = "/o\n"
            "#
        );
        let doc: PolicyDocument = toml::from_str(&text).expect("parses");
        let problems = doc.validate();
        for location in [
            "allowlist[0]",
            "roles[0] \"r\\r\"",
            "roles[0] \"r\\r\".permissions[0]",
            "scopes[0] \"s\\n\".key",
            "users[0] \"u\\n\"",
            "clients[0] \"c\\u{1b}\"",
            "apis[0] \"A\\n\"",
            "apis[0] \"A\\n\".context",
            "apis[0] \"A\\n\".version",
            "apis[0] \"A\\n\".resources[0] \"/o\\n\".path",
        ] {
            assert!(
                problems.iter().any(|p| p.location == location),
                "{location} not in {problems:#?}"
            );
        }
    }
}
