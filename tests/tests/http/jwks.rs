//! Issued access tokens verify against the published JWKS with an independent implementation.

use scopegate_tests::jwt::verify_eddsa;
use scopegate_tests::spawn_app;
use serde_json::Value;

#[actix_web::test]
async fn access_tokens_verify_against_the_jwks_with_an_independent_verifier() {
    let app = spawn_app().await;
    let resp = app.password_token("alex", "item_view item_add").await;
    let json: Value = resp.json().await.expect("json");
    let token = json["access_token"].as_str().expect("token");

    for path in ["/oauth2/jwks", "/.well-known/jwks.json"] {
        let jwks: Value = app.get_json(path).await;
        let (header, claims) = verify_eddsa(token, &jwks).expect("verifies");
        assert_eq!(header["typ"], "at+jwt");
        assert!(header["kid"].as_str().is_some_and(|k| !k.is_empty()));
        assert_eq!(claims["iss"], app.url(""));
        assert_eq!(claims["sub"], "alex");
        assert_eq!(claims["aud"], "scopegate");
        assert_eq!(claims["client_id"], "shopping-app");
        assert_eq!(claims["scope"], "item_view item_add");
        let (iat, exp, nbf) = (&claims["iat"], &claims["exp"], &claims["nbf"]);
        assert_eq!(
            exp.as_u64().expect("exp") - iat.as_u64().expect("iat"),
            3600
        );
        assert!(nbf.as_u64().is_some());
        assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    }

    // A token with one flipped payload byte no longer verifies.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload = parts[1].clone().into_bytes();
    payload[5] = if payload[5] == b'A' { b'B' } else { b'A' };
    parts[1] = String::from_utf8(payload).expect("ascii");
    let jwks: Value = app.get_json("/oauth2/jwks").await;
    assert!(verify_eddsa(&parts.join("."), &jwks).is_err());
}

#[actix_web::test]
async fn two_tokens_have_distinct_ids() {
    let app = spawn_app().await;
    let a: Value = app
        .password_token("harry", "item_view")
        .await
        .json()
        .await
        .expect("json");
    let b: Value = app
        .password_token("harry", "item_add")
        .await
        .json()
        .await
        .expect("json");
    assert_ne!(a["access_token"], b["access_token"]);
    let jwks: Value = app.get_json("/oauth2/jwks").await;
    let (_, ca) = verify_eddsa(a["access_token"].as_str().expect("t"), &jwks).expect("a");
    let (_, cb) = verify_eddsa(b["access_token"].as_str().expect("t"), &jwks).expect("b");
    assert_ne!(ca["jti"], cb["jti"]);
}
