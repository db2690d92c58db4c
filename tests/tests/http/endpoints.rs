//! Metadata, health, and the answers for unknown paths and methods.

use scopegate_tests::spawn_app;
use serde_json::Value;

#[actix_web::test]
async fn rfc_8414_metadata_points_at_the_real_endpoints() {
    let app = spawn_app().await;
    let meta: Value = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["issuer"], app.url(""));
    assert_eq!(meta["token_endpoint"], app.url("/oauth2/token"));
    assert_eq!(meta["jwks_uri"], app.url("/oauth2/jwks"));
    let grants = meta["grant_types_supported"].as_array().expect("grants");
    for g in ["password", "client_credentials", "refresh_token"] {
        assert!(grants.iter().any(|x| x == g), "{g}");
    }
    assert!(
        meta["scopes_supported"]
            .as_array()
            .expect("scopes")
            .iter()
            .any(|s| s == "order_add")
    );
    // The JWKS the metadata names is served.
    let jwks: Value = app
        .client
        .get(meta["jwks_uri"].as_str().expect("uri"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    assert_eq!(jwks["keys"].as_array().expect("keys").len(), 1);
}

#[actix_web::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(resp.status(), 200);
    let ready: Value = app.get_json("/readyz").await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["policy_version"], 1);
}

#[actix_web::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/nope")).send().await.expect("404");
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "not_found");

    let resp = app
        .client
        .get(app.url("/oauth2/token"))
        .send()
        .await
        .expect("405");
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    let resp = app
        .client
        .post(app.url("/oauth2/jwks"))
        .send()
        .await
        .expect("405");
    assert_eq!(resp.status(), 405);
}

#[actix_web::test]
async fn oversized_request_heads_get_431() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-big", "a".repeat(20 * 1024))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 431);
    let body: Value = resp.json().await.expect("json");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("16384")
    );
    // Just under the limit is fine, and so is the node afterwards.
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-big", "a".repeat(8 * 1024))
        .send()
        .await
        .expect("ok");
    assert_eq!(resp.status(), 200);
}
