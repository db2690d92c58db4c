//! Every admin resource created, read, replaced and deleted over HTTP; secrets never returned.

use serde_json::{Value, json};

use super::{Admin, client_token, etag, fields, problem, spawn_admin_app};

#[actix_web::test]
async fn scopes_are_created_read_replaced_and_deleted() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let body = json!({"name": "Reports", "description": "Daily reports", "roles": ["manager"]});
    let resp = admin.put("/scopes/report_view", body).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["location"], "/api/v1/scopes/report_view");
    let created = etag(&resp);
    let json: Value = resp.json().await.expect("json");
    assert_eq!(json["key"], "report_view");

    let resp = admin.get("/scopes/report_view").await;
    assert_eq!(etag(&resp), created);
    let json: Value = resp.json().await.expect("json");
    assert_eq!(json["roles"], json!(["manager"]));
    let list = admin.get_ok("/scopes").await;
    assert!(
        list.as_array()
            .expect("array")
            .iter()
            .any(|s| s["key"] == "report_view")
    );

    let body = json!({"key": "report_view", "name": "Reports", "roles": ["manager", "agent"]});
    let resp = admin.put("/scopes/report_view", body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(etag(&resp), created + 1);
    let json = admin.get_ok("/scopes/report_view").await;
    assert_eq!(json["roles"], json!(["manager", "agent"]));
    assert_eq!(json["description"], "", "PUT replaces the whole scope");

    let resp = admin.delete("/scopes/report_view").await;
    assert_eq!(resp.status(), 204);
    assert_eq!(etag(&resp), created + 2);
    problem(admin.get("/scopes/report_view").await, 404).await;
    problem(admin.delete("/scopes/report_view").await, 404).await;
    // A scope an API requires cannot go.
    let body = problem(admin.delete("/scopes/order_add").await, 409).await;
    assert!(
        fields(&body)[0].starts_with("apis[") && fields(&body)[0].contains("ShoppingCartAPI"),
        "{body}"
    );
}

#[actix_web::test]
async fn roles_are_managed_and_a_role_in_use_cannot_be_deleted() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let body = json!({"permissions": ["/permission/admin/manage/reports"], "description": "x"});
    assert_eq!(admin.put("/roles/auditor", body).await.status(), 201);
    let role = admin.get_ok("/roles/auditor").await;
    assert_eq!(
        role,
        json!({"name": "auditor", "permissions": ["/permission/admin/manage/reports"], "description": "x"})
    );
    let names: Vec<Value> = admin
        .get_ok("/roles")
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert!(names.contains(&json!("auditor")) && names.contains(&json!("manager")));

    let body = problem(admin.delete("/roles/manager").await, 409).await;
    let refs = fields(&body);
    assert!(
        refs.iter()
            .any(|f| f.starts_with("scopes[") && f.contains("\"item_add\"")),
        "{refs:?}"
    );
    assert!(
        refs.iter()
            .any(|f| f.starts_with("users[") && f.contains("\"alex\"")),
        "{refs:?}"
    );
    assert!(
        body["detail"]
            .as_str()
            .expect("detail")
            .contains("still in use")
    );

    assert_eq!(admin.delete("/roles/auditor").await.status(), 204);
    problem(admin.get("/roles/auditor").await, 404).await;
    // A bad permission path is named relative to the body.
    let body = problem(
        admin
            .put("/roles/x", json!({"permissions": ["no-slash"]}))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&body), ["permissions[0]"]);
}

