//! `/api/v1/apis`: the APIs scopegate checks calls to, their resources and required scopes.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_core::{Api, Method, PolicyEvent, Resource, ScopeMode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::http::{self, json_body};
use super::problem::{Kind, Problem, Target};
use super::scopes::check_key;
use super::{AdminContext, AdminPrincipal, PREFIX};
use crate::errors::ApiError;

/// An API: a context path, an optional version, API-global scopes and resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiBody {
    /// The name (`ShoppingCartAPI`). Optional in a PUT body; when given it must equal the
    /// path's.
    #[serde(default)]
    #[schema(
        pattern = r"^(?:[^\s\x00-\x1F\x7F-\x9F](?:[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?)?$"
    )]
    pub name: String,
    /// Path prefix, starting with `/`, no trailing slash (`/shopping`).
    #[schema(pattern = r"^(?:/[^/\s\x00-\x1F\x7F-\x9F]+)+$")]
    pub context: String,
    /// Version segment after the context (`1.0.0`); absent for unversioned APIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[^/\s\x00-\x1F\x7F-\x9F]+$")]
    pub version: Option<String>,
    /// Whether `/{context}/{resource}` (without the version) reaches this version too.
    #[serde(default)]
    pub default_version: bool,
    /// API-global scopes, added to every resource's list.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The resources.
    #[serde(default)]
    pub resources: Vec<ResourceBody>,
}

/// A resource: a path template and the scopes its verbs need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceBody {
    /// Template relative to the API: `/orders`, `/{user_id}/challenges`, `/files/*`.
    #[schema(pattern = r"^/[^\s\x00-\x1F\x7F-\x9F]*$")]
    pub path: String,
    /// Scopes for every verb without a list of its own.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Per-verb scope lists (`{"GET": ["order_view"]}`), overriding `scopes` for that verb.
    #[serde(default)]
    pub methods: BTreeMap<MethodBody, Vec<String>>,
    /// `any_of` (one listed scope suffices, the default) or `all_of`.
    #[serde(default)]
    pub mode: ScopeModeBody,
}

/// An HTTP method a resource can bind scopes to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum MethodBody {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

/// How several required scopes combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeModeBody {
    /// Any one suffices.
    #[default]
    AnyOf,
    /// All are required.
    AllOf,
}

impl From<Method> for MethodBody {
    fn from(m: Method) -> Self {
        match m {
            Method::Get => Self::Get,
            Method::Head => Self::Head,
            Method::Post => Self::Post,
            Method::Put => Self::Put,
            Method::Patch => Self::Patch,
            Method::Delete => Self::Delete,
            Method::Options => Self::Options,
        }
    }
}

impl From<MethodBody> for Method {
    fn from(m: MethodBody) -> Self {
        match m {
            MethodBody::Get => Self::Get,
            MethodBody::Head => Self::Head,
            MethodBody::Post => Self::Post,
            MethodBody::Put => Self::Put,
            MethodBody::Patch => Self::Patch,
            MethodBody::Delete => Self::Delete,
            MethodBody::Options => Self::Options,
        }
    }
}

impl From<ScopeMode> for ScopeModeBody {
    fn from(m: ScopeMode) -> Self {
        match m {
            ScopeMode::AnyOf => Self::AnyOf,
            ScopeMode::AllOf => Self::AllOf,
        }
    }
}

impl From<ScopeModeBody> for ScopeMode {
    fn from(m: ScopeModeBody) -> Self {
        match m {
            ScopeModeBody::AnyOf => Self::AnyOf,
            ScopeModeBody::AllOf => Self::AllOf,
        }
    }
}

impl From<Resource> for ResourceBody {
    fn from(r: Resource) -> Self {
        let Resource {
            path,
            scopes,
            methods,
            mode,
        } = r;
        Self {
            path,
            scopes,
            methods: methods.into_iter().map(|(m, s)| (m.into(), s)).collect(),
            mode: mode.into(),
        }
    }
}

