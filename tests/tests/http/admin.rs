//! The admin REST API (`/api/v1/`) over HTTP, against a node with a bootstrap administrator.
//!
//! - `auth`: the bootstrap admin, 401/403, startup refusing an incomplete `[admin]`.
//! - `crud`: every resource created, read, replaced and deleted; secrets never returned.
//! - `effects`: admin changes reach token issuance and `/authz/check` (the WSO2 seed scenario),
//!   token and subject revocation.
//! - `policy`: ETag/If-Match, problem+json for bad bodies, export/import.
//! - `openapi`: the document lists exactly the served routes.
//! - `recipes`: the curl recipes of docs/admin-api.md, step by step.
//! - `keys`: signing-key rotation: announced, then signing, the old key still verifying.
//! - `status`: `/api/v1/cluster/status` and `/readyz` of an embedded node.

mod auth;
mod crud;
mod effects;
mod keys;
mod openapi;
mod policy;
mod recipes;
mod schemathesis;
mod status;

use reqwest::{Method, RequestBuilder, Response};
use scopegate_tests::{TestApp, basic, form, spawn_app_with};
use serde_json::Value;

/// The bootstrap client of these tests.
pub const ADMIN_ID: &str = "admin-cli";
/// Its secret.
pub const ADMIN_SECRET: &str = "admin-secret";
/// `printf admin-secret | scopegate hash-secret`.
pub const ADMIN_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$zxjJxnHjRcUwdYfcrh4xGQ$c8CcC/x8Gmwbw7Frn3dFGvfmQ3fp1kDZFxEYDbc8w9M";

/// The `[admin]` section that configures the bootstrap client.
pub fn admin_config() -> String {
    format!(
        "[admin]\nbootstrap_client_id = \"{ADMIN_ID}\"\nbootstrap_client_secret_hash = \"{ADMIN_HASH}\"\n"
    )
}

/// A quickstart node with the bootstrap administrator.
pub async fn spawn_admin_app() -> TestApp {
    spawn_app_with(&admin_config()).await
}

/// A `client_credentials` token for `id`/`secret` asking `scope`; panics unless issued.
pub async fn client_token(app: &TestApp, id: &str, secret: &str, scope: &str) -> (String, String) {
    let body = form(&[("grant_type", "client_credentials"), ("scope", scope)]);
    let resp = app.token_raw(&body, Some(&basic(id, secret))).await;
    assert_eq!(resp.status(), 200, "token for {id}");
    let json: Value = resp.json().await.expect("json");
    (
        json["access_token"].as_str().expect("token").to_owned(),
        json["scope"].as_str().expect("scope").to_owned(),
    )
}

/// A password-grant access token of a quickstart user (password `user123`).
pub async fn user_token(app: &TestApp, user: &str, scope: &str) -> String {
    let resp = app.password_token(user, scope).await;
    assert_eq!(resp.status(), 200);
    let json: Value = resp.json().await.expect("json");
    json["access_token"].as_str().expect("token").to_owned()
}

/// `GET /authz/check` for `method uri` with `token`, as nginx's `auth_request` sends it.
pub async fn check(app: &TestApp, token: &str, method: &str, uri: &str) -> Response {
    app.client
        .get(app.url("/authz/check"))
        .header("x-original-method", method)
        .header("x-original-uri", uri)
        .bearer_auth(token)
        .send()
        .await
        .expect("check")
}

/// An admin API caller with a token.
pub struct Admin<'a> {
    /// The node.
    pub app: &'a TestApp,
    /// The bearer token sent.
    pub token: String,
}

impl<'a> Admin<'a> {
    /// The bootstrap administrator, with every internal scope.
    pub async fn bootstrap(app: &'a TestApp) -> Self {
        let (token, _) = client_token(app, ADMIN_ID, ADMIN_SECRET, "SYSTEM").await;
        Self { app, token }
    }

    /// The bootstrap client, with only `scope`.
    pub async fn with_scope(app: &'a TestApp, scope: &str) -> Self {
        let (token, granted) = client_token(app, ADMIN_ID, ADMIN_SECRET, scope).await;
        assert_eq!(granted, scope);
        Self { app, token }
    }

    /// A request to `/api/v1{path}` with the bearer token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app
            .client
            .request(method, self.app.url(&format!("/api/v1{path}")))
            .bearer_auth(&self.token)
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("GET")
    }

    /// PUT a JSON body.
    pub async fn put(&self, path: &str, body: Value) -> Response {
        self.request(Method::PUT, path)
            .json(&body)
            .send()
            .await
            .expect("PUT")
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path)
            .send()
            .await
            .expect("DELETE")
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    /// GET and parse a 200 JSON answer.
    pub async fn get_ok(&self, path: &str) -> Value {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.expect("json")
    }
}

/// Asserts `resp` is an `application/problem+json` answer with `status`, and returns its body.
pub async fn problem(resp: Response, status: u16) -> Value {
    assert_eq!(resp.status(), status, "status");
    assert_eq!(
        resp.headers()["content-type"],
        "application/problem+json",
        "content type"
    );
    let body: Value = resp.json().await.expect("problem json");
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:scopegate:problem:")),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The fields a problem names, in order.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().expect("field").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The `ETag` of an answer, as a version number.
pub fn etag(resp: &Response) -> u64 {
    let tag = resp.headers()["etag"].to_str().expect("ascii");
    tag.trim_matches('"').parse().expect("quoted version")
}
