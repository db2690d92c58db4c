//! Revocation (RFC 7009 hints, grant families), introspection rights (RFC 7662 §4), client
//! authentication with Basic and a `client_id` field (RFC 6749 §2.3.1), credentials at the
//! check endpoints (RFC 6750 §3.1) and the sign-in throttle, over HTTP against a real node.

use reqwest::Response;
use scopegate_tests::{TestApp, basic, form, spawn_app, spawn_app_configured, spawn_app_with};
use serde_json::{Value, json};

use crate::admin::{Admin, admin_config, check, client_token};

const SHOP: (&str, &str) = ("shopping-app", "shopping-secret");
const INVENTORY: (&str, &str) = ("inventory-service", "inventory-secret");
const ORDERS: &str = "/shopping/1.0.0/orders";

async fn post(app: &TestApp, path: &str, client: (&str, &str), pairs: &[(&str, &str)]) -> Response {
    app.token_raw_to(path, &form(pairs), Some(&basic(client.0, client.1)))
        .await
}

/// A password grant for `user`: (access token, refresh token).
async fn sign_in(app: &TestApp, user: &str, scope: &str) -> (String, String) {
    let resp = app.password_token(user, scope).await;
    assert_eq!(resp.status(), 200, "{user}");
    let body: Value = resp.json().await.expect("json");
    (
        body["access_token"].as_str().expect("access").to_owned(),
        body["refresh_token"].as_str().expect("refresh").to_owned(),
    )
}

