//! The recipes of docs/admin-api.md, in order, as HTTP requests: what the curl commands send.

use reqwest::Method;
use serde_json::{Value, json};

use super::{ADMIN_ID, ADMIN_SECRET, Admin, client_token, etag, spawn_admin_app};

#[actix_web::test]
async fn the_documented_recipes_work_end_to_end() {
    let app = spawn_admin_app().await;

    // 1. An admin token: client_credentials with the internal scopes needed.
    let (token, granted) = client_token(
        &app,
        ADMIN_ID,
        ADMIN_SECRET,
        "internal_scope_view internal_scope_manage internal_user_manage internal_api_manage \
         internal_policy_manage internal_token_revoke",
    )
    .await;
    assert_eq!(granted.split(' ').count(), 6);
    let admin = Admin { app: &app, token };

    // 2. Add a scope, conditional on the version just read.
    let v = etag(&admin.get("/scopes").await);
    let resp = admin
        .request(Method::PUT, "/scopes/report_view")
        .header("if-match", format!("\"{v}\""))
        .json(&json!({"name": "Read reports", "description": "Daily sales reports", "roles": []}))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 201);

    // 3. Bind it to a role (GET, edit, PUT).
    let mut scope = admin.get_ok("/scopes/report_view").await;
    scope["roles"] = json!(["manager"]);
    assert_eq!(admin.put("/scopes/report_view", scope).await.status(), 200);

    // 4. Add a user with that role, and see them get the scope.
    let user = json!({"password": "s3cret-pass", "roles": ["manager"]});
    assert_eq!(admin.put("/users/dora", user).await.status(), 201);
    let body = scopegate_tests::form(&[
        ("grant_type", "password"),
        ("username", "dora"),
        ("password", "s3cret-pass"),
        ("scope", "report_view"),
    ]);
    let resp = app
        .token_raw(
            &body,
            Some(&scopegate_tests::basic("shopping-app", "shopping-secret")),
        )
        .await;
    let issued: Value = resp.json().await.expect("json");
    assert_eq!(issued["scope"], "report_view");

    // 5. Give an existing user a role.
    let resp = admin
        .put(
            "/users/rick/roles",
            json!({"roles": ["customer", "manager"]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.granted("rick", "report_view").await, "report_view");

    // 6. Register an API resource that needs the scope.
    let api = json!({"context": "/reports", "version": "v1",
                     "resources": [{"path": "/daily", "methods": {"GET": ["report_view"]}}]});
    assert_eq!(admin.put("/apis/ReportAPI", api).await.status(), 201);

    // 7. Revoke dora's token.
    let access = issued["access_token"].as_str().expect("token");
    let resp = admin
        .post("/revocations/tokens", json!({"token": access}))
        .await;
    assert_eq!(resp.status(), 200);

    // 8. Export, then import the export back.
    let exported = admin
        .get("/policy?format=toml")
        .await
        .text()
        .await
        .expect("toml");
    let resp = admin
        .request(Method::PUT, "/policy")
        .header("content-type", "application/toml")
        .body(exported)
        .send()
        .await
        .expect("import");
    assert_eq!(resp.status(), 200);
    let summary: Value = resp.json().await.expect("json");
    assert!(summary["version"].as_u64().expect("version") > v);
}
