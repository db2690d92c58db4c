//! `/api/v1/policy`: the whole policy in the policy-file format, exported (JSON or TOML) and
//! imported (one atomic replacement, validated first, every problem listed with its location).
//!
//! Exports redact password and secret hashes as `"redacted"` unless `include_hashes=true` is
//! asked by a caller holding `internal_policy_manage`. An import may keep `"redacted"`: the user
//! or client then keeps the hash it has now, so export → edit → import round-trips without
//! hashes ever leaving the server.

use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_core::{Client, Policy, PolicyDocument, PolicyEvent, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::{Access, Area};
use super::apis::ApiBody;
use super::clients::GrantTypeBody;
use super::http::{self, body_bytes, is_json, media_type, parse_json, parse_toml};
use super::problem::{FieldError, Problem, ProblemKind, Target};
use super::roles::RoleBody;
use super::scopes::ScopeBody;
use super::{AdminContext, AdminPrincipal, bootstrap};
use crate::errors::ApiError;

/// What an export shows instead of a password or secret hash.
pub const REDACTED: &str = "redacted";

/// A whole policy, in the format of the policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocumentBody {
    /// Scope patterns granted without role checks.
    #[serde(default)]
    pub allowlist: Vec<String>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<RoleBody>,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<ScopeBody>,
    /// Users, with their password hashes (or `"redacted"`).
    #[serde(default)]
    pub users: Vec<UserRecord>,
    /// Clients, with their secret hashes (or `"redacted"`).
    #[serde(default)]
    pub clients: Vec<ClientRecord>,
    /// APIs and their resources.
    #[serde(default)]
    pub apis: Vec<ApiBody>,
}

/// A user as the policy file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// The login name.
    #[schema(
        pattern = r"^(?:[^\s\x00-\x1F\x7F-\x9F](?:[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?)?$"
    )]
    pub username: String,
    /// argon2id PHC hash; `"redacted"` in an export, meaning "keep the current one" on import.
    #[schema(pattern = r"^(?:redacted|\$argon2id\$.*)$")]
    pub password_hash: String,
    /// Roles held.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Whether the user may obtain tokens.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A client as the policy file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRecord {
    /// The client identifier.
    #[schema(
        pattern = r"^(?:[^\s:\x00-\x1F\x7F-\x9F](?:[^:\x00-\x1F\x7F-\x9F]*[^\s:\x00-\x1F\x7F-\x9F])?)?$"
    )]
    pub client_id: String,
    /// argon2id PHC hash; `"redacted"` in an export, meaning "keep the current one" on import.
    #[schema(pattern = r"^(?:redacted|\$argon2id\$.*)$")]
    pub secret_hash: String,
    /// Grants the client may use.
    pub grant_types: Vec<GrantTypeBody>,
    /// Roles the client holds for `client_credentials`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Whether the client may authenticate.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

// === conversions ===

impl PolicyDocumentBody {
    /// `doc` as the API shows it; hashes replaced by [`REDACTED`] unless `hashes`.
    pub fn from_document(doc: PolicyDocument, hashes: bool) -> Self {
        let PolicyDocument {
            allowlist,
            roles,
            scopes,
            users,
            clients,
            apis,
        } = doc;
        let shown = |hash: String| if hashes { hash } else { REDACTED.to_owned() };
        Self {
            allowlist,
            roles: roles.into_iter().map(Into::into).collect(),
            scopes: scopes.into_iter().map(Into::into).collect(),
            users: users
                .into_iter()
                .map(|u| {
                    let User {
                        username,
                        password_hash,
                        roles,
                        enabled,
                    } = u;
                    UserRecord {
                        username,
                        password_hash: shown(password_hash),
                        roles,
                        enabled,
                    }
                })
                .collect(),
            clients: clients
                .into_iter()
                .map(|c| {
                    let Client {
                        client_id,
                        secret_hash,
                        grant_types,
                        roles,
                        enabled,
                    } = c;
                    ClientRecord {
                        client_id,
                        secret_hash: shown(secret_hash),
                        grant_types: grant_types.into_iter().map(Into::into).collect(),
                        roles,
                        enabled,
                    }
                })
                .collect(),
            apis: apis.into_iter().map(Into::into).collect(),
        }
    }

    /// The document to import: redacted hashes resolved against `current` (a user or client
    /// that does not exist there cannot keep a hash it does not have).
    pub fn into_document(self, current: &Policy) -> Result<PolicyDocument, Vec<FieldError>> {
        let Self {
            allowlist,
            roles,
            scopes,
            users,
            clients,
            apis,
        } = self;
        let mut problems = Vec::new();
        let mut unredact = |at: String, hash: String, kept: Option<&str>, what: &str| {
            if hash != REDACTED {
                return hash;
            }
            match kept {
                Some(kept) => kept.to_owned(),
                None => {
                    problems.push(FieldError::new(
                        at,
                        format!(
                            "is \"{REDACTED}\" but there is no such {what} now to keep the hash \
                             of; give an argon2id hash (scopegate hash-secret)"
                        ),
                    ));
                    hash
                }
            }
        };
        let users = users
            .into_iter()
            .enumerate()
            .map(|(i, u)| User {
                password_hash: unredact(
                    format!("users[{i}] {:?}.password_hash", u.username),
                    u.password_hash,
                    current.user(&u.username).map(|x| x.password_hash.as_str()),
                    "user",
                ),
                username: u.username,
                roles: u.roles,
                enabled: u.enabled,
            })
            .collect();
        let clients = clients
            .into_iter()
            .enumerate()
            .map(|(i, c)| Client {
                secret_hash: unredact(
                    format!("clients[{i}] {:?}.secret_hash", c.client_id),
                    c.secret_hash,
                    current.client(&c.client_id).map(|x| x.secret_hash.as_str()),
                    "client",
                ),
                client_id: c.client_id,
                grant_types: c.grant_types.into_iter().map(Into::into).collect(),
                roles: c.roles,
                enabled: c.enabled,
            })
            .collect();
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(PolicyDocument {
            allowlist,
            roles: roles.into_iter().map(role).collect(),
            scopes: scopes.into_iter().map(scope).collect(),
            users,
            clients,
            apis: apis.into_iter().map(ApiBody::into_api_unchecked).collect(),
        })
    }
}

