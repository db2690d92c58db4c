//! `GET /.well-known/oauth-authorization-server`: RFC 8414 authorization server metadata.

use actix_web::{HttpResponse, web};
use scopegate_policy_store::PolicyReader;
use serde::Serialize;

use crate::startup::Issuer;

#[derive(Serialize)]
struct Metadata<'a> {
    issuer: &'a str,
    token_endpoint: String,
    jwks_uri: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint_auth_methods_supported: [&'static str; 2],
    revocation_endpoint_auth_methods_supported: [&'static str; 2],
    grant_types_supported: [&'static str; 3],
    token_endpoint_auth_methods_supported: [&'static str; 2],
    response_types_supported: [&'static str; 0],
    scopes_supported: Vec<String>,
}

const AUTH_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// The server's metadata document.
pub async fn metadata(issuer: web::Data<Issuer>, policy: web::Data<PolicyReader>) -> HttpResponse {
    let base = issuer.0.trim_end_matches('/');
    let policy = policy.current();
    HttpResponse::Ok().json(Metadata {
        issuer: &issuer.0,
        token_endpoint: format!("{base}/oauth2/token"),
        jwks_uri: format!("{base}/oauth2/jwks"),
        introspection_endpoint: format!("{base}/oauth2/introspect"),
        revocation_endpoint: format!("{base}/oauth2/revoke"),
        introspection_endpoint_auth_methods_supported: AUTH_METHODS,
        revocation_endpoint_auth_methods_supported: AUTH_METHODS,
        grant_types_supported: ["password", "client_credentials", "refresh_token"],
        token_endpoint_auth_methods_supported: AUTH_METHODS,
        response_types_supported: [],
        scopes_supported: policy.scopes().map(|s| s.key.clone()).collect(),
    })
}