impl From<ResourceBody> for Resource {
    fn from(r: ResourceBody) -> Self {
        let ResourceBody {
            path,
            scopes,
            methods,
            mode,
        } = r;
        Self {
            path,
            scopes,
            methods: methods.into_iter().map(|(m, s)| (m.into(), s)).collect(),
            mode: mode.into(),
        }
    }
}

impl From<Api> for ApiBody {
    fn from(api: Api) -> Self {
        let Api {
            name,
            context,
            version,
            default_version,
            scopes,
            resources,
        } = api;
        Self {
            name,
            context,
            version,
            default_version,
            scopes,
            resources: resources.into_iter().map(Into::into).collect(),
        }
    }
}

impl ApiBody {
    /// The API as the document carries it (its own name, unchecked).
    pub fn into_api_unchecked(self) -> Api {
        let Self {
            name,
            context,
            version,
            default_version,
            scopes,
            resources,
        } = self;
        Api {
            name,
            context,
            version,
            default_version,
            scopes,
            resources: resources.into_iter().map(Into::into).collect(),
        }
    }

    /// The API this body describes at `name` (the path's).
    pub fn into_api(mut self, name: &str) -> Result<Api, Problem> {
        check_key(Kind::Api, &self.name, name)?;
        name.clone_into(&mut self.name);
        Ok(self.into_api_unchecked())
    }
}

/// Every API, by name.
#[utoipa::path(get, path = "/api/v1/apis", tag = "apis",
    responses((status = 200, description = "Every API, by name", body = [ApiBody])))]
pub async fn list(req: HttpRequest, ctx: web::Data<AdminContext>) -> HttpResponse {
    let policy = ctx.policy();
    let apis: Vec<ApiBody> = policy.apis().cloned().map(ApiBody::from).collect();
    http::read(&req, policy.version(), &apis)
}

/// One API.
#[utoipa::path(get, path = "/api/v1/apis/{name}", tag = "apis",
    params(("name" = String, Path, description = "The API name")),
    responses((status = 200, description = "The API", body = ApiBody)))]
pub async fn get(
    req: HttpRequest,
    name: web::Path<String>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, ApiError> {
    let policy = ctx.policy();
    let api = policy
        .apis()
        .find(|a| a.name == *name)
        .cloned()
        .ok_or_else(|| Problem::not_found(Kind::Api, &name))?;
    Ok(http::read(&req, policy.version(), &ApiBody::from(api)))
}

/// Registers or replaces an API; `/authz/check` enforces it from the moment this answers.
#[utoipa::path(put, path = "/api/v1/apis/{name}", tag = "apis",
    params(("name" = String, Path, description = "The API name")),
    request_body = ApiBody,
    responses(
        (status = 200, description = "Replaced", body = ApiBody),
        (status = 201, description = "Created", body = ApiBody)))]
pub async fn put(
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let body: ApiBody = json_body(&req, payload, ctx.max_json_bytes).await?;
    let api = body.into_api(&name)?;
    let policy = ctx.policy();
    let expected = http::if_match(&req, policy.version())?;
    let created = !policy.apis().any(|a| a.name == *name);
    let event = PolicyEvent::PutApi(api.clone());
    let version = ctx
        .apply(&who, vec![event], expected, Target::put(Kind::Api, &name))
        .await?;
    let location = created.then(|| format!("{PREFIX}/apis/{}", http::segment(&name)));
    Ok(http::written(location, version, &ApiBody::from(api)))
}

/// Deletes an API; its paths are no longer claimed.
#[utoipa::path(delete, path = "/api/v1/apis/{name}", tag = "apis",
    params(("name" = String, Path, description = "The API name")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    req: HttpRequest,
    name: web::Path<String>,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let event = PolicyEvent::DeleteApi { name: name.clone() };
    ctx.delete(&req, &who, event, Kind::Api, &name).await
}
