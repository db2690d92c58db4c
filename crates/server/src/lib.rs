//! The `scopegate` server: configuration, startup, HTTP routes and the CLI's subcommands.
//!
//! The actors live in their own crates (policy store, token issuer); this crate wires them to
//! actix-web and maps their errors to HTTP in exactly one place ([`errors`]).
//!
//! # Layout
//! - [`cli`]: the clap command line.
//! - [`settings`]: [`Settings`], layered defaults → file → `SCOPEGATE__…` environment.
//! - [`startup`]: [`Application`]: opens the store, loads keys, starts actors, binds HTTP.
//! - [`routes`]: one file per route group; handlers stay thin.
//! - [`errors`]: [`errors::ApiError`], the only `ResponseError`.
//! - [`keys`]: loading or generating the key that seeds the key ring.
//! - [`stores`]: embedded files or Redis for each actor, and the cluster listeners.
//! - [`limits`]: request framing, head size and body time limits, before any handler.
//! - [`connection`]: the socket as the HTTP/1 dispatcher sees it: JSON bodies for the codec's
//!   refusals, closing after a refused request, a time bound on every request head.
//! - [`telemetry`]: tracing setup and the request-log middleware.
//! - [`metrics`]: the Prometheus registry, the request-latency middleware and `/metrics`.
//! - [`commands`]: `hash-secret`, `keys generate`, `policy check`.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms, missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod cli;
pub mod commands;
pub mod connection;
pub mod errors;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod stores;
pub mod telemetry;

pub use settings::Settings;
pub use startup::Application;
