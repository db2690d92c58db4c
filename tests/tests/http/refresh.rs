//! Refresh tokens: rotation on every use, reuse detection revoking the family.

use scopegate_tests::{TestApp, basic, form, spawn_app};
use serde_json::Value;

async fn refresh(
    app: &TestApp,
    token: &str,
    scope: Option<&str>,
    client: (&str, &str),
) -> reqwest::Response {
    let mut pairs = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(s) = scope {
        pairs.push(("scope", s));
    }
    app.token_raw(&form(&pairs), Some(&basic(client.0, client.1)))
        .await
}

const SHOP: (&str, &str) = ("shopping-app", "shopping-secret");

async fn first_refresh_token(app: &TestApp, user: &str, scope: &str) -> String {
    let resp = app.password_token(user, scope).await;
    assert_eq!(resp.status(), 200);
    let json: Value = resp.json().await.expect("json");
    json["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned()
}

#[actix_web::test]
async fn each_use_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let r1 = first_refresh_token(&app, "harry", "item_view order_add").await;

    let resp = refresh(&app, &r1, None, SHOP).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let json: Value = resp.json().await.expect("json");
    assert_eq!(json["scope"], "item_view order_add");
    let r2 = json["refresh_token"].as_str().expect("rotated").to_owned();
    assert_ne!(r1, r2, "a refresh rotates the token");

    // Narrowing is allowed, widening is not.
    let resp = refresh(&app, &r2, Some("order_add"), SHOP).await;
    assert_eq!(resp.status(), 200);
    let json: Value = resp.json().await.expect("json");
    assert_eq!(json["scope"], "order_add");
    let r3 = json["refresh_token"].as_str().expect("rotated").to_owned();

    // Replaying r1 (already rotated) is theft: invalid_grant, and the whole family dies.
    let resp = refresh(&app, &r1, None, SHOP).await;
    assert_eq!(resp.status(), 400);
    let json: Value = resp.json().await.expect("json");
    assert_eq!(json["error"], "invalid_grant");
    let resp = refresh(&app, &r3, None, SHOP).await;
    assert_eq!(
        resp.status(),
        400,
        "the newest token of a revoked family is dead too"
    );

    // Another family of the same user is unaffected.
    let other = first_refresh_token(&app, "harry", "item_view").await;
    assert_eq!(refresh(&app, &other, None, SHOP).await.status(), 200);
}

#[actix_web::test]
async fn widening_on_refresh_is_invalid_scope() {
    let app = spawn_app().await;
    let r1 = first_refresh_token(&app, "harry", "item_view").await;
    let resp = refresh(&app, &r1, Some("item_view item_add"), SHOP).await;
    assert_eq!(resp.status(), 400);
    let json: Value = resp.json().await.expect("json");
    assert_eq!(json["error"], "invalid_scope");
}
