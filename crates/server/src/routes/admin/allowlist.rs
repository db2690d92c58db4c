//! `/api/v1/allowlist`: scope patterns granted without role checks.

use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_core::PolicyEvent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::http::{self, json_body};
use super::problem::Target;
use super::{AdminContext, AdminPrincipal};
use crate::errors::ApiError;

/// The allowlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowlistBody {
    /// Regular expressions; a requested scope matching one *entirely* is granted without role
    /// validation (`^device_.*`, `openid`).
    pub patterns: Vec<String>,
}

/// The allowlist.
#[utoipa::path(get, path = "/api/v1/allowlist", tag = "allowlist",
    responses((status = 200, description = "The allowlist", body = AllowlistBody)))]
pub async fn get(req: HttpRequest, ctx: web::Data<AdminContext>) -> HttpResponse {
    let policy = ctx.policy();
    let body = AllowlistBody {
        patterns: policy.to_document().allowlist,
    };
    http::read(&req, policy.version(), &body)
}

/// Replaces the allowlist.
#[utoipa::path(put, path = "/api/v1/allowlist", tag = "allowlist",
    request_body = AllowlistBody,
    responses((status = 200, description = "The new allowlist", body = AllowlistBody)))]
pub async fn put(
    req: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let body: AllowlistBody = json_body(&req, payload, ctx.max_json_bytes).await?;
    let expected = http::if_match(&req, ctx.policy().version())?;
    let event = PolicyEvent::SetAllowlist {
        patterns: body.patterns.clone(),
    };
    let version = ctx
        .apply(&who, vec![event], expected, Target::document())
        .await
        .map_err(|mut problem| {
            // The document calls the list `allowlist`; the body calls it `patterns`.
            for e in &mut problem.errors {
                if let Some(rest) = e.field.strip_prefix("allowlist") {
                    e.field = format!("patterns{rest}");
                }
            }
            problem
        })?;
    Ok(http::written(None, version, &body))
}
