//! The check, decide, introspection and revocation endpoints over HTTP (in-process node).
//! The same matrix through a real nginx lives in `tests/tests/edge/`.

use scopegate_tests::{TestApp, basic, form, spawn_app};
use serde_json::{Value, json};

async fn access_token(app: &TestApp, user: &str, scope: &str) -> String {
    let resp = app.password_token(user, scope).await;
    assert_eq!(resp.status(), 200);
    let json: Value = resp.json().await.expect("json");
    json["access_token"].as_str().expect("token").to_owned()
}

async fn check(app: &TestApp, token: Option<&str>, method: &str, uri: &str) -> reqwest::Response {
    let mut req = app
        .client
        .get(app.url("/authz/check"))
        .header("x-original-method", method)
        .header("x-original-uri", uri);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("check")
}

#[actix_web::test]
async fn forward_auth_follows_the_seed_scenarios() {
    let app = spawn_app().await;
    let alex = access_token(&app, "alex", "item_view item_add order_view").await;
    let resp = check(&app, Some(&alex), "POST", "/shopping/1.0.0/orders").await;
    assert_eq!(resp.status(), 403);
    let www = resp.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        www.contains("error=\"insufficient_scope\"") && www.contains("scope=\"order_add\""),
        "{www}"
    );
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["required"], json!(["order_add"]));
    assert_eq!(
        body["granted"],
        json!(["item_view", "item_add", "order_view"])
    );

    let resp = check(&app, Some(&alex), "GET", "/shopping/1.0.0/orders?page=2").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-scopegate-subject"], "alex");
    assert_eq!(resp.headers()["x-scopegate-client-id"], "shopping-app");
    assert_eq!(
        resp.headers()["x-scopegate-scopes"],
        "item_view item_add order_view"
    );

    let paul = access_token(&app, "paul", "order_add").await;
    assert_eq!(
        check(&app, Some(&paul), "POST", "/shopping/1.0.0/orders")
            .await
            .status(),
        200
    );
    let rick = access_token(&app, "rick", "order_view").await;
    assert_eq!(
        check(&app, Some(&rick), "GET", "/shopping/1.0.0/items")
            .await
            .status(),
        403
    );
    let harry = access_token(&app, "harry", "item_view").await;
    assert_eq!(
        check(&app, Some(&harry), "POST", "/shopping/1.0.0/items")
            .await
            .status(),
        403
    );
    let chris = access_token(&app, "chris", "news_read news_write").await;
    assert_eq!(
        check(&app, Some(&chris), "GET", "/news/").await.status(),
        200
    );
    assert_eq!(
        check(&app, Some(&chris), "POST", "/news/").await.status(),
        403
    );
    let bob = access_token(&app, "bob", "internal_identity_mgt_view").await;
    assert_eq!(
        check(&app, Some(&bob), "GET", "/api/users/v1/u-42/challenges")
            .await
            .status(),
        200
    );
    // A path no API claims is denied by default.
    assert_eq!(
        check(&app, Some(&bob), "GET", "/elsewhere").await.status(),
        403
    );
    // Dot segments cannot smuggle a request past its rule.
    let resp = check(&app, Some(&alex), "POST", "/shopping/1.0.0/items/../orders").await;
    assert!(
        resp.status() == 400 || resp.status() == 403,
        "{}",
        resp.status()
    );
}

#[actix_web::test]
async fn bad_tokens_are_401_invalid_token() {
    let app = spawn_app().await;
    let alex = access_token(&app, "alex", "order_view").await;
    let mut tampered: Vec<String> = alex.split('.').map(str::to_owned).collect();
    tampered[1] = tampered[1].replacen('e', "f", 1);
    let none_alg = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0Iiwia2lkIjoieCJ9.{}.",
        alex.split('.').nth(1).expect("payload")
    );
    for token in [
        None,
        Some("garbage"),
        Some(tampered.join(".").as_str()),
        Some(none_alg.as_str()),
    ] {
        let resp = check(&app, token, "GET", "/shopping/1.0.0/orders").await;
        assert_eq!(resp.status(), 401, "{token:?}");
        let www = resp.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .to_owned();
        if token.is_none() {
            // RFC 6750 §3.1: no credentials, no error code.
            assert_eq!(www, "Bearer realm=\"scopegate\"");
        } else {
            assert!(
                www.starts_with("Bearer") && www.contains("error=\"invalid_token\""),
                "{www}"
            );
        }
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"], "invalid_token");
    }
    // Without the original request the check cannot answer.
    let resp = app
        .client
        .get(app.url("/authz/check"))
        .bearer_auth(&alex)
        .send()
        .await
        .expect("check");
    assert_eq!(resp.status(), 400);
}

