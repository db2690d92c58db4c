//! The WSO2 seed scenarios, end to end over HTTP.

use scopegate_tests::{basic, form, spawn_app, spawn_app_with};
use serde_json::Value;

#[actix_web::test]
async fn every_seed_user_gets_exactly_the_scopes_their_roles_permit() {
    let app = spawn_app().await;
    // Alex (manager, employee): one token, three scopes.
    assert_eq!(
        app.granted("alex", "item_view item_add order_view").await,
        "item_view item_add order_view"
    );
    // Paul (agent): orders in, items viewed, never item_add.
    assert_eq!(
        app.granted("paul", "order_add order_view item_add").await,
        "order_add order_view"
    );
    // Rick (customer): only order_view.
    assert_eq!(
        app.granted("rick", "order_view item_view").await,
        "order_view"
    );
    // Harry (manager + agent): one token per scope if he likes.
    for scope in ["item_view", "item_add", "order_view", "order_add"] {
        assert_eq!(app.granted("harry", scope).await, scope);
    }
    // Chris (employee) asks for both news scopes and is narrowed; Alex gets both.
    assert_eq!(
        app.granted("chris", "news_read news_write").await,
        "news_read"
    );
    assert_eq!(
        app.granted("alex", "news_read news_write").await,
        "news_read news_write"
    );
    // Bob holds /permission/admin/manage/identity, which covers the scope's permission.
    assert_eq!(
        app.granted("bob", "internal_identity_mgt_view").await,
        "internal_identity_mgt_view"
    );
}

#[actix_web::test]
async fn system_allowlist_and_default() {
    let app = spawn_app().await;
    let mut harry: Vec<String> = app
        .granted("harry", "SYSTEM")
        .await
        .split(' ')
        .map(str::to_owned)
        .collect();
    harry.sort();
    assert_eq!(
        harry,
        [
            "item_add",
            "item_view",
            "news_write",
            "order_add",
            "order_view"
        ]
    );
    assert_eq!(
        app.granted("rick", "some_random_scope").await,
        "some_random_scope"
    );
    assert_eq!(
        app.granted("rick", "device_7 openid").await,
        "device_7 openid"
    );
    // Nothing grantable: the single scope `default`.
    assert_eq!(app.granted("rick", "item_add").await, "default");
}

#[actix_web::test]
async fn nothing_granted_is_invalid_scope_when_configured() {
    let app = spawn_app_with("[tokens]\nempty_grant = \"invalid_scope\"").await;
    let resp = app.password_token("rick", "item_add").await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_scope");
    assert_eq!(
        app.granted("rick", "order_view item_add").await,
        "order_view"
    );
}

#[actix_web::test]
async fn client_credentials_uses_the_clients_own_roles() {
    let app = spawn_app().await;
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("scope", "order_add item_add"),
    ]);
    let resp = app
        .token_raw(&body, Some(&basic("inventory-service", "inventory-secret")))
        .await;
    assert_eq!(resp.status(), 200);
    let json: Value = resp.json().await.expect("json");
    assert_eq!(json["scope"], "order_add");
    assert!(
        json.get("refresh_token").is_none(),
        "no refresh token for client_credentials"
    );
    // Credentials in the form body work too (client_secret_post), and the cached verification
    // answers the same.
    for _ in 0..3 {
        let body = form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "inventory-service"),
            ("client_secret", "inventory-secret"),
            ("scope", "order_view"),
        ]);
        let resp = app.token_raw(&body, None).await;
        assert_eq!(resp.status(), 200);
        let json: Value = resp.json().await.expect("json");
        assert_eq!(json["scope"], "order_view");
    }
}

#[actix_web::test]
async fn a_successful_response_has_every_field_and_no_store() {
    let app = spawn_app().await;
    let resp = app.password_token("alex", "item_view").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    let json: Value = resp.json().await.expect("json");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 3600);
    assert_eq!(json["scope"], "item_view");
    assert!(
        json["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    assert!(
        json["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 43)
    );
}