fn role(r: RoleBody) -> scopegate_core::Role {
    scopegate_core::Role {
        name: r.name,
        permissions: r.permissions,
        description: r.description,
    }
}

fn scope(s: ScopeBody) -> scopegate_core::Scope {
    scopegate_core::Scope {
        key: s.key,
        name: s.name,
        description: s.description,
        roles: s.roles,
        permission: s.permission,
    }
}

// === handlers ===

/// The export's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `application/json`.
    #[default]
    Json,
    /// `application/toml`: a policy file.
    Toml,
}

/// Query parameters of an export.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default) or `toml` (a policy file).
    #[serde(default)]
    pub format: Format,
    /// Include password and secret hashes (requires `internal_policy_manage`).
    #[serde(default)]
    pub include_hashes: bool,
}

/// A summary of an imported policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportSummary {
    /// The policy version now in force.
    pub version: u64,
    /// How many roles it has.
    pub roles: usize,
    /// How many scopes.
    pub scopes: usize,
    /// How many users.
    pub users: usize,
    /// How many clients.
    pub clients: usize,
    /// How many APIs.
    pub apis: usize,
    /// How many allowlist patterns.
    pub allowlist: usize,
}

/// Exports the whole policy (hashes redacted unless asked for with `internal_policy_manage`).
#[utoipa::path(get, path = "/api/v1/policy", tag = "policy",
    params(ExportQuery),
    responses((status = 200, description = "The policy document",
        content((PolicyDocumentBody = "application/json"), (String = "application/toml")))))]
pub async fn export(
    req: HttpRequest,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let query = web::Query::<ExportQuery>::from_query(req.query_string()).map_err(|e| {
        Problem::new(
            ProblemKind::InvalidRequest,
            format!("bad query string: {e}"),
        )
        .field("query", "format=json|toml, include_hashes=true|false")
    })?;
    let manage = Access::Manage(Area::Policy);
    if query.include_hashes && !manage.allows(&who.0.scopes) {
        let mut problem = Problem::new(
            ProblemKind::Forbidden,
            "include_hashes=true requires the scope internal_policy_manage",
        )
        .field("include_hashes", "requires internal_policy_manage");
        problem.required_scopes = vec![Area::Policy.manage_scope().to_owned()];
        return Err(problem.into());
    }
    let policy = ctx.policy();
    let body = PolicyDocumentBody::from_document(policy.to_document(), query.include_hashes);
    let (content_type, text) = match query.format {
        Format::Json => (
            "application/json",
            serde_json::to_string(&body)
                .map_err(|e| Problem::internal("the policy could not be written as JSON", &e))?,
        ),
        Format::Toml => (
            "application/toml",
            toml::to_string(&body)
                .map_err(|e| Problem::internal("the policy could not be written as TOML", &e))?,
        ),
    };
    Ok(http::export(policy.version(), content_type, text))
}

/// Replaces the whole policy with a document (JSON, or TOML as in the policy file), atomically.
/// The bootstrap administrator, if configured, is kept.
#[utoipa::path(put, path = "/api/v1/policy", tag = "policy",
    request_body(content((PolicyDocumentBody = "application/json"), (String = "application/toml"))),
    responses((status = 200, description = "Imported", body = ImportSummary)))]
pub async fn import(
    req: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let media = media_type(&req);
    let toml = matches!(media.as_str(), "application/toml" | "text/toml");
    if !toml && !is_json(&media) {
        return Err(http::unsupported_media(&media, "application/json or application/toml").into());
    }
    let bytes = body_bytes(&req, payload, ctx.max_json_bytes).await?;
    let body: PolicyDocumentBody = if toml {
        parse_toml(&bytes)?
    } else {
        parse_json(&bytes)?
    };
    let policy = ctx.policy();
    let expected = http::if_match(&req, policy.version())?;
    let doc = body.into_document(&policy).map_err(|errors| {
        Problem::new(
            ProblemKind::ValidationFailed,
            "the policy document has redacted hashes that cannot be kept; nothing was changed",
        )
        .fields(errors)
    })?;
    let problems = doc.validate();
    if !problems.is_empty() {
        return Err(Problem::invalid_document(&problems).into());
    }
    let imported = Policy::from_document(policy.version(), doc.clone())
        .map_err(|e| Problem::from_store(e.into(), &Target::document()))?;
    let mut events = vec![PolicyEvent::ReplaceAll(doc)];
    events.extend(bootstrap::events(&imported, &ctx.settings));
    let version = ctx
        .apply(&who, events, expected, Target::document())
        .await?;
    let now = ctx.policy().to_document();
    let summary = ImportSummary {
        version,
        roles: now.roles.len(),
        scopes: now.scopes.len(),
        users: now.users.len(),
        clients: now.clients.len(),
        apis: now.apis.len(),
        allowlist: now.allowlist.len(),
    };
    Ok(http::written(None, version, &summary))
}