#[actix_web::test]
async fn traefik_and_envoy_forms_give_the_same_answers() {
    let app = spawn_app().await;
    let alex = access_token(&app, "alex", "item_view").await;
    let traefik = |method: &'static str, uri: &'static str| {
        app.client
            .get(app.url("/authz/check"))
            .header("x-forwarded-method", method)
            .header("x-forwarded-uri", uri)
            .bearer_auth(&alex)
            .send()
    };
    assert_eq!(
        traefik("GET", "/shopping/1.0.0/items")
            .await
            .expect("ok")
            .status(),
        200
    );
    assert_eq!(
        traefik("POST", "/shopping/1.0.0/items")
            .await
            .expect("ok")
            .status(),
        403
    );
    let resp = app
        .client
        .get(app.url("/authz/envoy/shopping/1.0.0/items?x=1"))
        .bearer_auth(&alex)
        .send()
        .await
        .expect("envoy");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-scopegate-subject"], "alex");
    let resp = app
        .client
        .post(app.url("/authz/envoy/shopping/1.0.0/items"))
        .bearer_auth(&alex)
        .send()
        .await
        .expect("envoy");
    assert_eq!(resp.status(), 403);
    let resp = app
        .client
        .get(app.url("/authz/envoy/shopping/1.0.0/items"))
        .send()
        .await
        .expect("envoy");
    assert_eq!(resp.status(), 401);
}

