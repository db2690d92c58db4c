//! The nouns of a policy: scopes, roles, users, clients and API definitions.
//!
//! These are plain data with serde derives; they are what the policy file, the admin API and the
//! event log carry. Consistency between them (a scope naming an undefined role, say) is checked
//! by [`crate::document::PolicyDocument::validate`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An OAuth2 scope and who may obtain it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Unique key, the string that appears in the token's `scope` claim (`order_view`).
    pub key: String,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Longer description for API consumers.
    #[serde(default)]
    pub description: String,
    /// Roles allowed to obtain the scope. Case sensitive. Empty (and no permission) means open
    /// to every authenticated principal.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A permission path; a principal whose roles hold it (or a permission above it) may obtain
    /// the scope, in addition to the listed roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
}

impl Scope {
    /// Whether the scope is open to every authenticated principal (no roles, no permission).
    pub fn is_open(&self) -> bool {
        self.roles.is_empty() && self.permission.is_none()
    }
}

/// A role: a name users and clients hold, and the permissions that come with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Unique, case-sensitive name (`manager`).
    pub name: String,
    /// Permission paths the role holds; each covers everything below it.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Free text for administrators.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// A resource owner who can obtain tokens with the `password` grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Unique login name; the token's `sub`.
    pub username: String,
    /// argon2id hash in PHC string format (`$argon2id$v=19$...`). Never a clear password.
    pub password_hash: String,
    /// Roles held, case sensitive.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A disabled user cannot obtain tokens or refresh them.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// An OAuth2 client (application).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// The client identifier (RFC 6749 §2.2).
    pub client_id: String,
    /// argon2id hash of the client secret, PHC string format.
    pub secret_hash: String,
    /// Grants the client may use.
    pub grant_types: Vec<GrantType>,
    /// Roles the client itself holds, used for the `client_credentials` grant.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A disabled client cannot authenticate.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// OAuth2 grant types scopegate issues tokens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// Resource owner password credentials (RFC 6749 §4.3).
    Password,
    /// Client credentials (RFC 6749 §4.4).
    ClientCredentials,
    /// Refresh token (RFC 6749 §6).
    RefreshToken,
}

impl GrantType {
    /// The `grant_type` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// Parses a `grant_type` parameter value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "password" => Some(Self::Password),
            "client_credentials" => Some(Self::ClientCredentials),
            "refresh_token" => Some(Self::RefreshToken),
            _ => None,
        }
    }
}

/// An API registered for scope checks: a context, an optional version, and resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Unique name (`ShoppingCartAPI`).
    pub name: String,
    /// Path prefix, starting with `/` and without a trailing slash (`/shopping`).
    pub context: String,
    /// Version segment after the context (`1.0.0`); absent for unversioned APIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Whether `/{context}/{resource}` (without the version) also reaches this version.
    #[serde(default)]
    pub default_version: bool,
    /// API-global scopes, added to every resource's required list: with `any_of` one of them
    /// alone reaches every resource of the API; with `all_of` they are needed as well.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The resources of the API.
    #[serde(default)]
    pub resources: Vec<Resource>,
}

/// One resource of an API: a path template and the scopes its verbs need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// Path template relative to the API: `/orders`, `/{user_id}/challenges`, `/files/*`.
    pub path: String,
    /// Root-level scopes: apply to every verb without its own list.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Per-verb scope lists; a verb listed here uses its own list instead of the root list.
    #[serde(default)]
    pub methods: BTreeMap<Method, Vec<String>>,
    /// Whether any one of the required scopes suffices (the default) or all are needed.
    #[serde(default)]
    pub mode: ScopeMode,
}

/// How several required scopes combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeMode {
    /// Any one of the scopes suffices (WSO2 behaviour).
    #[default]
    AnyOf,
    /// Every listed scope is required.
    AllOf,
}

/// HTTP methods a resource can bind scopes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl Method {
    /// Parses an HTTP method name (case sensitive, as HTTP method names are).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            _ => return None,
        })
    }

    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }
}
