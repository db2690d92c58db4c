//! The admin REST API under `/api/v1/`: scopes, roles, users and their roles, clients, APIs and
//! their resources, the allowlist, policy export/import and token revocation, protected by this
//! scopegate's own tokens carrying internal scopes. See `docs/admin-api.md`.
//!
//! Every route is one line of [`ROUTES`] (declared with `route_table!` below): the same table
//! registers the handlers, tells the [`access::guard`] middleware which internal scope each route
//! requires, and completes the OpenAPI document ([`openapi`]), so the three cannot drift apart.
//! Handlers stay thin: extract, build [`PolicyEvent`]s, [`AdminContext::apply`], answer.
//!
//! Writes go through the policy store actor like every other change (one atomic, versioned
//! batch of events); reads come from the current snapshot. Every answer carries the policy
//! version as its `ETag`, and every write honours `If-Match` (412 on a mismatch).
//!
//! # Layout
//! - this file: [`AdminContext`], the route table, [`configure`].
//! - [`access`]: internal scopes, the area → scope table, the guard middleware.
//! - [`problem`]: RFC 9457 problem details and the mapping of store errors to them.
//! - [`target`]: what a write changes, to name the policy's problems as body fields.
//! - [`http`]: JSON bodies that name the wrong field, `ETag`/`If-Match`, success answers.
//! - [`bootstrap`]: the bootstrap administrator from `[admin]`, ensured at startup and import.
//! - [`openapi`]: the OpenAPI 3 document at `/api/v1/openapi.json`.
//! - [`scopes`], [`roles`], [`users`], [`clients`], [`apis`], [`allowlist`], [`policy`],
//!   [`revocations`], [`lockouts`]: one file per resource group, each with its JSON schema
//!   types.

pub mod access;
pub mod allowlist;
pub mod apis;
pub mod bootstrap;
pub mod clients;
pub mod cluster;
pub mod http;
pub mod keys;
pub mod lockouts;
pub mod openapi;
pub mod policy;
pub mod problem;
pub mod revocations;
pub mod roles;
pub mod scopes;
pub mod target;
pub mod users;

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{middleware, web};
use scopegate_core::{Policy, PolicyEvent};
use scopegate_policy_store::{PolicyReader, PolicyStoreHandle};
use scopegate_scope_validator::ScopeValidator;
use scopegate_token_issuer::TokenService;

pub use access::{Access, AdminPrincipal, Area, INTERNAL_SCOPES};
pub use problem::{Problem, ProblemKind};

use self::problem::Target;
use crate::settings::AdminSettings;

/// Where the admin API is mounted.
pub const PREFIX: &str = "/api/v1";

/// What the admin handlers need, shared as one `web::Data`.
pub struct AdminContext {
    /// The policy store, for writes.
    store: PolicyStoreHandle,
    /// The current policy, for reads (never messages the store).
    reader: PolicyReader,
    /// Verifies admin tokens, and revokes access tokens.
    validator: ScopeValidator,
    /// Revokes refresh-token families.
    tokens: TokenService,
    /// The bootstrap administrator, re-ensured after an import.
    settings: AdminSettings,
    /// Largest JSON (or TOML) body accepted, bytes.
    max_json_bytes: usize,
}

// === impl AdminContext ===

impl AdminContext {
    /// The context of a node's admin API.
    pub fn new(
        store: PolicyStoreHandle,
        validator: ScopeValidator,
        tokens: TokenService,
        settings: AdminSettings,
        max_json_bytes: usize,
    ) -> Self {
        Self {
            reader: store.reader(),
            store,
            validator,
            tokens,
            settings,
            max_json_bytes,
        }
    }

    /// The policy snapshot in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.reader.current()
    }

    /// Applies `events` as one atomic change (on `expected` version if given) and returns the new
    /// version; a refusal becomes a [`Problem`] whose fields are named for `target`.
    pub async fn apply(
        &self,
        who: &AdminPrincipal,
        events: Vec<PolicyEvent>,
        expected: Option<u64>,
        target: Target<'_>,
    ) -> Result<u64, Problem> {
        let kinds: Vec<&'static str> = events.iter().map(PolicyEvent::kind).collect();
        let version = self
            .store
            .apply(events, expected)
            .await
            .map_err(|e| Problem::from_store(e, &target))?;
        tracing::info!(
            subject = %who.0.subject,
            client_id = %who.0.client_id,
            events = ?kinds,
            version,
            "admin API changed the policy"
        );
        Ok(version)
    }
}

