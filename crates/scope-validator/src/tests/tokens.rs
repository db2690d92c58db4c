//! Every reason a token is refused (401 `invalid_token`), each named in the description and
//! none echoing the token; and tokens of every algorithm.

use scopegate_jwt::{Algorithm, VerifyingKey};

use super::*;

const PATH: &str = "/shopping/1.0.0/orders";

fn header(alg: &str, typ: &str, kid: &str) -> serde_json::Value {
    serde_json::json!({"alg": alg, "typ": typ, "kid": kid})
}

/// `decide` of `token` for Paul's POST at `now`, which a valid token passes.
fn decide_at(h: &Harness, token: &str, now: u64) -> Decision {
    h.validator.decide(Some(token), "POST", PATH, now)
}

#[actix::test]
async fn a_valid_token_is_the_baseline() {
    let h = Harness::start();
    allowed(h.decide(&h.token("paul", "order_add"), "POST", PATH));
}

#[actix::test]
async fn missing_and_malformed_tokens() {
    let h = Harness::start();
    assert_invalid_token(
        h.validator.decide(None, "POST", PATH, T0),
        "no access token",
    );
    for token in ["", "abc", "a.b", "a.b.c", "Bearer x.y.z", &"a".repeat(9000)] {
        assert_invalid_token(h.decide(token, "POST", PATH), "malformed");
    }
}

#[actix::test]
async fn alg_none_is_refused_with_or_without_a_signature() {
    let h = Harness::start();
    let claims = b64(serde_json::to_vec(&h.claims("paul", "order_add")).unwrap());
    let none = b64(header("none", "at+jwt", h.key.kid()).to_string());
    // The classic form: an empty signature.
    assert_invalid_token(
        h.decide(&format!("{none}.{claims}."), "POST", PATH),
        "malformed",
    );
    // With some signature bytes, the header's alg is compared with the key's: refused.
    let deny = h.decide(&format!("{none}.{claims}.AAAA"), "POST", PATH);
    assert_invalid_token(deny, "algorithm does not match");
    // HS256 "signed" with anything: the same.
    let hs = b64(header("HS256", "at+jwt", h.key.kid()).to_string());
    assert_invalid_token(
        h.decide(&format!("{hs}.{claims}.AAAA"), "POST", PATH),
        "algorithm does not match",
    );
}

#[actix::test]
async fn a_foreign_key_under_a_trusted_kid_fails_the_signature() {
    let h = Harness::start();
    let foreign = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let claims = h.claims("paul", "order_add");
    let forged = forge(&foreign, header("EdDSA", "at+jwt", h.key.kid()), &claims);
    assert_invalid_token(h.decide(&forged, "POST", PATH), "signature is invalid");
    // The same construction with the real key passes, so the forgery fails for its key alone.
    let genuine = forge(&h.key, header("EdDSA", "at+jwt", h.key.kid()), &claims);
    allowed(h.decide(&genuine, "POST", PATH));
}

#[actix::test]
async fn a_tampered_payload_fails_the_signature() {
    let h = Harness::start();
    let token = h.token("rick", "order_view");
    let mut elevated = h.claims("rick", "order_view order_add");
    elevated.jti = "jti-0".into();
    let parts: Vec<&str> = token.split('.').collect();
    let payload = b64(serde_json::to_vec(&elevated).unwrap());
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_invalid_token(h.decide(&tampered, "POST", PATH), "signature is invalid");
}

#[actix::test]
async fn unknown_and_missing_key_ids() {
    let h = Harness::start();
    let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let token = stranger.sign(&h.claims("paul", "order_add")).unwrap();
    assert_invalid_token(h.decide(&token, "POST", PATH), "unknown key");

    let claims = h.claims("paul", "order_add");
    let no_kid = forge(
        &h.key,
        serde_json::json!({"alg": "EdDSA", "typ": "at+jwt"}),
        &claims,
    );
    assert_invalid_token(h.decide(&no_kid, "POST", PATH), "no key id");
}

