//! `/api/v1/users`: resource owners, their passwords (write-only) and their roles.

use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_core::{PolicyEvent, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::http::{self, json_body};
use super::problem::{Kind, Problem, ProblemKind, Target};
use super::scopes::check_key;
use super::{AdminContext, AdminPrincipal, PREFIX};
use crate::errors::ApiError;

/// A user to create or replace. The password is given in clear (hashed with argon2id here and
/// never stored or shown) or as an argon2id hash; on a replace, giving neither keeps the current
/// password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// Optional; when given it must equal the path's username.
    #[serde(default)]
    #[schema(
        pattern = r"^(?:[^\s\x00-\x1F\x7F-\x9F](?:[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?)?$"
    )]
    pub username: String,
    /// The password in clear.
    #[serde(default)]
    #[schema(write_only, format = Password, min_length = 1)]
    pub password: Option<String>,
    /// Instead of `password`: an argon2id hash in PHC format (`scopegate hash-secret`).
    #[serde(default)]
    #[schema(write_only, pattern = r"^\$argon2id\$")]
    pub password_hash: Option<String>,
    /// Roles held (case sensitive).
    #[serde(default)]
    pub roles: Vec<String>,
    /// A disabled user cannot obtain or refresh tokens.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A user as the admin API shows it: never its password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// The login name, the token's `sub`.
    pub username: String,
    /// Roles held.
    pub roles: Vec<String>,
    /// Whether the user may obtain tokens.
    pub enabled: bool,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        // Every field named, so a new one in the model is a decision here, not a leak.
        let User {
            username,
            password_hash: _,
            roles,
            enabled,
        } = user;
        Self {
            username: username.clone(),
            roles: roles.clone(),
            enabled: *enabled,
        }
    }
}

/// The roles a user holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRolesBody {
    /// Role names, case sensitive; replaces the whole list.
    pub roles: Vec<String>,
}

/// The argon2id hash a write stores: `clear` hashed here (off the event loop), or `hash` as
/// given, or `current` (a replace that gives neither). `fields` names the clear and hash fields.
pub async fn secret_hash(
    clear: Option<String>,
    hash: Option<String>,
    current: Option<&str>,
    fields: (&'static str, &'static str),
) -> Result<String, Problem> {
    let (clear_field, hash_field) = fields;
    match (clear, hash) {
        (Some(_), Some(_)) => Err(Problem::new(
            ProblemKind::ValidationFailed,
            format!("give either {clear_field} or {hash_field}, not both"),
        )
        .field(
            hash_field,
            format!("not allowed together with {clear_field}"),
        )),
        (Some(clear), None) if clear.is_empty() => Err(Problem::new(
            ProblemKind::ValidationFailed,
            format!("{clear_field} must not be empty"),
        )
        .field(clear_field, "must not be empty")),
        (Some(clear), None) => web::block(move || scopegate_token_issuer::hash_secret(&clear))
            .await
            .map_err(|e| Problem::internal("the hashing thread pool failed", &e))?
            .map_err(|e| Problem::internal("hashing a secret failed", &e)),
        (None, Some(hash)) => Ok(hash),
        (None, None) => current.map(str::to_owned).ok_or_else(|| {
            Problem::new(
                ProblemKind::ValidationFailed,
                format!("a new item needs {clear_field} (or {hash_field})"),
            )
            .field(clear_field, "required when creating")
        }),
    }
}

/// Every user, by username (no hashes).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, description = "Every user, by username", body = [UserView])))]
pub async fn list(req: HttpRequest, ctx: web::Data<AdminContext>) -> HttpResponse {
    let policy = ctx.policy();
    let users: Vec<UserView> = policy
        .to_document()
        .users
        .iter()
        .map(UserView::from)
        .collect();
    http::read(&req, policy.version(), &users)
}

/// One user (no hash).
#[utoipa::path(get, path = "/api/v1/users/{username}", tag = "users",
    params(("username" = String, Path, description = "The username")),
    responses((status = 200, description = "The user", body = UserView)))]
pub async fn get(
    req: HttpRequest,
    username: web::Path<String>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, ApiError> {
    let policy = ctx.policy();
    let user = policy
        .user(&username)
        .ok_or_else(|| Problem::not_found(Kind::User, &username))?;
    Ok(http::read(&req, policy.version(), &UserView::from(user)))
}

/// Creates or replaces a user.
#[utoipa::path(put, path = "/api/v1/users/{username}", tag = "users",
    params(("username" = String, Path, description = "The username")),
    request_body = UserInput,
    responses(
        (status = 200, description = "Replaced", body = UserView),
        (status = 201, description = "Created", body = UserView)))]
pub async fn put(
    req: HttpRequest,
    username: web::Path<String>,
    payload: web::Payload,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let UserInput {
        username: body_name,
        password,
        password_hash,
        roles,
        enabled,
    } = json_body(&req, payload, ctx.max_json_bytes).await?;
    check_key(Kind::User, &body_name, &username)?;
    let policy = ctx.policy();
    let expected = http::if_match(&req, policy.version())?;
    let current = policy.user(&username);
    let password_hash = secret_hash(
        password,
        password_hash,
        current.map(|u| u.password_hash.as_str()),
        ("password", "password_hash"),
    )
    .await?;
    let user = User {
        username: username.clone(),
        password_hash,
        roles,
        enabled,
    };
    let view = UserView::from(&user);
    let location = current
        .is_none()
        .then(|| format!("{PREFIX}/users/{}", http::segment(&username)));
    let version = ctx
        .apply(
            &who,
            vec![PolicyEvent::PutUser(user)],
            expected,
            Target::put(Kind::User, &username),
        )
        .await?;
    Ok(http::written(location, version, &view))
}

/// Deletes a user.
#[utoipa::path(delete, path = "/api/v1/users/{username}", tag = "users",
    params(("username" = String, Path, description = "The username")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    req: HttpRequest,
    username: web::Path<String>,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let event = PolicyEvent::DeleteUser {
        username: username.clone(),
    };
    ctx.delete(&req, &who, event, Kind::User, &username).await
}

/// The roles a user holds.
#[utoipa::path(get, path = "/api/v1/users/{username}/roles", tag = "users",
    params(("username" = String, Path, description = "The username")),
    responses((status = 200, description = "The user's roles", body = UserRolesBody)))]
pub async fn get_roles(
    req: HttpRequest,
    username: web::Path<String>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, ApiError> {
    let policy = ctx.policy();
    let user = policy
        .user(&username)
        .ok_or_else(|| Problem::not_found(Kind::User, &username))?;
    let body = UserRolesBody {
        roles: user.roles.clone(),
    };
    Ok(http::read(&req, policy.version(), &body))
}

/// Replaces the roles a user holds; tokens issued from now on carry the scopes they permit.
#[utoipa::path(put, path = "/api/v1/users/{username}/roles", tag = "users",
    params(("username" = String, Path, description = "The username")),
    request_body = UserRolesBody,
    responses((status = 200, description = "The new roles", body = UserRolesBody)))]
pub async fn put_roles(
    req: HttpRequest,
    username: web::Path<String>,
    payload: web::Payload,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let body: UserRolesBody = json_body(&req, payload, ctx.max_json_bytes).await?;
    let expected = http::if_match(&req, ctx.policy().version())?;
    let event = PolicyEvent::SetUserRoles {
        username: username.clone(),
        roles: body.roles.clone(),
    };
    let version = ctx
        .apply(
            &who,
            vec![event],
            expected,
            Target::put(Kind::User, &username),
        )
        .await?;
    Ok(http::written(None, version, &body))
}
