//! The seed scenarios and every bad token, over HTTP against the shop behind the middleware.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

struct Reply {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
}

async fn call(url: &str, method: &str, path: &str, authorization: Option<&str>) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new().request(method, format!("{url}{path}"));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        challenge,
        body,
    }
}

#[actix_web::test]
async fn two_authorization_headers_are_refused_not_resolved() {
    let signing = key();
    let (_issuer, _keys, url) = shop_with_issuer(&signing).await;
    let paul = token(&signing, "paul", "order_add");
    // A genuine token and garbage, in either order: never "first one wins".
    for pair in [
        [format!("Bearer {paul}"), "Bearer junk".to_owned()],
        ["Bearer junk".to_owned(), format!("Bearer {paul}")],
        [format!("Bearer {paul}"), format!("Bearer {paul}")],
    ] {
        let response = reqwest::Client::new()
            .post(format!("{url}/orders"))
            .header("authorization", &pair[0])
            .header("authorization", &pair[1])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"scopegate\", error=\"invalid_request\""),
            "{challenge}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
}

async fn bearer(url: &str, method: &str, path: &str, token: &str) -> Reply {
    call(url, method, path, Some(&format!("Bearer {token}"))).await
}

fn assert_insufficient(reply: &Reply, required: &str, granted: &[&str]) {
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let challenge = reply.challenge.as_deref().unwrap();
    assert!(
        challenge.starts_with("Bearer realm=\"scopegate\", error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.ends_with(&format!(", scope=\"{required}\"")),
        "{challenge}"
    );
    assert_eq!(reply.body["error"], "insufficient_scope");
    assert_eq!(reply.body["required"], json!([required]));
    assert_eq!(reply.body["granted"], json!(granted));
    assert_eq!(reply.body["api"], "ShoppingCartAPI");
    let description = reply.body["error_description"].as_str().unwrap();
    assert!(description.contains(required), "{description}");
}

#[actix_web::test]
async fn seed_scenarios() {
    let signing = key();
    let (_issuer, _keys, url) = shop_with_issuer(&signing).await;
    let alex = token(&signing, "alex", "item_view item_add order_view");
    let paul = token(&signing, "paul", "order_add");
    let rick = token(&signing, "rick", "order_view");
    let harry = token(&signing, "harry", "item_view");

    let reply = bearer(&url, "POST", "/orders", &alex).await;
    assert_insufficient(
        &reply,
        "order_add",
        &["item_view", "item_add", "order_view"],
    );

    let reply = bearer(&url, "POST", "/orders", &paul).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["created_by"], "paul");
    assert_eq!(reply.body["scopes"], json!(["order_add"]));

    let reply = bearer(&url, "GET", "/items", &rick).await;
    assert_insufficient(&reply, "item_view", &["order_view"]);

    let reply = bearer(&url, "POST", "/items", &harry).await;
    assert_insufficient(&reply, "item_add", &["item_view"]);

    for (token, method, path, status) in [
        (&alex, "GET", "/items", StatusCode::OK),
        (&alex, "POST", "/items", StatusCode::CREATED),
        (&alex, "GET", "/orders", StatusCode::OK),
        (&alex, "GET", "/orders?page=2", StatusCode::OK),
        (&rick, "GET", "/orders", StatusCode::OK),
        // The gate canonicalises; actix's own router then has no `/items/` route.
        (&harry, "GET", "/items/", StatusCode::NOT_FOUND),
    ] {
        let reply = bearer(&url, method, path, token).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
    }
}

