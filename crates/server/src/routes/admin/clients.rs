//! `/api/v1/clients`: OAuth2 clients, their secrets (write-only), grants and roles.

use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_core::{Client, GrantType, PolicyEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::http::{self, json_body};
use super::problem::{Kind, Problem, Target};
use super::scopes::check_key;
use super::users::secret_hash;
use super::{AdminContext, AdminPrincipal, PREFIX};
use crate::errors::ApiError;

/// A grant type a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantTypeBody {
    /// Resource owner password credentials (RFC 6749 §4.3).
    Password,
    /// Client credentials (RFC 6749 §4.4).
    ClientCredentials,
    /// Refresh token (RFC 6749 §6).
    RefreshToken,
}

impl From<GrantType> for GrantTypeBody {
    fn from(g: GrantType) -> Self {
        match g {
            GrantType::Password => Self::Password,
            GrantType::ClientCredentials => Self::ClientCredentials,
            GrantType::RefreshToken => Self::RefreshToken,
        }
    }
}

impl From<GrantTypeBody> for GrantType {
    fn from(g: GrantTypeBody) -> Self {
        match g {
            GrantTypeBody::Password => Self::Password,
            GrantTypeBody::ClientCredentials => Self::ClientCredentials,
            GrantTypeBody::RefreshToken => Self::RefreshToken,
        }
    }
}

/// A client to create or replace. The secret is given in clear (hashed with argon2id here and
/// never stored or shown) or as an argon2id hash; on a replace, giving neither keeps the current
/// secret.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    /// Optional; when given it must equal the path's client id.
    #[serde(default)]
    #[schema(
        pattern = r"^(?:[^\s:\x00-\x1F\x7F-\x9F](?:[^:\x00-\x1F\x7F-\x9F]*[^\s:\x00-\x1F\x7F-\x9F])?)?$"
    )]
    pub client_id: String,
    /// The client secret in clear.
    #[serde(default)]
    #[schema(write_only, format = Password, min_length = 1)]
    pub secret: Option<String>,
    /// Instead of `secret`: an argon2id hash in PHC format (`scopegate hash-secret`).
    #[serde(default)]
    #[schema(write_only, pattern = r"^\$argon2id\$")]
    pub secret_hash: Option<String>,
    /// Grants the client may use; at least one.
    #[serde(default)]
    pub grant_types: Vec<GrantTypeBody>,
    /// Roles the client itself holds, for `client_credentials`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A disabled client cannot authenticate.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A client as the admin API shows it: never its secret hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClientView {
    /// The client identifier.
    pub client_id: String,
    /// Grants the client may use.
    pub grant_types: Vec<GrantTypeBody>,
    /// Roles the client holds for `client_credentials`.
    pub roles: Vec<String>,
    /// Whether the client may authenticate.
    pub enabled: bool,
}

impl From<&Client> for ClientView {
    fn from(client: &Client) -> Self {
        // Every field named, so a new one in the model is a decision here, not a leak.
        let Client {
            client_id,
            secret_hash: _,
            grant_types,
            roles,
            enabled,
        } = client;
        Self {
            client_id: client_id.clone(),
            grant_types: grant_types.iter().copied().map(Into::into).collect(),
            roles: roles.clone(),
            enabled: *enabled,
        }
    }
}

/// Every client, by client id (no hashes).
#[utoipa::path(get, path = "/api/v1/clients", tag = "clients",
    responses((status = 200, description = "Every client, by client id", body = [ClientView])))]
pub async fn list(req: HttpRequest, ctx: web::Data<AdminContext>) -> HttpResponse {
    let policy = ctx.policy();
    let clients: Vec<ClientView> = policy
        .to_document()
        .clients
        .iter()
        .map(ClientView::from)
        .collect();
    http::read(&req, policy.version(), &clients)
}

/// One client (no hash).
#[utoipa::path(get, path = "/api/v1/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client id")),
    responses((status = 200, description = "The client", body = ClientView)))]
pub async fn get(
    req: HttpRequest,
    client_id: web::Path<String>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, ApiError> {
    let policy = ctx.policy();
    let client = policy
        .client(&client_id)
        .ok_or_else(|| Problem::not_found(Kind::Client, &client_id))?;
    Ok(http::read(
        &req,
        policy.version(),
        &ClientView::from(client),
    ))
}

/// Creates or replaces a client.
#[utoipa::path(put, path = "/api/v1/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client id")),
    request_body = ClientInput,
    responses(
        (status = 200, description = "Replaced", body = ClientView),
        (status = 201, description = "Created", body = ClientView)))]
pub async fn put(
    req: HttpRequest,
    client_id: web::Path<String>,
    payload: web::Payload,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let ClientInput {
        client_id: body_id,
        secret,
        secret_hash: hash,
        grant_types,
        roles,
        enabled,
    } = json_body(&req, payload, ctx.max_json_bytes).await?;
    check_key(Kind::Client, &body_id, &client_id)?;
    let policy = ctx.policy();
    let expected = http::if_match(&req, policy.version())?;
    let current = policy.client(&client_id);
    let secret_hash = secret_hash(
        secret,
        hash,
        current.map(|c| c.secret_hash.as_str()),
        ("secret", "secret_hash"),
    )
    .await?;
    let client = Client {
        client_id: client_id.clone(),
        secret_hash,
        grant_types: grant_types.into_iter().map(Into::into).collect(),
        roles,
        enabled,
    };
    let view = ClientView::from(&client);
    let location = current
        .is_none()
        .then(|| format!("{PREFIX}/clients/{}", http::segment(&client_id)));
    let event = PolicyEvent::PutClient(client);
    let version = ctx
        .apply(
            &who,
            vec![event],
            expected,
            Target::put(Kind::Client, &client_id),
        )
        .await?;
    Ok(http::written(location, version, &view))
}

/// Deletes a client; its tokens stay valid until they expire (revoke them to end them sooner).
#[utoipa::path(delete, path = "/api/v1/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    req: HttpRequest,
    client_id: web::Path<String>,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let event = PolicyEvent::DeleteClient {
        client_id: client_id.clone(),
    };
    ctx.delete(&req, &who, event, Kind::Client, &client_id)
        .await
}
