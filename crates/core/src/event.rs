//! [`PolicyEvent`]: every change a policy can undergo.
//!
//! Events are the unit of persistence, replication and audit: the policy store appends them to
//! its log, other nodes receive them over pub/sub, and [`crate::Policy::apply`] is the one pure
//! function that turns a policy and an event into the next policy.

use serde::{Deserialize, Serialize};

use crate::document::PolicyDocument;
use crate::model::{Api, Client, Role, Scope, User};

/// One change to a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PolicyEvent {
    /// Create or replace a role.
    PutRole(Role),
    /// Delete a role; refused while a scope, user or client still names it.
    DeleteRole {
        /// The role's name.
        name: String,
    },
    /// Create or replace a scope.
    PutScope(Scope),
    /// Delete a scope; refused while an API still requires it.
    DeleteScope {
        /// The scope's key.
        key: String,
    },
    /// Create or replace a user.
    PutUser(User),
    /// Delete a user.
    DeleteUser {
        /// The user's name.
        username: String,
    },
    /// Replace the roles a user holds.
    SetUserRoles {
        /// The user's name.
        username: String,
        /// The new role list.
        roles: Vec<String>,
    },
    /// Create or replace a client.
    PutClient(Client),
    /// Delete a client.
    DeleteClient {
        /// The client's id.
        client_id: String,
    },
    /// Replace the scope allowlist.
    SetAllowlist {
        /// Regular expressions, each matched against a whole scope.
        patterns: Vec<String>,
    },
    /// Create or replace an API definition.
    PutApi(Api),
    /// Delete an API definition.
    DeleteApi {
        /// The API's name.
        name: String,
    },
    /// Replace the whole policy (import, seeding from the policy file).
    ReplaceAll(PolicyDocument),
}

impl PolicyEvent {
    /// A short name for logs and metrics labels (`put_scope`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PutRole(_) => "put_role",
            Self::DeleteRole { .. } => "delete_role",
            Self::PutScope(_) => "put_scope",
            Self::DeleteScope { .. } => "delete_scope",
            Self::PutUser(_) => "put_user",
            Self::DeleteUser { .. } => "delete_user",
            Self::SetUserRoles { .. } => "set_user_roles",
            Self::PutClient(_) => "put_client",
            Self::DeleteClient { .. } => "delete_client",
            Self::SetAllowlist { .. } => "set_allowlist",
            Self::PutApi(_) => "put_api",
            Self::DeleteApi { .. } => "delete_api",
            Self::ReplaceAll(_) => "replace_all",
        }
    }

    /// The client this event changes or removes, if any; caches keyed on a client drop on it.
    pub fn affected_client(&self) -> Option<&str> {
        match self {
            Self::PutClient(c) => Some(&c.client_id),
            Self::DeleteClient { client_id } => Some(client_id),
            _ => None,
        }
    }
}