async fn refresh(app: &TestApp, token: &str) -> Response {
    post(
        app,
        "/oauth2/token",
        SHOP,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

async fn status_of_check(app: &TestApp, token: &str) -> u16 {
    check(app, token, "GET", ORDERS).await.status().as_u16()
}

async fn introspect(app: &TestApp, client: (&str, &str), token: &str) -> Value {
    let resp = post(app, "/oauth2/introspect", client, &[("token", token)]).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

#[actix_web::test]
async fn a_wrong_token_type_hint_never_leaves_a_token_valid() {
    let app = spawn_app().await;
    // An access token revoked with the refresh-token hint.
    let (paul, paul_refresh) = sign_in(&app, "paul", "order_view").await;
    assert_eq!(status_of_check(&app, &paul).await, 200);
    let resp = post(
        &app,
        "/oauth2/revoke",
        SHOP,
        &[("token", &paul), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        status_of_check(&app, &paul).await,
        401,
        "still valid after a 200"
    );
    // A refresh token revoked with the access-token hint.
    let resp = post(
        &app,
        "/oauth2/revoke",
        SHOP,
        &[
            ("token", &paul_refresh),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(refresh(&app, &paul_refresh).await.status(), 400);
    // An unknown hint is only a hint, too.
    let (rick, _) = sign_in(&app, "rick", "order_view").await;
    let resp = post(
        &app,
        "/oauth2/revoke",
        SHOP,
        &[("token", &rick), ("token_type_hint", "id_token")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(status_of_check(&app, &rick).await, 401);
}

#[actix_web::test]
async fn the_admin_revocation_route_treats_the_hint_as_a_hint_too() {
    let app = spawn_app_with(&admin_config()).await;
    let admin = Admin::bootstrap(&app).await;
    let (paul, _) = sign_in(&app, "paul", "order_view").await;
    let resp = admin
        .post(
            "/revocations/tokens",
            json!({"token": paul, "token_type_hint": "refresh_token"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let revoked: Value = resp.json().await.expect("json");
    assert_eq!(revoked["token_type"], "access_token");
    assert_eq!(status_of_check(&app, &paul).await, 401);
}

#[actix_web::test]
async fn revoking_a_refresh_token_revokes_every_access_token_of_its_grant() {
    let app = spawn_app().await;
    let (first, r1) = sign_in(&app, "harry", "order_view").await;
    let resp = refresh(&app, &r1).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    let second = body["access_token"].as_str().expect("access").to_owned();
    let r2 = body["refresh_token"].as_str().expect("refresh").to_owned();
    // Both verified (and cached) before the revocation.
    assert_eq!(status_of_check(&app, &first).await, 200);
    assert_eq!(status_of_check(&app, &second).await, 200);
    // Another sign-in of the same user is another grant.
    let (other, _) = sign_in(&app, "harry", "order_view").await;

    let resp = post(&app, "/oauth2/revoke", SHOP, &[("token", &r2)]).await;
    assert_eq!(resp.status(), 200);
    for token in [&first, &second] {
        assert_eq!(status_of_check(&app, token).await, 401);
        assert_eq!(
            introspect(&app, INVENTORY, token).await,
            json!({"active": false})
        );
    }
    assert_eq!(status_of_check(&app, &other).await, 200, "another grant");
}

#[actix_web::test]
async fn a_reused_refresh_token_revokes_every_access_token_of_its_grant() {
    let app = spawn_app().await;
    let (first, r1) = sign_in(&app, "alex", "item_view").await;
    let resp = refresh(&app, &r1).await;
    let body: Value = resp.json().await.expect("json");
    let second = body["access_token"].as_str().expect("access").to_owned();
    assert_eq!(
        status_of_check(&app, &second).await,
        403,
        "item_view, not orders"
    );
    // r1 again: reuse.
    let resp = refresh(&app, &r1).await;
    assert_eq!(resp.status(), 400);
    for token in [&first, &second] {
        let resp = check(&app, token, "GET", "/shopping/1.0.0/items").await;
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error_description"], "token has been revoked");
    }
}

#[actix_web::test]
async fn only_permitted_clients_introspect_other_clients_tokens() {
    let app = spawn_app().await;
    let (alex, alex_refresh) = sign_in(&app, "alex", "item_view").await;
    let (inventory, _) = client_token(&app, INVENTORY.0, INVENTORY.1, "order_view").await;
    // shopping-app is no resource server: its own tokens only.
    assert_eq!(introspect(&app, SHOP, &alex).await["active"], true);
    assert_eq!(introspect(&app, SHOP, &alex_refresh).await["active"], true);
    assert_eq!(
        introspect(&app, SHOP, &inventory).await,
        json!({"active": false})
    );
    // inventory-service holds internal_token_introspect through its resource-server role.
    assert_eq!(introspect(&app, INVENTORY, &alex).await["username"], "alex");
    assert_eq!(
        introspect(&app, INVENTORY, &alex_refresh).await["username"],
        "alex"
    );
    assert_eq!(
        introspect(&app, INVENTORY, &inventory).await["active"],
        true
    );
}

#[actix_web::test]
async fn basic_and_a_client_id_field_naming_the_same_client_are_one_method() {
    let app = spawn_app().await;
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", INVENTORY.0),
    ]);
    let resp = app
        .token_raw(&body, Some(&basic(INVENTORY.0, INVENTORY.1)))
        .await;
    assert_eq!(resp.status(), 200);
    let body = form(&[("grant_type", "client_credentials"), ("client_id", SHOP.0)]);
    let resp = app
        .token_raw(&body, Some(&basic(INVENTORY.0, INVENTORY.1)))
        .await;
    assert_eq!(resp.status(), 400);
    let json: Value = resp.json().await.expect("json");
    assert_eq!(json["error"], "invalid_request");
}

#[actix_web::test]
async fn the_check_endpoints_follow_rfc_6750_on_credentials() {
    let app = spawn_app().await;
    let (paul, _) = sign_in(&app, "paul", "order_view").await;
    let ask = |authorization: Vec<String>| {
        let mut req = app
            .client
            .get(app.url("/authz/check"))
            .header("x-original-method", "GET")
            .header("x-original-uri", ORDERS);
        for value in authorization {
            req = req.header("authorization", value);
        }
        req.send()
    };
    for no_credentials in [vec![], vec!["Basic cGF1bDpwYXVsMTIz".to_owned()]] {
        let resp = ask(no_credentials).await.expect("check");
        assert_eq!(resp.status(), 401);
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer realm=\"scopegate\""
        );
    }
    let resp = ask(vec![format!("Bearer {paul}"), "Bearer junk".to_owned()])
        .await
        .expect("check");
    assert_eq!(resp.status(), 400);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("error=\"invalid_request\"")
    );
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
    // The Envoy route alike.
    let resp = app
        .client
        .get(app.url("/authz/envoy/shopping/1.0.0/orders"))
        .header("authorization", format!("Bearer {paul}"))
        .header("authorization", format!("Bearer {paul}"))
        .send()
        .await
        .expect("envoy");
    assert_eq!(resp.status(), 400);
    let resp = app
        .client
        .get(app.url("/authz/envoy/shopping/1.0.0/orders"))
        .send()
        .await
        .expect("envoy");
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"scopegate\""
    );
    // decide: a token in the body and in the header is two methods.
    let decided: Value = app
        .client
        .post(app.url("/authz/v1/decide"))
        .bearer_auth(&paul)
        .json(&json!({"token": paul, "method": "GET", "path": ORDERS}))
        .send()
        .await
        .expect("decide")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (decided["allow"].clone(), decided["status"].clone()),
        (json!(false), json!(400))
    );
    assert_eq!(decided["error"], "invalid_request");
}

fn wrong_password(user: &str) -> String {
    form(&[
        ("grant_type", "password"),
        ("username", user),
        ("password", "guess"),
    ])
}

// Lockouts long enough that a loaded machine cannot outlast them between two requests; their
// expiry is tested with a settable clock in the token issuer's own tests.
const THROTTLE: &str = "[tokens.throttle]\nuser_failures = 3\nsource_failures = 6\n\
                        window_secs = 60\nlockout_secs = 120\nmax_lockout_secs = 600\n";

#[actix_web::test]
async fn password_guessing_is_throttled_and_an_administrator_lifts_a_lockout() {
    let app = spawn_app_with(&format!("{THROTTLE}{}", admin_config())).await;
    let shop = basic(SHOP.0, SHOP.1);
    for _ in 0..3 {
        let resp = app.token_raw(&wrong_password("alex"), Some(&shop)).await;
        assert_eq!(resp.status(), 400);
    }
    // Locked: the right password is refused, with Retry-After.
    let resp = app.password_token("alex", "").await;
    assert_eq!(resp.status(), 400);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=120).contains(&retry_after), "{retry_after}");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .expect("description")
            .starts_with("too many failed attempts"),
        "{body}"
    );
    // The lockout is listed and counted.
    let admin = Admin::bootstrap(&app).await;
    let listed = admin.get_ok("/lockouts").await;
    assert_eq!(listed["lockouts"][0]["kind"], "user");
    assert_eq!(listed["lockouts"][0]["username"], "alex");
    let metrics = app.scrape_metrics().await;
    assert!(
        metrics.contains("scopegate_signin_throttled_total{kind=\"user\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("scopegate_signin_locked{kind=\"user\"} 1"));
    assert!(
        metrics
            .contains("scopegate_token_requests_total{grant=\"password\",outcome=\"throttled\"} 1")
    );
    // An administrator lifts it: the right password works at once.
    let resp = admin.delete("/lockouts/users/alex").await;
    assert_eq!(resp.status(), 200);
    let lifted: Value = resp.json().await.expect("json");
    assert_eq!(lifted["lifted"], true);
    assert_eq!(app.password_token("alex", "").await.status(), 200);
}

#[actix_web::test]
async fn behind_a_trusted_proxy_failures_count_against_the_forwarded_address() {
    let app = spawn_app_configured("trusted_proxies = [\"127.0.0.0/8\"]", THROTTLE).await;
    let attempt = |user: &str, address: &str| {
        app.client
            .post(app.url("/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", basic(SHOP.0, SHOP.1))
            .header("x-forwarded-for", address)
            .body(wrong_password(user))
            .send()
    };
    // Spraying six usernames from one address locks shopping-app from that address only.
    for i in 0..6 {
        let resp = attempt(&format!("user{i}"), "203.0.113.5")
            .await
            .expect("token");
        assert_eq!(resp.status(), 400);
    }
    let locked: Value = attempt("user9", "203.0.113.5")
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert!(
        locked["error_description"]
            .as_str()
            .expect("description")
            .starts_with("too many failed attempts"),
        "{locked}"
    );
    let other: Value = attempt("user9", "203.0.113.6")
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(other["error_description"], "invalid username or password");
}