#[actix_web::test]
async fn decide_answers_one_question_or_a_batch() {
    let app = spawn_app().await;
    let harry = access_token(&app, "harry", "item_view order_add").await;
    let one: Value = app
        .client
        .post(app.url("/authz/v1/decide"))
        .json(&json!({"token": harry, "method": "POST", "path": "/shopping/1.0.0/orders"}))
        .send()
        .await
        .expect("decide")
        .json()
        .await
        .expect("json");
    assert_eq!(one["allow"], true);
    assert_eq!(one["subject"], "harry");
    let batch: Value = app
        .client
        .post(app.url("/authz/v1/decide"))
        .bearer_auth(&harry)
        .json(&json!({"requests": [
            {"method": "GET", "path": "/shopping/1.0.0/items"},
            {"method": "POST", "path": "/shopping/1.0.0/items"},
            {"method": "GET", "path": "/news/"}
        ]}))
        .send()
        .await
        .expect("decide")
        .json()
        .await
        .expect("json");
    let results = batch["results"].as_array().expect("results");
    assert_eq!(results[0]["allow"], true);
    assert_eq!(results[1]["allow"], false);
    assert_eq!(results[1]["status"], 403);
    assert_eq!(results[1]["required"], json!(["item_add"]));
    assert_eq!(results[2]["allow"], false);
    // Malformed questions are 400 with a reason.
    for body in [
        json!({"token": "x"}),
        json!({"method": "GET"}),
        json!({"requests": []}),
        json!({"nope": 1}),
    ] {
        let resp = app
            .client
            .post(app.url("/authz/v1/decide"))
            .json(&body)
            .send()
            .await
            .expect("decide");
        assert_eq!(resp.status(), 400, "{body}");
    }
    let resp = app
        .client
        .post(app.url("/authz/v1/decide"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("decide");
    assert_eq!(resp.status(), 400);
}

async fn client_post(
    app: &TestApp,
    path: &str,
    client: (&str, &str),
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    app.token_raw_to(path, &form(pairs), Some(&basic(client.0, client.1)))
        .await
}

const SHOP: (&str, &str) = ("shopping-app", "shopping-secret");
const INVENTORY: (&str, &str) = ("inventory-service", "inventory-secret");

#[actix_web::test]
async fn introspection_follows_rfc_7662() {
    let app = spawn_app().await;
    let alex = access_token(&app, "alex", "item_view order_view").await;
    let resp = client_post(&app, "/oauth2/introspect", INVENTORY, &[("token", &alex)]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "item_view order_view");
    assert_eq!(body["client_id"], "shopping-app");
    assert_eq!(body["username"], "alex");
    assert_eq!(body["sub"], "alex");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["iss"], app.url(""));
    for key in ["exp", "iat", "jti", "aud"] {
        assert!(body.get(key).is_some(), "{key}");
    }
    for token in ["garbage", "a.b.c"] {
        let body: Value = client_post(&app, "/oauth2/introspect", INVENTORY, &[("token", token)])
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(body, json!({"active": false}));
    }
    // Introspection needs client authentication.
    let resp = client_post(
        &app,
        "/oauth2/introspect",
        ("inventory-service", "wrong"),
        &[("token", &alex)],
    )
    .await;
    assert_eq!(resp.status(), 401);
    let resp = client_post(&app, "/oauth2/introspect", INVENTORY, &[]).await;
    assert_eq!(resp.status(), 400);
}

#[actix_web::test]
async fn revoked_access_tokens_are_refused_everywhere_at_once() {
    let app = spawn_app().await;
    let paul = access_token(&app, "paul", "order_add").await;
    assert_eq!(
        check(&app, Some(&paul), "POST", "/shopping/1.0.0/orders")
            .await
            .status(),
        200
    );
    // Another client may not revoke it.
    let resp = client_post(&app, "/oauth2/revoke", INVENTORY, &[("token", &paul)]).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        check(&app, Some(&paul), "POST", "/shopping/1.0.0/orders")
            .await
            .status(),
        200
    );

    let resp = client_post(
        &app,
        "/oauth2/revoke",
        SHOP,
        &[("token", &paul), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        check(&app, Some(&paul), "POST", "/shopping/1.0.0/orders")
            .await
            .status(),
        401
    );
    let body: Value = client_post(&app, "/oauth2/introspect", SHOP, &[("token", &paul)])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body, json!({"active": false}));
    let decided: Value = app
        .client
        .post(app.url("/authz/v1/decide"))
        .json(&json!({"token": paul, "method": "POST", "path": "/shopping/1.0.0/orders"}))
        .send()
        .await
        .expect("decide")
        .json()
        .await
        .expect("json");
    assert_eq!(decided["allow"], false);
    assert_eq!(decided["status"], 401);
    // Revoking again, or revoking garbage, is still 200 (RFC 7009 §2.2).
    assert_eq!(
        client_post(&app, "/oauth2/revoke", SHOP, &[("token", &paul)])
            .await
            .status(),
        200
    );
    assert_eq!(
        client_post(&app, "/oauth2/revoke", SHOP, &[("token", "garbage")])
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn revoking_a_refresh_token_ends_its_family() {
    let app = spawn_app().await;
    let resp = app.password_token("harry", "item_view").await;
    let json: Value = resp.json().await.expect("json");
    let refresh = json["refresh_token"].as_str().expect("rt").to_owned();
    // A live refresh token introspects as active.
    let body: Value = client_post(&app, "/oauth2/introspect", SHOP, &[("token", &refresh)])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["username"], "harry");
    assert_eq!(body["scope"], "item_view");
    // Only the client it was issued to may revoke it.
    let resp = client_post(&app, "/oauth2/revoke", INVENTORY, &[("token", &refresh)]).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "unauthorized_client");
    let resp = client_post(
        &app,
        "/oauth2/revoke",
        SHOP,
        &[("token", &refresh), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = client_post(
        &app,
        "/oauth2/token",
        SHOP,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
    let body: Value = client_post(&app, "/oauth2/introspect", SHOP, &[("token", &refresh)])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body, json!({"active": false}));
}
