//! The library microservices embed to validate scopegate access tokens themselves: local JWT
//! verification against the issuer's cached JWKS, scope rules per route and verb, and an
//! actix-web middleware that answers refusals exactly as the scopegate server does.
//!
//! Nothing here calls scopegate per request. The keys come from `{issuer}/oauth2/jwks`, fetched
//! at start, refreshed in the background, and refetched (rate limited) when a token names a key
//! the service has not seen yet; the scope rules are either declared in code or taken from the
//! same API definition the server matches with, through the same radix router in
//! `scopegate-core`, so the service and a scopegate gateway decide alike.
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, HttpServer, web};
//! use scopegate_core::Method;
//! use scopegate_edge::{Gate, JwksCache, JwksConfig, Principal, ScopeGate, ScopeRules};
//!
//! async fn add_order(principal: Principal) -> HttpResponse {
//!     HttpResponse::Created().json(serde_json::json!({ "created_by": principal.subject }))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = JwksCache::connect(JwksConfig::new("http://127.0.0.1:8080")).await?;
//! let rules = ScopeRules::new()
//!     .route(Method::Get, "/orders", ["order_view"])
//!     .route(Method::Post, "/orders", ["order_add"]);
//! let gate = Gate::new(keys, &rules)?;
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(ScopeGate::new(gate.clone()))
//!         .route("/orders", web::post().to(add_order))
//! })
//! .bind("127.0.0.1:8081")?
//! .run()
//! .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - `config`: [`JwksConfig`], the issuer, audience, JWKS URL and refresh intervals.
//! - `jwks`: [`JwksCache`], the current key set behind an `ArcSwap` and the one background
//!   task that fetches (timer, unknown-`kid` refetch with rate limit, retry with backoff).
//! - `fetch`: one JWKS fetch: bounded body, each key parsed on its own, unusable ones skipped.
//! - `rules`: [`ScopeRules`], route + verb → scopes, declared in code or from a policy's API,
//!   with [`Mount`] and [`UnknownRoute`].
//! - `routes`: [`RouteTable`], the compiled rules (core's radix router).
//! - `gate`: [`Gate`], the framework-independent decision: token, path, rule, scopes.
//! - `middleware`: [`ScopeGate`], the actix-web `Transform` around a [`Gate`].
//! - `principal`: [`Principal`], the verified caller, and its extractor.
//! - `rejection`: [`Rejection`] (401/403/400 as the server answers them) and the crate's only
//!   mapping to HTTP responses.
//! - `error`: [`EdgeError`], setup and key-fetch failures.

#![forbid(unsafe_code)]
#![deny(rust_2018_idioms, missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod config;
mod error;
mod fetch;
mod gate;
mod jwks;
mod middleware;
mod principal;
mod rejection;
mod routes;
mod rules;

pub use config::JwksConfig;
pub use error::EdgeError;
pub use gate::{Gate, bearer_token};
pub use jwks::JwksCache;
pub use middleware::{ScopeGate, ScopeGateService};
pub use principal::Principal;
pub use rejection::Rejection;
pub use routes::RouteTable;
pub use rules::{Mount, ScopeRules, UnknownRoute};