#[actix_web::test]
async fn users_get_hashed_passwords_that_are_never_returned() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let resp = admin
        .put(
            "/users/dora",
            json!({"password": "dora-pass", "roles": ["employee"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let json: Value = resp.json().await.expect("json");
    assert_eq!(
        json,
        json!({"username": "dora", "roles": ["employee"], "enabled": true})
    );
    let login = |password: &'static str| {
        let app = &app;
        async move {
            let body = scopegate_tests::form(&[
                ("grant_type", "password"),
                ("username", "dora"),
                ("password", password),
                ("scope", "news_read"),
            ]);
            app.token_raw(
                &body,
                Some(&scopegate_tests::basic("shopping-app", "shopping-secret")),
            )
            .await
            .status()
        }
    };
    assert_eq!(login("dora-pass").await, 200);
    // A replace without a password keeps it; roles change.
    let resp = admin
        .put("/users/dora", json!({"roles": ["employee", "manager"]}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(login("dora-pass").await, 200);
    let roles = admin.get_ok("/users/dora/roles").await;
    assert_eq!(roles, json!({"roles": ["employee", "manager"]}));
    // Disabled: no tokens.
    assert_eq!(
        admin
            .put("/users/dora", json!({"enabled": false}))
            .await
            .status(),
        200
    );
    assert_eq!(login("dora-pass").await, 400);

    let body = problem(admin.put("/users/erin", json!({"roles": []})).await, 422).await;
    assert_eq!(fields(&body), ["password"]);
    let body = problem(
        admin
            .put(
                "/users/erin",
                json!({"password": "a", "password_hash": "$argon2id$x"}),
            )
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&body), ["password_hash"]);
    let body = problem(
        admin
            .put("/users/erin", json!({"password_hash": "plain-text"}))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&body), ["password_hash"]);
    let body = problem(
        admin
            .put("/users/erin", json!({"username": "frank", "password": "p"}))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&body), ["username"]);

    for path in [
        "/users",
        "/users/dora",
        "/users/alex",
        "/clients",
        "/clients/shopping-app",
    ] {
        let text = admin.get(path).await.text().await.expect("text");
        assert!(
            !text.contains("argon2") && !text.contains("hash"),
            "{path}: {text}"
        );
    }
    assert_eq!(admin.delete("/users/dora").await.status(), 204);
    assert_eq!(login("dora-pass").await, 400);
    problem(admin.get("/users/dora/roles").await, 404).await;
    problem(
        admin.put("/users/dora/roles", json!({"roles": []})).await,
        404,
    )
    .await;
}

#[actix_web::test]
async fn clients_get_hashed_secrets_and_their_own_roles() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let body = json!({
        "secret": "billing-secret",
        "grant_types": ["client_credentials"],
        "roles": ["agent"],
    });
    let resp = admin.put("/clients/billing", body).await;
    assert_eq!(resp.status(), 201);
    let json: Value = resp.json().await.expect("json");
    assert_eq!(
        json,
        json!({"client_id": "billing", "grant_types": ["client_credentials"], "roles": ["agent"], "enabled": true})
    );
    let (_, granted) = client_token(&app, "billing", "billing-secret", "order_add item_add").await;
    assert_eq!(granted, "order_add");

    let body = problem(
        admin
            .put(
                "/clients/billing2",
                json!({"secret": "s", "grant_types": []}),
            )
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&body), ["grant_types"]);
    let body = problem(
        admin
            .put(
                "/clients/billing2",
                json!({"secret": "s", "grant_types": ["implicit"]}),
            )
            .await,
        400,
    )
    .await;
    assert_eq!(fields(&body), ["grant_types[0]"]);

    assert_eq!(admin.delete("/clients/billing").await.status(), 204);
    let form = scopegate_tests::form(&[("grant_type", "client_credentials")]);
    let resp = app
        .token_raw(
            &form,
            Some(&scopegate_tests::basic("billing", "billing-secret")),
        )
        .await;
    assert_eq!(resp.status(), 401, "a deleted client cannot authenticate");
}

#[actix_web::test]
async fn apis_and_the_allowlist_are_managed() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let api = admin.get_ok("/apis/ShoppingCartAPI").await;
    assert_eq!(api["context"], "/shopping");
    assert_eq!(api["resources"][0]["methods"]["GET"], json!(["order_view"]));
    let body = json!({
        "context": "/reports",
        "version": "v1",
        "resources": [{"path": "/daily", "methods": {"GET": ["news_read"]}}],
    });
    assert_eq!(admin.put("/apis/ReportAPI", body).await.status(), 201);
    let names: Vec<Value> = admin
        .get_ok("/apis")
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert!(names.contains(&json!("ReportAPI")));
    let body = json!({"context": "/reports", "resources": [{"path": "/x", "scopes": ["nope"]}]});
    let body = problem(admin.put("/apis/ReportAPI", body).await, 422).await;
    assert_eq!(fields(&body), ["resources[0] \"/x\".scopes[0]"]);
    assert_eq!(admin.delete("/apis/ReportAPI").await.status(), 204);
    problem(admin.get("/apis/ReportAPI").await, 404).await;

    let list = admin.get_ok("/allowlist").await;
    assert_eq!(
        list["patterns"],
        json!(["^device_.*", "openid", "some_random_scope"])
    );
    let resp = admin
        .put("/allowlist", json!({"patterns": ["^tenant_.*"]}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.granted("rick", "tenant_7").await, "tenant_7");
    assert_eq!(app.granted("rick", "device_7").await, "default");
    let body = problem(
        admin
            .put("/allowlist", json!({"patterns": ["ok", "(unclosed"]}))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&body), ["patterns[1]"]);
}
