//! `/api/v1/roles`: roles and the permission paths they hold.

use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_core::{PolicyEvent, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::http::{self, json_body};
use super::problem::{Kind, Problem, Target};
use super::scopes::check_key;
use super::{AdminContext, AdminPrincipal, PREFIX};
use crate::errors::ApiError;

/// A role: a name users and clients hold, and the permissions that come with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// The name (case sensitive). Optional in a PUT body; when given it must equal the path's.
    #[serde(default)]
    #[schema(
        pattern = r"^(?:[^\s\x00-\x1F\x7F-\x9F](?:[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?)?$"
    )]
    pub name: String,
    /// Permission paths the role holds; each covers everything below it
    /// (`/permission/admin/manage` covers `/permission/admin/manage/identity`).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Free text for administrators.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

impl From<Role> for RoleBody {
    fn from(role: Role) -> Self {
        let Role {
            name,
            permissions,
            description,
        } = role;
        Self {
            name,
            permissions,
            description,
        }
    }
}

impl RoleBody {
    /// The role this body describes at `name` (the path's).
    pub fn into_role(self, name: &str) -> Result<Role, Problem> {
        let Self {
            name: body_name,
            permissions,
            description,
        } = self;
        check_key(Kind::Role, &body_name, name)?;
        Ok(Role {
            name: name.to_owned(),
            permissions,
            description,
        })
    }
}

/// Every role, by name.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles",
    responses((status = 200, description = "Every role, by name", body = [RoleBody])))]
pub async fn list(req: HttpRequest, ctx: web::Data<AdminContext>) -> HttpResponse {
    let policy = ctx.policy();
    let roles: Vec<RoleBody> = policy
        .to_document()
        .roles
        .into_iter()
        .map(RoleBody::from)
        .collect();
    http::read(&req, policy.version(), &roles)
}

/// One role.
#[utoipa::path(get, path = "/api/v1/roles/{name}", tag = "roles",
    params(("name" = String, Path, description = "The role name")),
    responses((status = 200, description = "The role", body = RoleBody)))]
pub async fn get(
    req: HttpRequest,
    name: web::Path<String>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, ApiError> {
    let policy = ctx.policy();
    let role = policy
        .role(&name)
        .cloned()
        .ok_or_else(|| Problem::not_found(Kind::Role, &name))?;
    Ok(http::read(&req, policy.version(), &RoleBody::from(role)))
}

/// Creates or replaces a role.
#[utoipa::path(put, path = "/api/v1/roles/{name}", tag = "roles",
    params(("name" = String, Path, description = "The role name")),
    request_body = RoleBody,
    responses(
        (status = 200, description = "Replaced", body = RoleBody),
        (status = 201, description = "Created", body = RoleBody)))]
pub async fn put(
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let body: RoleBody = json_body(&req, payload, ctx.max_json_bytes).await?;
    let role = body.into_role(&name)?;
    let policy = ctx.policy();
    let expected = http::if_match(&req, policy.version())?;
    let created = policy.role(&name).is_none();
    let event = PolicyEvent::PutRole(role.clone());
    let version = ctx
        .apply(&who, vec![event], expected, Target::put(Kind::Role, &name))
        .await?;
    let location = created.then(|| format!("{PREFIX}/roles/{}", http::segment(&name)));
    Ok(http::written(location, version, &RoleBody::from(role)))
}

/// Deletes a role; 409 while a scope, user or client still names it.
#[utoipa::path(delete, path = "/api/v1/roles/{name}", tag = "roles",
    params(("name" = String, Path, description = "The role name")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    req: HttpRequest,
    name: web::Path<String>,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let event = PolicyEvent::DeleteRole { name: name.clone() };
    ctx.delete(&req, &who, event, Kind::Role, &name).await
}
