//! `/api/v1/scopes`: OAuth2 scopes and the roles (or permission) that may obtain them.

use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_core::{PolicyEvent, Scope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::http::{self, json_body};
use super::problem::{Kind, Problem, ProblemKind, Target};
use super::{AdminContext, AdminPrincipal, PREFIX};
use crate::errors::ApiError;

/// A scope: its key, who may obtain it, and how it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    /// The key, the string in the token's `scope` claim. Optional in a PUT body (the path names
    /// it); when given it must equal the path's.
    #[serde(default)]
    #[schema(pattern = r"^[\x21\x23-\x5B\x5D-\x7E]*$")]
    pub key: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Description for API consumers.
    #[serde(default)]
    pub description: String,
    /// Roles that may obtain the scope (case sensitive). No roles and no permission: open to
    /// every authenticated principal.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A permission path; roles holding it, or a permission above it, may obtain the scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^/(?:[^/\s\x00-\x1F\x7F-\x9F]+(?:/[^/\s\x00-\x1F\x7F-\x9F]+)*)?$")]
    pub permission: Option<String>,
}

impl From<Scope> for ScopeBody {
    fn from(scope: Scope) -> Self {
        let Scope {
            key,
            name,
            description,
            roles,
            permission,
        } = scope;
        Self {
            key,
            name,
            description,
            roles,
            permission,
        }
    }
}

impl ScopeBody {
    /// The scope this body describes at `key` (the path's).
    pub fn into_scope(self, key: &str) -> Result<Scope, Problem> {
        let Self {
            key: body_key,
            name,
            description,
            roles,
            permission,
        } = self;
        check_key(Kind::Scope, &body_key, key)?;
        Ok(Scope {
            key: key.to_owned(),
            name,
            description,
            roles,
            permission,
        })
    }
}

/// A body's identifier, if given, must equal the path's.
pub fn check_key(kind: Kind, body: &str, path: &str) -> Result<(), Problem> {
    if body.is_empty() || body == path {
        return Ok(());
    }
    let field = kind.id_field();
    Err(Problem::new(
        ProblemKind::ValidationFailed,
        format!(
            "the body's {field} {body:?} differs from the path's {path:?}; to rename a {}, \
             create the new one and delete the old one",
            kind.noun()
        ),
    )
    .field(field, format!("must be {path:?} (or absent)")))
}

/// Every scope, by key.
#[utoipa::path(get, path = "/api/v1/scopes", tag = "scopes",
    responses((status = 200, description = "Every scope, by key", body = [ScopeBody])))]
pub async fn list(req: HttpRequest, ctx: web::Data<AdminContext>) -> HttpResponse {
    let policy = ctx.policy();
    let scopes: Vec<ScopeBody> = policy.scopes().cloned().map(ScopeBody::from).collect();
    http::read(&req, policy.version(), &scopes)
}

/// One scope.
#[utoipa::path(get, path = "/api/v1/scopes/{key}", tag = "scopes",
    params(("key" = String, Path, description = "The scope key")),
    responses((status = 200, description = "The scope", body = ScopeBody)))]
pub async fn get(
    req: HttpRequest,
    key: web::Path<String>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, ApiError> {
    let policy = ctx.policy();
    let scope = policy
        .scope(&key)
        .cloned()
        .ok_or_else(|| Problem::not_found(Kind::Scope, &key))?;
    Ok(http::read(&req, policy.version(), &ScopeBody::from(scope)))
}

/// Creates or replaces a scope.
#[utoipa::path(put, path = "/api/v1/scopes/{key}", tag = "scopes",
    params(("key" = String, Path, description = "The scope key")),
    request_body = ScopeBody,
    responses(
        (status = 200, description = "Replaced", body = ScopeBody),
        (status = 201, description = "Created", body = ScopeBody)))]
pub async fn put(
    req: HttpRequest,
    key: web::Path<String>,
    payload: web::Payload,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let body: ScopeBody = json_body(&req, payload, ctx.max_json_bytes).await?;
    let scope = body.into_scope(&key)?;
    let policy = ctx.policy();
    let expected = http::if_match(&req, policy.version())?;
    let created = policy.scope(&key).is_none();
    let event = PolicyEvent::PutScope(scope.clone());
    let version = ctx
        .apply(&who, vec![event], expected, Target::put(Kind::Scope, &key))
        .await?;
    let location = created.then(|| format!("{PREFIX}/scopes/{}", http::segment(&key)));
    Ok(http::written(location, version, &ScopeBody::from(scope)))
}

/// Deletes a scope; 409 while an API still requires it.
#[utoipa::path(delete, path = "/api/v1/scopes/{key}", tag = "scopes",
    params(("key" = String, Path, description = "The scope key")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    req: HttpRequest,
    key: web::Path<String>,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let event = PolicyEvent::DeleteScope { key: key.clone() };
    ctx.delete(&req, &who, event, Kind::Scope, &key).await
}
