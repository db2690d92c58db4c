//! End to end through real components: nginx (the shipped `deploy/edge/nginx` recipe) with
//! `auth_request` to scopegate's `/authz/check`, in front of the example ShoppingCartAPI service,
//! which also validates tokens itself with scopegate-edge. The same matrix runs against the
//! service directly, so the edge library gives the same answers as the server.

use std::net::TcpListener;

use clap::Parser as _;
use scopegate_example_shopping::{build, cli::Cli};
use scopegate_jwt::{AccessTokenClaims, Algorithm, SigningKey, unix_now};
use scopegate_tests::nginx::Nginx;
use scopegate_tests::{TestApp, basic, form, quickstart_policy, spawn_app};
use serde_json::{Value, json};

pub(crate) async fn access_token(app: &TestApp, user: &str, scope: &str) -> String {
    let json: Value = app
        .password_token(user, scope)
        .await
        .json()
        .await
        .expect("json");
    json["access_token"].as_str().expect("token").to_owned()
}

/// Starts the example service against `app`'s JWKS; returns its address.
pub(crate) async fn start_shopping(app: &TestApp) -> std::net::SocketAddr {
    let cli = Cli::parse_from([
        "shopping-service",
        "--issuer",
        &app.url(""),
        "--listen",
        "127.0.0.1:0",
        "--policy",
        &quickstart_policy().display().to_string(),
    ]);
    let listener = TcpListener::bind(cli.listen).expect("bind");
    let address = listener.local_addr().expect("address");
    let server = build(&cli, listener).await.expect("shopping service");
    actix_web::rt::spawn(server);
    address
}

/// Tokens that must all be refused with 401.
pub(crate) async fn bad_tokens(app: &TestApp) -> Vec<(&'static str, Option<String>)> {
    let alex = access_token(app, "alex", "order_view").await;
    let parts: Vec<&str> = alex.split('.').collect();
    let claims: Value = {
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .expect("b64");
        serde_json::from_slice(&raw).expect("claims")
    };
    let mut tampered = parts[1].to_owned().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        String::from_utf8(tampered).expect("ascii"),
        parts[2]
    );
    let none = {
        use base64::Engine;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"alg":"none","typ":"at+jwt","kid":"x"}"#);
        format!("{header}.{}.", parts[1])
    };
    let mut forged: AccessTokenClaims = serde_json::from_value(claims.clone()).expect("claims");
    forged.scope = "order_add item_add".to_owned();
    let foreign = SigningKey::generate(Algorithm::EdDSA)
        .expect("key")
        .sign(&forged)
        .expect("sign");
    // The node's own key, from its data directory, signing an expired token.
    let pem =
        std::fs::read_to_string(app.dir.path().join("data/keys/signing.pem")).expect("key file");
    let own = SigningKey::from_pem(&pem).expect("own key");
    let mut expired = forged.clone();
    expired.scope = "order_view".to_owned();
    expired.iat = unix_now() - 7200;
    expired.nbf = expired.iat;
    expired.exp = unix_now() - 3600;
    let expired = own.sign(&expired).expect("sign");
    // A token revoked at the server.
    let revoked = access_token(app, "rick", "order_view").await;
    let resp = app
        .token_raw_to(
            "/oauth2/revoke",
            &form(&[("token", &revoked)]),
            Some(&basic("shopping-app", "shopping-secret")),
        )
        .await;
    assert_eq!(resp.status(), 200);
    vec![
        ("no token", None),
        ("garbage", Some("garbage".to_owned())),
        ("tampered payload", Some(tampered)),
        ("alg none", Some(none)),
        ("foreign key", Some(foreign)),
        ("expired", Some(expired)),
        ("revoked", Some(revoked)),
    ]
}

