//! scopegate-edge over real sockets: a real JWKS issuer, tokens minted with scopegate-jwt (and
//! forged by hand), and the shopping routes behind the middleware. One test binary.

mod helpers;
mod invariant;
mod jwks;
mod matrix;
mod middleware;
