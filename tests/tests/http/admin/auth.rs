//! Who may call the admin API: the bootstrap administrator, 401 and 403.

use std::collections::HashMap;

use reqwest::Method;
use scopegate_server::routes::admin::INTERNAL_SCOPES;
use scopegate_server::{Application, Settings};
use scopegate_tests::quickstart_policy;
use serde_json::json;

use super::{ADMIN_ID, Admin, fields, problem, spawn_admin_app, user_token};

#[actix_web::test]
async fn the_bootstrap_admin_obtains_every_internal_scope_through_its_role() {
    let app = spawn_admin_app().await;
    let (_, granted) = super::client_token(&app, ADMIN_ID, super::ADMIN_SECRET, "SYSTEM").await;
    let mut granted: Vec<&str> = granted.split(' ').collect();
    granted.sort();
    let mut internal: Vec<&str> = INTERNAL_SCOPES.iter().map(|s| s.key).collect();
    internal.sort();
    assert_eq!(granted, internal);

    let admin = Admin::bootstrap(&app).await;
    let client = admin.get_ok(&format!("/clients/{ADMIN_ID}")).await;
    assert_eq!(client["roles"], json!(["scopegate-admin"]));
    assert_eq!(client["grant_types"], json!(["client_credentials"]));
    let scope = admin.get_ok("/scopes/internal_user_manage").await;
    assert_eq!(scope["roles"], json!(["scopegate-admin"]));
    // The quickstart users got nothing new: no internal scope for alex.
    let resp = app.password_token("alex", "internal_scope_view").await;
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["scope"], "default");
}

#[actix_web::test]
async fn a_missing_or_invalid_token_is_401_with_a_bearer_challenge() {
    let app = spawn_admin_app().await;
    let url = app.url("/api/v1/scopes");
    let resp = app.client.get(&url).send().await.expect("get");
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"scopegate\""
    );
    let body = problem(resp, 401).await;
    assert_eq!(fields(&body), ["Authorization"]);

    let admin = Admin::bootstrap(&app).await;
    let mut tampered = admin.token.clone();
    tampered.pop();
    tampered.push(if admin.token.ends_with('A') { 'B' } else { 'A' });
    for bad in ["garbage", "a.b.c", tampered.as_str()] {
        let resp = app
            .client
            .get(&url)
            .bearer_auth(bad)
            .send()
            .await
            .expect("get");
        let www = resp.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(www.contains("error=\"invalid_token\""), "{www}");
        problem(resp, 401).await;
    }
    let resp = app
        .client
        .get(&url)
        .basic_auth(ADMIN_ID, Some(super::ADMIN_SECRET))
        .send()
        .await
        .expect("get");
    problem(resp, 401).await;
}

#[actix_web::test]
async fn a_token_without_the_internal_scope_is_403_naming_it() {
    let app = spawn_admin_app().await;
    // A valid token of this scopegate, but for the shop.
    let alex = user_token(&app, "alex", "item_view").await;
    let resp = app
        .client
        .get(app.url("/api/v1/roles"))
        .bearer_auth(&alex)
        .send()
        .await
        .expect("get");
    let www = resp.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        www.contains("error=\"insufficient_scope\"")
            && www.contains("scope=\"internal_scope_view internal_role_manage\""),
        "{www}"
    );
    let body = problem(resp, 403).await;
    assert_eq!(
        body["required_scopes"],
        json!(["internal_scope_view", "internal_role_manage"])
    );

    // A viewer reads everything but writes nothing, and sees no hashes.
    let viewer = Admin::with_scope(&app, "internal_scope_view").await;
    viewer.get_ok("/users").await;
    let body = problem(viewer.put("/scopes/x", json!({})).await, 403).await;
    assert_eq!(body["required_scopes"], json!(["internal_scope_manage"]));
    let body = problem(viewer.get("/policy?include_hashes=true").await, 403).await;
    assert_eq!(fields(&body), ["include_hashes"]);
    // A manage scope of one area reads that area only.
    let users = Admin::with_scope(&app, "internal_user_manage").await;
    users.get_ok("/users").await;
    problem(users.get("/clients").await, 403).await;
    problem(
        users
            .request(Method::POST, "/revocations/tokens")
            .json(&json!({"token": "x"}))
            .send()
            .await
            .expect("post"),
        403,
    )
    .await;
}

#[actix_web::test]
async fn an_incomplete_admin_section_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("scopegate.toml");
    for admin in [
        "[admin]\nbootstrap_client_id = \"x\"\n".to_owned(),
        "[admin]\nbootstrap_client_id = \"x\"\nbootstrap_client_secret_hash = \"plain\"\n"
            .to_owned(),
    ] {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n[storage]\npolicy_file = {:?}\ndata_dir = {:?}\n{admin}",
            quickstart_policy().display().to_string(),
            dir.path()
                .join(format!("data-{}", admin.len()))
                .display()
                .to_string(),
        );
        std::fs::write(&file, text).expect("write");
        let settings = Settings::load(Some(&file), HashMap::new(), dir.path()).expect("settings");
        let err = Application::build(settings).await.err().expect("refused");
        assert!(format!("{err:#}").contains("[admin]"), "{err:#}");
    }
    // The hash from the environment, as the docs recommend.
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n[storage]\npolicy_file = {:?}\n",
        quickstart_policy().display().to_string()
    );
    std::fs::write(&file, text).expect("write");
    let env: HashMap<String, String> = [
        ("SCOPEGATE__ADMIN__BOOTSTRAP_CLIENT_ID", ADMIN_ID),
        (
            "SCOPEGATE__ADMIN__BOOTSTRAP_CLIENT_SECRET_HASH",
            super::ADMIN_HASH,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = Settings::load(Some(&file), env, dir.path()).expect("settings");
    assert_eq!(
        settings.admin.bootstrap_client_id.as_deref(),
        Some(ADMIN_ID)
    );
    assert_eq!(
        settings.admin.bootstrap_client_secret_hash.as_deref(),
        Some(super::ADMIN_HASH)
    );
}
