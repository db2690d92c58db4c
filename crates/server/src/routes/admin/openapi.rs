//! The OpenAPI 3 document of the admin API, generated from the code: each handler's
//! `#[utoipa::path]` describes its parameters, body and success answers; [`FromRouteTable`] adds
//! what the route table decides for every route alike: the internal scopes it requires (as an
//! OAuth2 client-credentials security scheme against `/oauth2/token`) and the problem answers
//! (401, 403, 400, 404, 408, 409, 412, 413, 415, 422, 503, 504) it can give.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ClientCredentials, Flow, OAuth2, Scopes, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use super::access::{Access, Area, INTERNAL_SCOPES};
use super::problem::{FieldError, ProblemDetails};
use super::{
    PREFIX, ROUTES, allowlist, apis, clients, cluster, keys, lockouts, policy, revocations, roles,
    scopes, users,
};

/// The name of the security scheme every protected route refers to.
pub const SECURITY_SCHEME: &str = "scopegate";

/// The admin API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "scopegate admin API",
        description = "Manage scopes, roles, users, clients, APIs, the allowlist and the whole \
                       policy of a scopegate cluster, rotate signing keys, revoke tokens or everything \
                       issued to a subject, and read a node's cluster status. Every answer carries the \
                       policy version as ETag; writes accept If-Match. Errors are RFC 9457 \
                       application/problem+json.",
    ),
    paths(
        document,
        scopes::list, scopes::get, scopes::put, scopes::delete,
        roles::list, roles::get, roles::put, roles::delete,
        users::list, users::get, users::put, users::delete, users::get_roles, users::put_roles,
        clients::list, clients::get, clients::put, clients::delete,
        apis::list, apis::get, apis::put, apis::delete,
        allowlist::get, allowlist::put,
        policy::export, policy::import,
        revocations::revoke_token, revocations::revoke_subject,
        keys::list, keys::rotate,
        cluster::status,
        lockouts::list, lockouts::clear_user, lockouts::clear_source,
    ),
    // Referenced by hand (the problem answers) or from query parameters, which utoipa does not
    // collect by itself.
    components(schemas(ProblemDetails, FieldError, policy::Format)),
    modifiers(&FromRouteTable),
    tags(
        (name = "scopes", description = "OAuth2 scopes and who may obtain them"),
        (name = "roles", description = "Roles and their permissions"),
        (name = "users", description = "Users, their passwords (write-only) and roles"),
        (name = "clients", description = "OAuth2 clients, their secrets (write-only), grants and roles"),
        (name = "apis", description = "APIs, resources and the scopes they require"),
        (name = "allowlist", description = "Scope patterns granted without role checks"),
        (name = "policy", description = "Export and import of the whole policy (policy-file format)"),
        (name = "revocations", description = "Revocation of a token, or of everything issued to a subject"),
        (name = "keys", description = "Signing keys: the ring (pending, active, retiring) and rotation"),
        (name = "cluster", description = "This node's policy version, applied versions and Redis state"),
        (name = "lockouts", description = "Sign-in throttle lockouts of usernames and of clients from an address"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub async fn document() -> HttpResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    });
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .body(json.as_str())
}

/// Completes every operation from [`ROUTES`]: security requirements and problem answers.
pub struct FromRouteTable;

impl Modify for FromRouteTable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scopes = Scopes::from_iter(
            INTERNAL_SCOPES
                .iter()
                .map(|s| (s.key.to_owned(), s.description.to_owned())),
        );
        let scheme = OAuth2::with_description(
            [Flow::ClientCredentials(ClientCredentials::new(
                "/oauth2/token",
                scopes,
            ))],
            "An access token of this scopegate (any grant) carrying the internal scope the \
             route requires, sent as Authorization: Bearer.",
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(SECURITY_SCHEME, SecurityScheme::OAuth2(scheme));
        for route in ROUTES {
            let path = format!("{PREFIX}{}", route.path);
            let Some(item) = openapi.paths.paths.get_mut(&path) else {
                continue;
            };
            let operation = match route.method {
                "GET" => item.get.as_mut(),
                "PUT" => item.put.as_mut(),
                "POST" => item.post.as_mut(),
                "DELETE" => item.delete.as_mut(),
                _ => None,
            };
            if let Some(operation) = operation {
                complete(operation, route.method, route.path, route.access);
            }
        }
    }
}

fn complete(operation: &mut Operation, method: &str, path: &str, access: Access) {
    // Handler names repeat across files (`get`, `put`): the tag makes the operation id unique.
    if let (Some(tag), Some(id)) = (
        operation.tags.as_ref().and_then(|t| t.first()),
        operation.operation_id.as_ref(),
    ) {
        operation.operation_id = Some(format!("{tag}_{id}"));
    }
    let accepted = access.accepted();
    if !accepted.is_empty() {
        operation.security = Some(
            accepted
                .iter()
                .map(|s| SecurityRequirement::new(SECURITY_SCHEME, [*s]))
                .collect(),
        );
    }
    // The lockouts are the sign-in throttle's, not the policy's: no version, no references.
    let lockouts = path.starts_with("/lockouts");
    let policy_write = method != "GET"
        && !lockouts
        && !matches!(
            access,
            Access::Manage(Area::Tokens) | Access::Manage(Area::Keys)
        );
    let mut problems: Vec<(&str, &str)> = Vec::new();
    if !accepted.is_empty() {
        problems.push(("401", "No bearer token, or not a valid one"));
        problems.push((
            "403",
            "The token lacks the internal scope the route requires",
        ));
    }
    // A PUT on an item creates it; any other route below an item needs the item to exist.
    if path.contains('{') && !(method == "PUT" && path.ends_with('}')) && !lockouts {
        problems.push(("404", "No such item"));
    }
    let has_query = operation.parameters.as_ref().is_some_and(|params| {
        params
            .iter()
            .any(|p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query)))
    });
    if has_query {
        problems.push(("400", "A query parameter is malformed; `errors` names it"));
    }
    if matches!(method, "PUT" | "POST") {
        problems.push(("400", "The body is malformed; `errors` names the field"));
        problems.push((
            "408",
            "The body did not arrive within server.body_read_timeout_ms; the connection is closed",
        ));
        problems.push(("413", "The body is larger than server.max_json_bytes"));
        problems.push(("415", "The body's media type is not one the route reads"));
        problems.push((
            "422",
            "The change is not valid; `errors` lists each problem and where",
        ));
    }
    if method == "DELETE" && !lockouts {
        problems.push((
            "409",
            "The item is still in use; `errors` lists the references",
        ));
    }
    if policy_write {
        problems.push(("412", "If-Match names another policy version"));
        problems.push((
            "503",
            "The policy store is unavailable; nothing was changed",
        ));
        problems.push((
            "504",
            "The policy store got the change but did not answer in time: it may or may not have \
             been applied; read the resource back before retrying",
        ));
    } else if method == "POST" {
        problems.push(("503", "The store is unavailable; nothing was changed"));
    }
    for (status, description) in problems {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build()
                    .into()
            });
    }
}
