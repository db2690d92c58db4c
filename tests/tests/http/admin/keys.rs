//! Signing-key rotation on a single (embedded) node: `POST /api/v1/keys/rotate` announces a key
//! that is in the JWKS at once, signs only after `keys.rotation_announce_secs`, and the key it
//! replaces keeps verifying the tokens it signed.

use std::time::{Duration, Instant};

use reqwest::Method;
use scopegate_tests::jwt::verify_eddsa;
use scopegate_tests::{TestApp, spawn_app_with};
use serde_json::{Value, json};

use super::{ADMIN_ID, ADMIN_SECRET, Admin, admin_config, check, fields, problem, user_token};

/// Short, so the test sees the activation, yet long enough that a token asked for right after
/// the rotation is certainly issued before it.
const ANNOUNCE_SECS: u64 = 2;

async fn spawn() -> TestApp {
    spawn_app_with(&format!(
        "{}[keys]\nrotation_announce_secs = {ANNOUNCE_SECS}\n",
        admin_config()
    ))
    .await
}

/// The `kid` of `token`, after checking it verifies against the node's JWKS (independently).
async fn kid_of(app: &TestApp, token: &str) -> String {
    let jwks = app.get_json("/oauth2/jwks").await;
    let (header, _) = verify_eddsa(token, &jwks).expect("verifies against the JWKS");
    header["kid"].as_str().expect("kid").to_owned()
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let mut kids: Vec<String> = app.get_json("/oauth2/jwks").await["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect();
    kids.sort();
    kids
}

/// `(kid, status)` of every key `GET /api/v1/keys` lists, in its order.
async fn key_statuses(admin: &Admin<'_>) -> Vec<(String, String)> {
    admin.get_ok("/keys").await["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().expect("kid").to_owned(),
                k["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

fn sorted(mut kids: Vec<String>) -> Vec<String> {
    kids.sort();
    kids
}

#[actix_web::test]
async fn a_rotated_key_is_announced_then_signs_while_the_old_key_keeps_verifying() {
    let app = spawn().await;
    let admin = Admin::bootstrap(&app).await;
    let old_token = user_token(&app, "harry", "order_add").await;
    let old_kid = kid_of(&app, &old_token).await;
    assert_eq!(
        key_statuses(&admin).await,
        [(old_kid.clone(), "active".to_owned())]
    );

    let resp = admin
        .request(Method::POST, "/keys/rotate")
        .send()
        .await
        .expect("rotate");
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let rotated: Value = resp.json().await.expect("json");
    let new_kid = rotated["kid"].as_str().expect("kid").to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(rotated["alg"], "EdDSA", "keys.algorithm by default");
    assert_eq!(rotated["status"], "pending");
    let created_at = rotated["created_at"].as_u64().expect("created_at");
    let activate_at = rotated["activate_at"].as_u64().expect("activate_at");
    assert_eq!(activate_at, created_at + ANNOUNCE_SECS);

    // Announced: in the JWKS at once, but nothing is signed with it yet.
    assert_eq!(
        jwks_kids(&app).await,
        sorted(vec![old_kid.clone(), new_kid.clone()])
    );
    let during = user_token(&app, "harry", "order_add").await;
    assert_eq!(kid_of(&app, &during).await, old_kid);
    assert_eq!(
        key_statuses(&admin).await,
        [
            (old_kid.clone(), "active".to_owned()),
            (new_kid.clone(), "pending".to_owned())
        ]
    );

    // At activate_at the node switches on its own timer.
    let started = Instant::now();
    loop {
        let (token, _) =
            super::client_token(&app, ADMIN_ID, ADMIN_SECRET, "internal_scope_view").await;
        if kid_of(&app, &token).await == new_kid {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(ANNOUNCE_SECS + 10),
            "new tokens are still signed with the old key"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let after = user_token(&app, "harry", "order_add").await;
    assert_eq!(kid_of(&app, &after).await, new_kid);
    // Tokens of both keys pass; the old key verifies until no token it signed can be valid.
    for token in [&old_token, &during, &after] {
        assert_eq!(
            check(&app, token, "POST", "/shopping/1.0.0/orders")
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        jwks_kids(&app).await,
        sorted(vec![old_kid.clone(), new_kid.clone()])
    );
    let listed = admin.get_ok("/keys").await;
    assert_eq!(
        key_statuses(&admin).await,
        [
            (new_kid.clone(), "active".to_owned()),
            (old_kid.clone(), "retiring".to_owned())
        ]
    );
    // Access tokens live 3600 s, the leeway is 30 s (the defaults).
    assert_eq!(listed["keys"][1]["retire_at"], activate_at + 3600 + 30);
    assert!(listed["keys"][0].get("retire_at").is_none(), "{listed}");
}

#[actix_web::test]
async fn rotation_needs_the_key_manage_scope_and_a_supported_algorithm() {
    let app = spawn().await;
    let viewer = Admin::with_scope(&app, "internal_scope_view").await;
    assert_eq!(
        viewer.get_ok("/keys").await["keys"]
            .as_array()
            .expect("keys")
            .len(),
        1
    );
    let body = problem(viewer.post("/keys/rotate", json!({})).await, 403).await;
    assert_eq!(body["required_scopes"], json!(["internal_key_manage"]));
    let alex = Admin {
        app: &app,
        token: user_token(&app, "alex", "item_view").await,
    };
    problem(alex.post("/keys/rotate", json!({})).await, 403).await;

    let admin = Admin::with_scope(&app, "internal_key_manage").await;
    let body = problem(
        admin.post("/keys/rotate", json!({"alg": "HS256"})).await,
        400,
    )
    .await;
    assert_eq!(fields(&body), ["alg"]);
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("alg")),
        "{body}"
    );
    assert_eq!(key_statuses(&viewer).await.len(), 1, "nothing was rotated");

    let resp = admin.post("/keys/rotate", json!({"alg": "ES256"})).await;
    assert_eq!(resp.status(), 201);
    let rotated: Value = resp.json().await.expect("json");
    assert_eq!(rotated["alg"], "ES256");
    assert_eq!(rotated["status"], "pending");
    let jwk = app.get_json("/oauth2/jwks").await["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == rotated["kid"])
        .cloned()
        .expect("the ES256 key is in the JWKS");
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
}
