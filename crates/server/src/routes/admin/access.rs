//! Who may call which admin route: the internal scopes, the one table mapping each area of the
//! API to its scope, and [`guard`], the middleware that checks every `/api/v1` request against
//! the route table before a handler runs.
//!
//! Admin callers present an access token issued by this scopegate (`Authorization: Bearer`),
//! verified like any other token (signature, expiry, issuer, audience, revocation). Internal
//! scopes are ordinary scopes, granted through roles; the bootstrap administrator
//! ([`super::bootstrap`]) holds all of them through the `scopegate-admin` role.
//!
//! The check fails closed: a request whose path the route table does not know is answered 404
//! and one whose method it does not list 405 by the guard itself, so no handler is ever reached
//! without the table having said who may reach it.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};
use scopegate_jwt::unix_now;
use scopegate_scope_validator::Principal;

use super::problem::{Problem, ProblemKind};
use super::{AdminContext, PREFIX, ROUTES};
use crate::errors::ApiError;
use crate::routes::authz::bearer;

/// An internal scope: what the admin API checks, and what the bootstrap role is given.
#[derive(Debug, Clone, Copy)]
pub struct InternalScope {
    /// The scope key.
    pub key: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What it allows.
    pub description: &'static str,
}

/// Reads every admin resource (hashes are never shown to anyone).
pub const VIEW_SCOPE: &str = "internal_scope_view";

/// Every internal scope of the admin API.
pub const INTERNAL_SCOPES: &[InternalScope] = &[
    InternalScope {
        key: VIEW_SCOPE,
        name: "View the policy",
        description: "Read scopes, roles, users, clients, APIs, the allowlist and the exported \
                      policy (password and secret hashes redacted)",
    },
    InternalScope {
        key: "internal_scope_manage",
        name: "Manage scopes",
        description: "Create, change and delete scopes (and which roles may obtain them) and \
                      the allowlist",
    },
    InternalScope {
        key: "internal_role_manage",
        name: "Manage roles",
        description: "Create, change and delete roles and their permissions",
    },
    InternalScope {
        key: "internal_user_manage",
        name: "Manage users",
        description: "Create, change and delete users, their passwords and their roles",
    },
    InternalScope {
        key: "internal_client_manage",
        name: "Manage clients",
        description: "Create, change and delete OAuth2 clients, their secrets, grants and roles",
    },
    InternalScope {
        key: "internal_api_manage",
        name: "Manage APIs",
        description: "Register, change and delete APIs, their resources and required scopes",
    },
    InternalScope {
        key: "internal_policy_manage",
        name: "Import and export the policy",
        description: "Replace the whole policy (import), and export it with its hashes",
    },
    InternalScope {
        key: "internal_key_manage",
        name: "Manage signing keys",
        description: "Rotate and retire token signing keys",
    },
    InternalScope {
        key: "internal_token_revoke",
        name: "Revoke tokens",
        description: "Revoke access and refresh tokens",
    },
    InternalScope {
        key: INTROSPECT_SCOPE,
        name: "Introspect tokens",
        description: "Introspect (RFC 7662) tokens issued to other clients: for resource \
                      servers. A client whose roles permit this scope may introspect any token; \
                      every client may introspect its own",
    },
];

/// Lets a client introspect tokens issued to other clients (`POST /oauth2/introspect`, RFC
/// 7662 §4): the client's own roles must permit it (bound to one of them, or to a permission
/// one of them holds; not open, not through the allowlist).
pub const INTROSPECT_SCOPE: &str = "internal_token_introspect";

/// A part of the admin API, with the one scope that manages it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// `/scopes`.
    Scopes,
    /// `/allowlist`.
    Allowlist,
    /// `/roles`.
    Roles,
    /// `/users` and their roles.
    Users,
    /// `/clients`.
    Clients,
    /// `/apis` and their resources.
    Apis,
    /// `/policy`: export and import.
    Policy,
    /// `/keys`: the key ring and rotation.
    Keys,
    /// `/revocations`.
    Tokens,
}

impl Area {
    /// The internal scope that manages the area. **The** mapping table of the admin API.
    pub const fn manage_scope(self) -> &'static str {
        match self {
            Self::Scopes | Self::Allowlist => "internal_scope_manage",
            Self::Roles => "internal_role_manage",
            Self::Users => "internal_user_manage",
            Self::Clients => "internal_client_manage",
            Self::Apis => "internal_api_manage",
            Self::Policy => "internal_policy_manage",
            Self::Keys => "internal_key_manage",
            Self::Tokens => "internal_token_revoke",
        }
    }
}

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing (the OpenAPI document).
    Public,
    /// A read: [`VIEW_SCOPE`] or the area's manage scope.
    View(Area),
    /// A write: the area's manage scope.
    Manage(Area),
}

impl Access {
    /// The scopes of which a caller needs one; empty for [`Access::Public`].
    pub fn accepted(self) -> Vec<&'static str> {
        match self {
            Self::Public => Vec::new(),
            Self::View(area) => vec![VIEW_SCOPE, area.manage_scope()],
            Self::Manage(area) => vec![area.manage_scope()],
        }
    }

    /// Whether a token granted `scopes` may call the route.
    pub fn allows(self, scopes: &[String]) -> bool {
        let accepted = self.accepted();
        accepted.is_empty() || scopes.iter().any(|s| accepted.contains(&s.as_str()))
    }
}