impl AdminContext {
    /// A delete route's whole body: honour `If-Match`, apply the one deleting `event`, answer
    /// 204 with the new version (problems named for `kind` `key`).
    pub async fn delete(
        &self,
        req: &actix_web::HttpRequest,
        who: &AdminPrincipal,
        event: PolicyEvent,
        kind: problem::Kind,
        key: &str,
    ) -> Result<actix_web::HttpResponse, crate::errors::ApiError> {
        let expected = http::if_match(req, self.policy().version())?;
        let version = self
            .apply(who, vec![event], expected, Target::delete(kind, key))
            .await?;
        Ok(http::deleted(version))
    }
}

/// One admin route.
#[derive(Debug, Clone, Copy)]
pub struct AdminRoute {
    /// The HTTP method (`GET`).
    pub method: &'static str,
    /// The path template below [`PREFIX`], as actix-web and OpenAPI both write it
    /// (`/scopes/{key}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// Declares [`ROUTES`] and `register` from one table, so what is served is what is checked and
/// documented.
macro_rules! route_table {
    ($( $path:literal { $( $method:ident $access:expr => $handler:path; )+ } )+) => {
        /// Every admin route: method, path below [`PREFIX`], and the access it requires.
        pub const ROUTES: &[AdminRoute] = &[
            $( $( AdminRoute { method: stringify!($method), path: $path, access: $access }, )+ )+
        ];

        fn register(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        .name(concat!("/api/v1", $path))
                        $( .route(web::method(Method::$method).to($handler)) )+
                );
            )+
        }
    };
}

route_table! {
    "/openapi.json" {
        GET Access::Public => openapi::document;
    }
    "/scopes" {
        GET Access::View(Area::Scopes) => scopes::list;
    }
    "/scopes/{key}" {
        GET Access::View(Area::Scopes) => scopes::get;
        PUT Access::Manage(Area::Scopes) => scopes::put;
        DELETE Access::Manage(Area::Scopes) => scopes::delete;
    }
    "/roles" {
        GET Access::View(Area::Roles) => roles::list;
    }
    "/roles/{name}" {
        GET Access::View(Area::Roles) => roles::get;
        PUT Access::Manage(Area::Roles) => roles::put;
        DELETE Access::Manage(Area::Roles) => roles::delete;
    }
    "/users" {
        GET Access::View(Area::Users) => users::list;
    }
    "/users/{username}" {
        GET Access::View(Area::Users) => users::get;
        PUT Access::Manage(Area::Users) => users::put;
        DELETE Access::Manage(Area::Users) => users::delete;
    }
    "/users/{username}/roles" {
        GET Access::View(Area::Users) => users::get_roles;
        PUT Access::Manage(Area::Users) => users::put_roles;
    }
    "/clients" {
        GET Access::View(Area::Clients) => clients::list;
    }
    "/clients/{client_id}" {
        GET Access::View(Area::Clients) => clients::get;
        PUT Access::Manage(Area::Clients) => clients::put;
        DELETE Access::Manage(Area::Clients) => clients::delete;
    }
    "/apis" {
        GET Access::View(Area::Apis) => apis::list;
    }
    "/apis/{name}" {
        GET Access::View(Area::Apis) => apis::get;
        PUT Access::Manage(Area::Apis) => apis::put;
        DELETE Access::Manage(Area::Apis) => apis::delete;
    }
    "/allowlist" {
        GET Access::View(Area::Allowlist) => allowlist::get;
        PUT Access::Manage(Area::Allowlist) => allowlist::put;
    }
    "/policy" {
        GET Access::View(Area::Policy) => policy::export;
        PUT Access::Manage(Area::Policy) => policy::import;
    }
    "/revocations/tokens" {
        POST Access::Manage(Area::Tokens) => revocations::revoke_token;
    }
    "/revocations/subjects" {
        POST Access::Manage(Area::Tokens) => revocations::revoke_subject;
    }
    "/keys" {
        GET Access::View(Area::Keys) => keys::list;
    }
    "/keys/rotate" {
        POST Access::Manage(Area::Keys) => keys::rotate;
    }
    "/cluster/status" {
        GET Access::View(Area::Policy) => cluster::status;
    }
    "/lockouts" {
        GET Access::View(Area::Users) => lockouts::list;
    }
    "/lockouts/users/{username}" {
        DELETE Access::Manage(Area::Users) => lockouts::clear_user;
    }
    "/lockouts/sources/{client_id}/{address}" {
        DELETE Access::Manage(Area::Clients) => lockouts::clear_source;
    }
}

/// Mounts the admin API under [`PREFIX`], every route behind [`access::guard`].
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PREFIX)
            .wrap(middleware::from_fn(access::guard))
            .configure(register),
    );
}
