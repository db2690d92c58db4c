//! HTTP tests against a real scopegate node listening on a free port. One binary, many modules.

mod admin;
mod at_rest;
mod authz;
mod edge;
mod endpoints;
mod errors;
mod hostile;
mod hygiene;
mod jwks;
mod metrics;
mod proxies;
mod refresh;
mod seeds;
mod trust;