#[actix::test]
async fn a_token_that_is_not_an_access_token_is_refused() {
    let h = Harness::start();
    let claims = h.claims("paul", "order_add");
    for typ in ["JWT", "id_token+jwt", ""] {
        let token = forge(&h.key, header("EdDSA", typ, h.key.kid()), &claims);
        assert_invalid_token(h.decide(&token, "POST", PATH), "not an access token");
    }
}

#[actix::test]
async fn wrong_issuer_and_wrong_audience() {
    let h = Harness::start();
    let mut claims = h.claims("paul", "order_add");
    claims.iss = "https://evil.test".into();
    let token = h.key.sign(&claims).unwrap();
    assert_invalid_token(h.decide(&token, "POST", PATH), "another issuer");

    let mut claims = h.claims("paul", "order_add");
    claims.aud = Audience::Many(vec!["billing".into(), "news".into()]);
    let token = h.key.sign(&claims).unwrap();
    assert_invalid_token(h.decide(&token, "POST", PATH), "audience");
    // One of several audiences is enough.
    claims.aud = Audience::Many(vec!["billing".into(), AUDIENCE.into()]);
    allowed(h.decide(&h.key.sign(&claims).unwrap(), "POST", PATH));
}

#[actix::test]
async fn expiry_and_not_before_apply_with_the_leeway() {
    let h = Harness::start();
    let token = h.token("paul", "order_add");
    allowed(decide_at(&h, &token, T0 + TTL + 30));
    assert_invalid_token(decide_at(&h, &token, T0 + TTL + 31), "expired");

    let mut claims = h.claims("paul", "order_add");
    claims.nbf = T0 + 100;
    let early = h.key.sign(&claims).unwrap();
    assert_invalid_token(decide_at(&h, &early, T0), "not valid yet");
    allowed(decide_at(&h, &early, T0 + 70));
}

#[actix::test]
async fn denials_never_echo_the_token() {
    let h = Harness::start();
    let token = h.token("paul", "order_add");
    let payload = token.split('.').nth(1).unwrap().to_owned();
    let refusals = [
        decide_at(&h, &token, T0 + TTL + 31),
        h.decide(&format!("{token}x"), "POST", PATH),
        h.decide(&token.replace('.', "!"), "POST", PATH),
        h.decide(&token, "DELETE", PATH),
        h.decide(&token, "POST", "/shopping/1.0.0/../x"),
    ];
    for decision in refusals {
        let deny = denied(decision);
        let text = serde_json::to_string(&deny).unwrap();
        assert!(!text.contains(&payload[..20]), "{text}");
        assert!(!format!("{deny:?}").contains(&payload[..20]));
    }
    assert!(!format!("{:?}", h.validator).contains(&payload[..20]));
}

#[actix::test]
async fn tokens_of_every_algorithm_are_decided() {
    let h = Harness::start();
    let es = SigningKey::generate(Algorithm::ES256).unwrap();
    let rs = SigningKey::generate(Algorithm::RS256).unwrap();
    h.keys.store(Arc::new(
        KeySet::new(h.key.clone())
            .with_verifying(es.verifying_key())
            .with_verifying(rs.verifying_key()),
    ));
    for key in [&h.key, &es, &rs] {
        let token = key.sign(&h.claims("paul", "order_add")).unwrap();
        allowed(h.decide(&token, "POST", PATH));
        let token = key.sign(&h.claims("rick", "order_view")).unwrap();
        assert_eq!(denied(h.decide(&token, "POST", PATH)).status, 403);
    }
    // An RS256 token whose kid names the EdDSA key: the pinned algorithm refuses it.
    let mut renamed = rs.verifying_key().to_jwk();
    renamed.kid = "renamed".into();
    let set = KeySet::new(h.key.clone()).with_verifying(VerifyingKey::from_jwk(&renamed).unwrap());
    h.keys.store(Arc::new(set));
    let claims = h.claims("paul", "order_add");
    let token = forge(&h.key, header("RS256", "at+jwt", h.key.kid()), &claims);
    assert_invalid_token(h.decide(&token, "POST", PATH), "algorithm does not match");
}
