//! Admin changes take effect: on the scopes new tokens get, on `/authz/check`, on revocation.

use scopegate_tests::{basic, form};
use serde_json::{Value, json};

use super::{Admin, check, problem, spawn_admin_app, user_token};

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

#[actix_web::test]
async fn an_admin_revokes_everything_issued_to_a_subject() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let shop = basic("shopping-app", "shopping-secret");
    let issued: Value = app
        .password_token("harry", "order_add")
        .await
        .json()
        .await
        .expect("json");
    let access = issued["access_token"].as_str().expect("access");
    let refresh = issued["refresh_token"].as_str().expect("refresh");
    let alex = user_token(&app, "alex", "item_view").await;
    assert_eq!(
        check(&app, access, "POST", "/shopping/1.0.0/orders")
            .await
            .status(),
        200
    );

    let resp = admin
        .post("/revocations/subjects", json!({"subject": "harry"}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["subject"], "harry");
    assert_eq!(body["refresh_families_revoked"], 1);
    let revoked_before = body["revoked_before"].as_u64().expect("revoked_before");

    let resp = check(&app, access, "POST", "/shopping/1.0.0/orders").await;
    assert_eq!(resp.status(), 401);
    let www = resp.headers()["www-authenticate"].to_str().expect("ascii");
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    let refreshed = app
        .token_raw(
            &form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]),
            Some(&shop),
        )
        .await;
    assert_eq!(refreshed.status(), 400);
    let body: Value = refreshed.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
    // Other subjects are untouched.
    assert_eq!(
        check(&app, &alex, "GET", "/shopping/1.0.0/items")
            .await
            .status(),
        200
    );

    // `iat` has one-second resolution: a token issued in a later second is valid again.
    let started = std::time::Instant::now();
    let fresh = loop {
        let issued: Value = app
            .password_token("harry", "order_add")
            .await
            .json()
            .await
            .expect("json");
        let token = issued["access_token"].as_str().expect("access").to_owned();
        let jwks = app.get_json("/oauth2/jwks").await;
        let (_, claims) = scopegate_tests::jwt::verify_eddsa(&token, &jwks).expect("verifies");
        if claims["iat"].as_u64().expect("iat") > revoked_before {
            break issued;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "no token issued after the revocation second"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let access = fresh["access_token"].as_str().expect("access");
    assert_eq!(
        check(&app, access, "POST", "/shopping/1.0.0/orders")
            .await
            .status(),
        200
    );
    let refresh = fresh["refresh_token"].as_str().expect("refresh");
    let refreshed = app
        .token_raw(
            &form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]),
            Some(&shop),
        )
        .await;
    assert_eq!(refreshed.status(), 200, "a new family is not revoked");

    for empty in ["", "  "] {
        let body = problem(
            admin
                .post("/revocations/subjects", json!({"subject": empty}))
                .await,
            422,
        )
        .await;
        assert_eq!(super::fields(&body), ["subject"]);
    }
    let body = problem(admin.post("/revocations/subjects", json!({})).await, 400).await;
    assert_eq!(super::fields(&body), ["subject"]);
}