pub(crate) async fn call(
    client: &reqwest::Client,
    method: &str,
    url: String,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = match method {
        "POST" if url.ends_with("/items") => client.post(url).json(&json!({"name": "widget"})),
        "POST" => client.post(url).json(&json!({"item": "widget"})),
        _ => client.get(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("request")
}

/// The ShoppingCartAPI matrix against `base` (nginx with the API prefix, or the service itself).
pub(crate) async fn shopping_matrix(app: &TestApp, base: &str) {
    let client = reqwest::Client::new();
    let alex = access_token(app, "alex", "item_view item_add order_view").await;
    let resp = call(&client, "POST", format!("{base}/orders"), Some(&alex)).await;
    assert_eq!(resp.status(), 403, "{base}: alex POST orders");
    let www = resp.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        www.contains("insufficient_scope") && www.contains("scope=\"order_add\""),
        "{www}"
    );

    let paul = access_token(app, "paul", "order_add order_view").await;
    let resp = call(&client, "POST", format!("{base}/orders"), Some(&paul)).await;
    assert_eq!(resp.status(), 201, "{base}: paul POST orders");
    let order: Value = resp.json().await.expect("json");
    assert_eq!(order["created_by"], "paul", "the upstream knows who called");
    assert_eq!(
        call(&client, "GET", format!("{base}/orders"), Some(&paul))
            .await
            .status(),
        200
    );

    let rick = access_token(app, "rick", "order_view").await;
    assert_eq!(
        call(&client, "GET", format!("{base}/items"), Some(&rick))
            .await
            .status(),
        403
    );
    let harry = access_token(app, "harry", "item_view").await;
    assert_eq!(
        call(&client, "GET", format!("{base}/items"), Some(&harry))
            .await
            .status(),
        200
    );
    assert_eq!(
        call(&client, "POST", format!("{base}/items"), Some(&harry))
            .await
            .status(),
        403
    );

    for (what, token) in bad_tokens(app).await {
        let resp = call(&client, "GET", format!("{base}/orders"), token.as_deref()).await;
        assert_eq!(resp.status(), 401, "{base}: {what}");
        let www = resp
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        // RFC 6750 §3.1: a request without a token gets the bare challenge, a bad token's
        // says why.
        if token.is_none() {
            assert_eq!(
                www.as_deref(),
                Some("Bearer realm=\"scopegate\""),
                "{base}: {what}"
            );
        } else {
            assert!(
                www.is_some_and(|w| w.contains("invalid_token")),
                "{base}: {what}"
            );
        }
    }
}

#[actix_web::test]
async fn nginx_auth_request_in_front_of_the_shopping_service() {
    let app = spawn_app().await;
    let shopping = start_shopping(&app).await;
    let nginx = Nginx::start(app.address, shopping);
    shopping_matrix(&app, &nginx.url("/shopping/1.0.0")).await;

    let client = reqwest::Client::new();
    // The default version is reachable without the version segment too.
    let paul = access_token(&app, "paul", "order_view").await;
    // (nginx publishes only the versioned prefix to the service; scopegate itself accepts both.)
    let chris = access_token(&app, "chris", "news_read news_write").await;
    assert_eq!(
        call(&client, "GET", nginx.url("/news/"), Some(&chris))
            .await
            .status(),
        200
    );
    assert_eq!(
        call(&client, "POST", nginx.url("/news/"), Some(&chris))
            .await
            .status(),
        403
    );
    let bob = access_token(&app, "bob", "internal_identity_mgt_view").await;
    let resp = call(
        &client,
        "GET",
        nginx.url("/api/users/v1/u-42/challenges"),
        Some(&bob),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", nginx.log());
    assert_eq!(resp.headers()["x-scopegate-subject"], "bob");
    assert_eq!(
        call(
            &client,
            "GET",
            nginx.url("/api/users/v1/u-42/challenges"),
            Some(&paul)
        )
        .await
        .status(),
        403
    );
    // Dot segments through nginx cannot reach orders with an items token.
    let harry = access_token(&app, "harry", "item_view").await;
    let resp = call(
        &client,
        "GET",
        nginx.url("/shopping/1.0.0/items/%2e%2e/orders"),
        Some(&harry),
    )
    .await;
    assert!(
        resp.status() == 400 || resp.status() == 403,
        "{}",
        resp.status()
    );
}

#[actix_web::test]
async fn the_edge_library_gives_the_same_answers_without_nginx() {
    let app = spawn_app().await;
    let shopping = start_shopping(&app).await;
    // The revoked case is the one the edge library cannot know: it validates statelessly.
    let client = reqwest::Client::new();
    let alex = access_token(&app, "alex", "item_view item_add order_view").await;
    let base = format!("http://{shopping}");
    let resp = call(&client, "POST", format!("{base}/orders"), Some(&alex)).await;
    assert_eq!(resp.status(), 403);
    let www = resp.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(www.contains("scope=\"order_add\""), "{www}");
    let paul = access_token(&app, "paul", "order_add").await;
    assert_eq!(
        call(&client, "POST", format!("{base}/orders"), Some(&paul))
            .await
            .status(),
        201
    );
    let rick = access_token(&app, "rick", "order_view").await;
    assert_eq!(
        call(&client, "GET", format!("{base}/items"), Some(&rick))
            .await
            .status(),
        403
    );
    let harry = access_token(&app, "harry", "item_view").await;
    assert_eq!(
        call(&client, "POST", format!("{base}/items"), Some(&harry))
            .await
            .status(),
        403
    );
    for (what, token) in bad_tokens(&app).await {
        if what == "revoked" {
            continue;
        }
        let resp = call(&client, "GET", format!("{base}/orders"), token.as_deref()).await;
        assert_eq!(resp.status(), 401, "edge: {what}");
    }
}
