//! The quickstart's ShoppingCartAPI as a microservice that validates scopegate tokens itself
//! with `scopegate-edge`: the scope rules come from the same policy file the scopegate server
//! loads, the keys from the server's JWKS.
//!
//! # Layout
//! - [`cli`]: flags (and `SHOPPING_*` environment variables).
//! - [`handlers`]: `GET`/`POST` `/orders` and `/items`.
//! - [`build`]: the protected actix-web server on a bound listener (used by `main` and tests).
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms, missing_docs)]

pub mod cli;
pub mod handlers;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use scopegate_edge::{Gate, JwksCache, ScopeGate, ScopeRules};

/// Loads the rules, fetches the issuer's JWKS and returns the server, not yet running, on
/// `listener`. Must run inside an actix System.
pub async fn build(cli: &cli::Cli, listener: TcpListener) -> anyhow::Result<Server> {
    let rules = ScopeRules::from_policy_file(&cli.policy, &cli.api)?;
    let keys = JwksCache::connect(cli.jwks_config()).await?;
    let gate = Gate::new(keys, &rules)?;
    let shop = web::Data::new(handlers::Shop::default());
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(shop.clone())
            .wrap(ScopeGate::new(gate.clone()))
            .configure(handlers::routes)
    })
    .workers(1)
    .listen(listener)?
    .run())
}