#[actix_web::test]
async fn routes_without_a_rule_and_bad_paths() {
    let signing = key();
    let (_issuer, _keys, url) = shop_with_issuer(&signing).await;
    let alex = token(&signing, "alex", "item_view item_add order_view");

    let reply = bearer(&url, "DELETE", "/items", &alex).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.challenge, None);
    assert_eq!(reply.body["error"], "access_denied");
    assert_eq!(reply.body["api"], "ShoppingCartAPI");

    let reply = bearer(&url, "GET", "/orders%2F..%2Fitems", &alex).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"], "invalid_request");
    assert!(
        reply.body["error_description"]
            .as_str()
            .unwrap()
            .contains("encoded '/'")
    );

    // The token is checked first: without one, even a bad path is a 401.
    let reply = call(&url, "GET", "/orders%2Fx", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn bad_tokens_are_401_invalid_token() {
    let signing = key();
    let (_issuer, _keys, url) = shop_with_issuer(&signing).await;
    let genuine = token(&signing, "paul", "order_add");
    let parts: Vec<&str> = genuine.split('.').collect();

    let mut greedy = claims("rick", "order_add item_add");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(serde_json::to_vec(&greedy).unwrap()),
        parts[2]
    );
    let none_header = json!({"alg": "none", "typ": "at+jwt", "kid": signing.kid()});
    let alg_none = format!(
        "{}.{}.",
        b64(none_header.to_string()),
        b64(serde_json::to_vec(&greedy).unwrap())
    );
    let alg_none_signed = format!("{alg_none}{}", parts[2]);
    let same_kid = forged(
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": signing.kid()}),
        &greedy,
    );
    let foreign = token(&key(), "rick", "order_add");
    greedy.exp = greedy.iat - 3600;
    let expired = signing.sign(&greedy).unwrap();
    let mut elsewhere = claims("paul", "order_add");
    elsewhere.iss = "http://impostor.test".into();
    let other_issuer = signing.sign(&elsewhere).unwrap();
    let mut other = claims("paul", "order_add");
    other.aud = "another-service".into();
    let other_audience = signing.sign(&other).unwrap();

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no token", None, "no access token was presented"),
        (
            "another scheme",
            Some("Basic cGF1bDpwYXVsMTIz".into()),
            "no access token was presented",
        ),
        (
            "garbage",
            Some("Bearer not-a-token".into()),
            "malformed token",
        ),
        (
            "tampered payload",
            Some(format!("Bearer {tampered}")),
            "signature is invalid",
        ),
        (
            "alg none",
            Some(format!("Bearer {alg_none}")),
            "signature is empty",
        ),
        (
            "alg none with a signature",
            Some(format!("Bearer {alg_none_signed}")),
            "algorithm does not match",
        ),
        (
            "foreign key, genuine kid",
            Some(format!("Bearer {same_kid}")),
            "signature is invalid",
        ),
        (
            "foreign key, its own kid",
            Some(format!("Bearer {foreign}")),
            "unknown key",
        ),
        ("expired", Some(format!("Bearer {expired}")), "expired"),
        (
            "other issuer",
            Some(format!("Bearer {other_issuer}")),
            "another issuer",
        ),
        (
            "other audience",
            Some(format!("Bearer {other_audience}")),
            "audience",
        ),
    ];
    for (case, authorization, needle) in cases {
        let reply = call(&url, "POST", "/orders", authorization.as_deref()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}");
        let description = reply.body["error_description"].as_str().unwrap();
        assert!(description.contains(needle), "{case}: {description}");
        assert_eq!(reply.body["error"], "invalid_token", "{case}");
        // RFC 6750 §3.1: without credentials (none, or another scheme) the challenge carries
        // no error code; with a bad token it says why.
        let expected = if needle == "no access token was presented" {
            "Bearer realm=\"scopegate\"".to_owned()
        } else {
            format!(
                "Bearer realm=\"scopegate\", error=\"invalid_token\", \
                 error_description=\"{description}\""
            )
        };
        assert_eq!(
            reply.challenge.as_deref(),
            Some(expected.as_str()),
            "{case}"
        );
    }
    // The genuine token still works after all that.
    let reply = bearer(&url, "POST", "/orders", &genuine).await;
    assert_eq!(reply.status, StatusCode::CREATED);
}