/// The caller of an admin route, as its token says; handlers take it to record who changed what.
#[derive(Debug, Clone)]
pub struct AdminPrincipal(pub Principal);

impl FromRequest for AdminPrincipal {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<AdminPrincipal>()
                .cloned()
                .ok_or_else(|| {
                    Problem::new(
                        ProblemKind::Unauthorized,
                        "this route needs an authenticated administrator",
                    )
                    .into()
                }),
        )
    }
}

/// Checks a request against the route table: 404 for an unknown path, 405 for an unlisted
/// method, 401/403 for a caller without the route's scope; otherwise the handler runs with the
/// caller's [`AdminPrincipal`] in the request extensions.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match check(&req) {
        Ok(principal) => {
            if let Some(principal) = principal {
                req.extensions_mut().insert(AdminPrincipal(principal));
            }
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(problem) => {
            let response = ApiError::from(problem).error_response();
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

fn check(req: &ServiceRequest) -> Result<Option<Principal>, Problem> {
    let pattern = req.match_pattern();
    let path = pattern
        .as_deref()
        .and_then(|p| p.strip_prefix(PREFIX))
        .filter(|p| ROUTES.iter().any(|r| r.path == *p))
        .ok_or_else(|| {
            Problem::new(
                ProblemKind::NotFound,
                format!("no admin route at this path; see {PREFIX}/openapi.json for the routes"),
            )
        })?;
    let method = req.method().as_str();
    let Some(route) = ROUTES.iter().find(|r| r.path == path && r.method == method) else {
        let allow: Vec<&str> = ROUTES
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.method)
            .collect();
        let mut problem = Problem::new(
            ProblemKind::MethodNotAllowed,
            format!("{PREFIX}{path} accepts {}", allow.join(", ")),
        );
        problem.allow = Some(allow.join(", "));
        return Err(problem);
    };
    if route.access == Access::Public {
        return Ok(None);
    }
    let ctx = req
        .app_data::<web::Data<AdminContext>>()
        .ok_or_else(|| Problem::internal("the admin API is not configured", &"no AdminContext"))?;
    authorize(ctx, bearer(req.headers()), route.access).map(Some)
}

/// The principal of `token` if it may do what `access` requires.
pub fn authorize(
    ctx: &AdminContext,
    token: Option<&str>,
    access: Access,
) -> Result<Principal, Problem> {
    let Some(token) = token else {
        let mut problem = Problem::new(
            ProblemKind::Unauthorized,
            "send an access token of this scopegate as Authorization: Bearer <token>",
        )
        .field("Authorization", "no bearer token");
        problem.challenge = Some("Bearer realm=\"scopegate\"".to_owned());
        return Err(problem);
    };
    let principal = ctx
        .validator
        .authenticate(token, unix_now())
        .map_err(|deny| {
            let mut problem = Problem::new(
                ProblemKind::Unauthorized,
                format!("the bearer token is not valid: {}", deny.description),
            )
            .field("Authorization", deny.description.clone());
            problem.challenge = Some(format!(
                "Bearer realm=\"scopegate\", error=\"invalid_token\", error_description=\"{}\"",
                quoted(&deny.description)
            ));
            problem
        })?;
    if access.allows(&principal.scopes) {
        return Ok(principal);
    }
    let accepted = access.accepted();
    let mut problem = Problem::new(
        ProblemKind::Forbidden,
        format!(
            "this route requires the scope {}; the token has {}",
            accepted.join(" or "),
            if principal.scopes.is_empty() {
                "none".to_owned()
            } else {
                principal.scopes.join(" ")
            }
        ),
    );
    problem.challenge = Some(format!(
        "Bearer realm=\"scopegate\", error=\"insufficient_scope\", scope=\"{}\"",
        accepted.join(" ")
    ));
    problem.required_scopes = accepted.iter().map(|s| (*s).to_owned()).collect();
    Err(problem)
}

/// Text fit for a quoted-string in a header.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_accept_the_view_scope_or_the_manage_scope() {
        let view = Access::View(Area::Users);
        assert!(view.allows(&["internal_scope_view".into()]));
        assert!(view.allows(&["internal_user_manage".into()]));
        assert!(!view.allows(&["internal_client_manage".into()]));
        let manage = Access::Manage(Area::Users);
        assert!(!manage.allows(&["internal_scope_view".into()]));
        assert!(manage.allows(&["x".into(), "internal_user_manage".into()]));
        assert!(Access::Public.allows(&[]));
    }

    #[test]
    fn every_manage_scope_is_an_internal_scope() {
        for area in [
            Area::Scopes,
            Area::Allowlist,
            Area::Roles,
            Area::Users,
            Area::Clients,
            Area::Apis,
            Area::Policy,
            Area::Keys,
            Area::Tokens,
        ] {
            assert!(
                INTERNAL_SCOPES.iter().any(|s| s.key == area.manage_scope()),
                "{area:?}"
            );
        }
    }
}
