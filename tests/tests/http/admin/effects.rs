//! Admin changes take effect: on the scopes new tokens get, on `/authz/check`, on revocation.

use scopegate_tests::{TestApp, basic, form};
use serde_json::{Value, json};

use super::{Admin, problem, spawn_admin_app, user_token};

async fn check(app: &TestApp, token: &str, method: &str, uri: &str) -> reqwest::Response {
    app.client
        .get(app.url("/authz/check"))
        .header("x-original-method", method)
        .header("x-original-uri", uri)
        .bearer_auth(token)
        .send()
        .await
        .expect("check")
}

#[actix_web::test]
async fn giving_a_user_a_role_gives_the_scope_to_new_tokens() {
    // The WSO2 seed scenario: Rick (customer) may not add items until he is made a manager.
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    assert_eq!(
        app.granted("rick", "item_add order_view").await,
        "order_view"
    );
    let held_before = user_token(&app, "rick", "order_view").await;

    let resp = admin
        .put(
            "/users/rick/roles",
            json!({"roles": ["customer", "manager"]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.granted("rick", "item_add order_view").await,
        "item_add order_view"
    );
    // A token issued before keeps the scopes it was issued with until it expires.
    assert_eq!(
        check(&app, &held_before, "POST", "/shopping/1.0.0/items")
            .await
            .status(),
        403
    );

    // Binding a scope to a role works the same way: customers may now read news.
    let mut news = admin.get_ok("/scopes/news_read").await;
    news["roles"] = json!(["employee", "customer"]);
    assert_eq!(admin.put("/scopes/news_read", news).await.status(), 200);
    assert_eq!(app.granted("rick", "news_read").await, "news_read");

    admin
        .put("/users/rick/roles", json!({"roles": ["customer"]}))
        .await;
    assert_eq!(app.granted("rick", "item_add").await, "default");
}

#[actix_web::test]
async fn a_new_api_resource_bound_to_a_new_scope_is_enforced_by_the_check_endpoint() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let alex = user_token(&app, "alex", "item_view").await;
    let resp = check(&app, &alex, "GET", "/reports/v1/daily").await;
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "access_denied", "no API claims the path yet");

    let scope = json!({"name": "Read reports", "roles": ["manager"]});
    assert_eq!(admin.put("/scopes/report_view", scope).await.status(), 201);
    let api = json!({
        "context": "/reports",
        "version": "v1",
        "resources": [{"path": "/daily", "methods": {"GET": ["report_view"]}}],
    });
    assert_eq!(admin.put("/apis/ReportAPI", api).await.status(), 201);

    let alex_reports = user_token(&app, "alex", "report_view").await;
    let resp = check(&app, &alex_reports, "GET", "/reports/v1/daily").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-scopegate-scopes"], "report_view");
    let rick = user_token(&app, "rick", "report_view order_view").await;
    let resp = check(&app, &rick, "GET", "/reports/v1/daily").await;
    assert_eq!(resp.status(), 403);
    let www = resp.headers()["www-authenticate"].to_str().expect("ascii");
    assert!(www.contains("scope=\"report_view\""), "{www}");
    // POST has no binding: the resource denies it.
    assert_eq!(
        check(&app, &alex_reports, "POST", "/reports/v1/daily")
            .await
            .status(),
        403
    );
}

#[actix_web::test]
async fn an_admin_revokes_access_and_refresh_tokens() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let resp = app.password_token("harry", "order_add").await;
    let issued: Value = resp.json().await.expect("json");
    let access = issued["access_token"].as_str().expect("access");
    let refresh = issued["refresh_token"].as_str().expect("refresh");
    assert_eq!(
        check(&app, access, "POST", "/shopping/1.0.0/orders")
            .await
            .status(),
        200
    );

    let resp = admin
        .post("/revocations/tokens", json!({"token": access}))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "access_token");
    assert_eq!(body["subject"], "harry");
    assert_eq!(
        check(&app, access, "POST", "/shopping/1.0.0/orders")
            .await
            .status(),
        401
    );
    let again = problem(
        admin
            .post("/revocations/tokens", json!({"token": access}))
            .await,
        422,
    )
    .await;
    assert_eq!(super::fields(&again), ["token"]);

    let resp = admin
        .post("/revocations/tokens", json!({"token": refresh}))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["client_id"], "shopping-app");
    let form = form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]);
    let resp = app
        .token_raw(&form, Some(&basic("shopping-app", "shopping-secret")))
        .await;
    assert_eq!(resp.status(), 400, "the family is revoked");

    problem(
        admin
            .post("/revocations/tokens", json!({"token": "garbage"}))
            .await,
        422,
    )
    .await;
    let body = problem(admin.post("/revocations/tokens", json!({})).await, 400).await;
    assert_eq!(super::fields(&body), ["token"]);
}
