//! Every RFC 6749 §5.2 error code and malformed input, over HTTP.

use scopegate_tests::{TestApp, basic, form, raw_http, spawn_app};
use serde_json::Value;

async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status(), status, "expected {code}");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.expect("json error body");
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "a description says what was wrong: {body}"
    );
    body
}

fn shopping() -> String {
    basic("shopping-app", "shopping-secret")
}

async fn password(app: &TestApp, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut pairs = vec![
        ("grant_type", "password"),
        ("username", "alex"),
        ("password", "alex123"),
    ];
    pairs.extend_from_slice(extra);
    app.token_raw(&form(&pairs), Some(&shopping())).await
}

#[actix_web::test]
async fn invalid_request() {
    let app = spawn_app().await;
    // Missing grant_type.
    expect_error(
        app.token_raw("username=alex", Some(&shopping())).await,
        400,
        "invalid_request",
    )
    .await;
    // A parameter sent twice.
    let body = expect_error(
        password(&app, &[("scope", "a"), ("scope", "b")]).await,
        400,
        "invalid_request",
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("scope")
    );
    // Password grant without a password.
    let body = form(&[("grant_type", "password"), ("username", "alex")]);
    expect_error(
        app.token_raw(&body, Some(&shopping())).await,
        400,
        "invalid_request",
    )
    .await;
    // Both Basic and form credentials.
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", "shopping-app"),
        ("client_secret", "shopping-secret"),
    ]);
    expect_error(
        app.token_raw(&body, Some(&shopping())).await,
        400,
        "invalid_request",
    )
    .await;
}

#[actix_web::test]
async fn wrong_content_type_is_invalid_request() {
    let app = spawn_app().await;
    for content_type in ["application/json", "text/plain", ""] {
        let mut req = app
            .client
            .post(app.url("/oauth2/token"))
            .header("authorization", shopping())
            .body("grant_type=client_credentials");
        if !content_type.is_empty() {
            req = req.header("content-type", content_type);
        }
        let resp = req.send().await.expect("request");
        let body = expect_error(resp, 400, "invalid_request").await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap_or("")
                .contains("x-www-form-urlencoded")
        );
    }
    // Parameters after the media type are fine.
    let resp = app
        .client
        .post(app.url("/oauth2/token"))
        .header(
            "authorization",
            basic("inventory-service", "inventory-secret"),
        )
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
}

#[actix_web::test]
async fn invalid_client_is_401_with_www_authenticate() {
    let app = spawn_app().await;
    let cc = form(&[("grant_type", "client_credentials")]);
    let cases = [
        Some(basic("shopping-app", "wrong-secret")),
        Some(basic("no-such-client", "x")),
        Some("Basic !!!not-base64!!!".to_owned()),
        Some(format!("Basic {}", {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode("no-colon-here")
        })),
        Some("Bearer abc".to_owned()),
        None,
    ];
    for auth in cases {
        let resp = app.token_raw(&cc, auth.as_deref()).await;
        let www = resp.headers().get("www-authenticate").cloned();
        expect_error(resp, 401, "invalid_client").await;
        assert!(
            www.is_some_and(|v| v.to_str().unwrap_or("").starts_with("Basic")),
            "{auth:?}"
        );
    }
}

#[actix_web::test]
async fn invalid_grant_unauthorized_client_unsupported_grant_type_invalid_scope() {
    let app = spawn_app().await;
    // Wrong password, unknown user.
    let body = form(&[
        ("grant_type", "password"),
        ("username", "alex"),
        ("password", "nope"),
    ]);
    expect_error(
        app.token_raw(&body, Some(&shopping())).await,
        400,
        "invalid_grant",
    )
    .await;
    let body = form(&[
        ("grant_type", "password"),
        ("username", "mallory"),
        ("password", "x"),
    ]);
    expect_error(
        app.token_raw(&body, Some(&shopping())).await,
        400,
        "invalid_grant",
    )
    .await;
    // inventory-service may only use client_credentials.
    let body = form(&[
        ("grant_type", "password"),
        ("username", "alex"),
        ("password", "alex123"),
    ]);
    let resp = app
        .token_raw(&body, Some(&basic("inventory-service", "inventory-secret")))
        .await;
    expect_error(resp, 400, "unauthorized_client").await;
    // Unknown grant types.
    for grant in [
        "authorization_code",
        "implicit",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ] {
        let body = form(&[("grant_type", grant)]);
        expect_error(
            app.token_raw(&body, Some(&shopping())).await,
            400,
            "unsupported_grant_type",
        )
        .await;
    }
    // A scope token outside RFC 6749 §3.3 (a double quote, a backslash, a tab, non-ASCII).
    for scope in ["order\"view", "a\\b", "a\tb", "ordér"] {
        expect_error(
            password(&app, &[("scope", scope)]).await,
            400,
            "invalid_scope",
        )
        .await;
    }
    // A garbage refresh token.
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", "not-a-token"),
    ]);
    expect_error(
        app.token_raw(&body, Some(&shopping())).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[actix_web::test]
async fn big_bodies_are_refused_with_413() {
    let app = spawn_app().await;
    let auth = shopping();
    for size in [1024 * 1024, 4 * 1024 * 1024] {
        // Declared by Content-Length: refused before the body is read.
        let body = format!("grant_type=client_credentials&pad={}", "a".repeat(size));
        let head = format!(
            "POST /oauth2/token HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\n\
             content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let (status, text) = raw_http(app.address, head.as_bytes(), body.as_bytes()).await;
        assert_eq!(status, 413, "{text}");
        assert!(
            text.contains("invalid_request") && text.contains("exceeds"),
            "{text}"
        );
    }
    // Chunked, so only counting the bytes as they arrive can catch it.
    let chunk = "a".repeat(64 * 1024);
    let mut body = String::new();
    for _ in 0..16 {
        body.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    body.push_str("0\r\n\r\n");
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\n\
         content-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let (status, text) = raw_http(app.address, head.as_bytes(), body.as_bytes()).await;
    assert_eq!(status, 413, "{text}");
    // The node still answers afterwards.
    assert_eq!(app.granted("rick", "order_view").await, "order_view");
}

#[actix_web::test]
async fn a_bad_form_body_is_invalid_request() {
    let app = spawn_app().await;
    let resp = app
        .token_raw("grant_type=password&username=%ZZ", Some(&shopping()))
        .await;
    assert_eq!(resp.status(), 400);
    let resp = app.token_raw("%FF%FE=%FF", Some(&shopping())).await;
    assert_eq!(resp.status(), 400);
}
