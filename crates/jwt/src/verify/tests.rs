use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::test_support::{AUDIENCE, ISSUER, NOW, claims, key};
use crate::{Algorithm, Audience, Jwks, SigningKey, VerifyingKey, unix_now};

const LEEWAY: u64 = 30;

fn verifier_for(signing: &SigningKey) -> Verifier {
    Verifier::new(
        Arc::new(KeySet::new(signing.clone())),
        ISSUER,
        AUDIENCE,
        LEEWAY,
    )
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with an arbitrary header and payload, signed by `key`.
fn forge(key: &SigningKey, header: serde_json::Value, payload: &[u8]) -> String {
    key.sign_compact(&b64(header.to_string()), payload).unwrap()
}

fn header(alg: &str, kid: &str) -> serde_json::Value {
    serde_json::json!({"alg": alg, "typ": "at+jwt", "kid": kid})
}

fn payload() -> Vec<u8> {
    serde_json::to_vec(&claims()).unwrap()
}

#[test]
fn round_trip_for_every_algorithm() {
    for alg in Algorithm::ALL {
        let key = key(alg);
        let token = key.sign(&claims()).unwrap();
        assert_eq!(
            verifier_for(&key).verify(&token, NOW),
            Ok(claims()),
            "{alg}"
        );
    }
}

#[test]
fn verifies_with_a_key_rebuilt_from_its_jwk() {
    let other = SigningKey::generate(Algorithm::EdDSA).unwrap();
    for alg in Algorithm::ALL {
        let key = key(alg);
        let json = serde_json::to_string(&KeySet::new(key.clone()).jwks()).unwrap();
        let jwks: Jwks = serde_json::from_str(&json).unwrap();
        let rebuilt = VerifyingKey::from_jwk(&jwks.keys[0]).unwrap();
        let set =
            KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()).with_verifying(rebuilt);
        let verifier = Verifier::new(Arc::new(set), ISSUER, AUDIENCE, LEEWAY);
        assert_eq!(
            verifier.verify(&key.sign(&claims()).unwrap(), NOW),
            Ok(claims()),
            "{alg}"
        );
        assert_eq!(
            verifier.verify(&other.sign(&claims()).unwrap(), NOW),
            Err(VerifyError::UnknownKey)
        );
    }
}

#[test]
fn verify_only_keys_from_a_jwks_check_every_claim() {
    let signers: Vec<SigningKey> = Algorithm::ALL.into_iter().map(key).collect();
    let json = serde_json::to_string(&Jwks {
        keys: signers.iter().map(|k| k.verifying_key().to_jwk()).collect(),
    })
    .unwrap();
    let jwks: Jwks = serde_json::from_str(&json).unwrap();
    let keys = jwks
        .keys
        .iter()
        .map(|jwk| VerifyingKey::from_jwk(jwk).unwrap());
    let verifier = Verifier::from_keys(keys, ISSUER, AUDIENCE, LEEWAY);
    for signer in &signers {
        let token = signer.sign(&claims()).unwrap();
        assert_eq!(
            verifier.verify(&token, NOW),
            Ok(claims()),
            "{}",
            signer.algorithm()
        );
        assert_eq!(
            verifier.verify(&token, NOW + 300 + LEEWAY + 1),
            Err(VerifyError::Expired)
        );
    }
    let wrong_audience = Verifier::from_keys(
        signers.iter().map(SigningKey::verifying_key),
        ISSUER,
        "other-api",
        LEEWAY,
    );
    let token = signers[0].sign(&claims()).unwrap();
    assert_eq!(
        wrong_audience.verify(&token, NOW),
        Err(VerifyError::WrongAudience)
    );
    let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    assert_eq!(
        verifier.verify(&stranger.sign(&claims()).unwrap(), NOW),
        Err(VerifyError::UnknownKey)
    );
}

#[test]
fn verify_only_keys_keep_the_first_key_of_a_repeated_kid() {
    let genuine = key(Algorithm::EdDSA);
    let impostor = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let mut renamed = impostor.verifying_key().to_jwk();
    renamed.kid = genuine.kid().to_owned();
    let renamed = VerifyingKey::from_jwk(&renamed).unwrap();
    let verifier =
        Verifier::from_keys([genuine.verifying_key(), renamed], ISSUER, AUDIENCE, LEEWAY);
    assert_eq!(
        verifier.verify(&genuine.sign(&claims()).unwrap(), NOW),
        Ok(claims())
    );
    let forged = forge(&impostor, header("EdDSA", genuine.kid()), &payload());
    assert_eq!(
        verifier.verify(&forged, NOW),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn missing_kid() {
    let key = key(Algorithm::EdDSA);
    let token = forge(
        &key,
        serde_json::json!({"alg": "EdDSA", "typ": "at+jwt"}),
        &payload(),
    );
    assert_eq!(
        verifier_for(&key).verify(&token, NOW),
        Err(VerifyError::MissingKid)
    );
}

#[test]
fn unknown_kid() {
    let key = key(Algorithm::EdDSA);
    let token = forge(&key, header("EdDSA", "not-a-known-kid"), &payload());
    assert_eq!(
        verifier_for(&key).verify(&token, NOW),
        Err(VerifyError::UnknownKey)
    );
}

#[test]
fn alg_must_equal_the_pinned_algorithm() {
    // Each token carries a signature that *does* verify with the key, so only
    // the alg pin stands between it and acceptance.
    let key = key(Algorithm::EdDSA);
    for alg in ["none", "None", "ES256", "eddsa", "HS256"] {
        let token = forge(&key, header(alg, key.kid()), &payload());
        assert_eq!(
            verifier_for(&key).verify(&token, NOW),
            Err(VerifyError::AlgorithmMismatch),
            "{alg}"
        );
    }
}

#[test]
fn alg_none_without_signature_is_refused() {
    let key = key(Algorithm::EdDSA);
    let token = format!(
        "{}.{}.",
        b64(header("none", key.kid()).to_string()),
        b64(payload())
    );
    assert!(verifier_for(&key).verify(&token, NOW).is_err());
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    // The classic RS/HS confusion: an attacker HMACs with the published key bytes.
    let rsa = key(Algorithm::RS256);
    let jwk = rsa.verifying_key().to_jwk();
    for secret in [
        URL_SAFE_NO_PAD.decode(jwk.n.as_deref().unwrap()).unwrap(),
        serde_json::to_vec(&jwk).unwrap(),
    ] {
        let input = format!(
            "{}.{}",
            b64(header("HS256", rsa.kid()).to_string()),
            b64(payload())
        );
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        let token = format!("{input}.{}", b64(tag));
        assert_eq!(
            verifier_for(&rsa).verify(&token, NOW),
            Err(VerifyError::AlgorithmMismatch)
        );
    }
}

#[test]
fn typ_must_be_at_jwt() {
    let key = key(Algorithm::ES256);
    let verify = |typ: Option<&str>| {
        let mut header = header("ES256", key.kid());
        match typ {
            Some(typ) => header["typ"] = typ.into(),
            None => drop(header.as_object_mut().unwrap().remove("typ")),
        }
        verifier_for(&key).verify(&forge(&key, header, &payload()), NOW)
    };
    for ok in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/At+Jwt",
    ] {
        assert_eq!(verify(Some(ok)), Ok(claims()), "{ok}");
    }
    for bad in [
        None,
        Some("JWT"),
        Some("application/jwt"),
        Some("at+jwt "),
        Some(""),
    ] {
        assert_eq!(verify(bad), Err(VerifyError::WrongType), "{bad:?}");
    }
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    let key = key(Algorithm::EdDSA);
    let token = key.sign(&claims()).unwrap();
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut greedy = claims();
    greedy.scope.push_str(" item_add");
    let forged_payload = b64(serde_json::to_vec(&greedy).unwrap());
    parts[1] = &forged_payload;
    assert_eq!(
        verifier_for(&key).verify(&parts.join("."), NOW),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn another_key_with_the_same_kid_is_a_bad_signature() {
    for alg in Algorithm::ALL {
        let trusted = key(alg);
        let attacker = SigningKey::generate(alg).unwrap();
        let token = forge(&attacker, header(alg.as_str(), trusted.kid()), &payload());
        assert_eq!(
            verifier_for(&trusted).verify(&token, NOW),
            Err(VerifyError::BadSignature),
            "{alg}"
        );
    }
}

#[test]
fn wrong_issuer() {
    let key = key(Algorithm::EdDSA);
    let token = key
        .sign(&AccessTokenClaims {
            iss: "https://evil.test".into(),
            ..claims()
        })
        .unwrap();
    assert_eq!(
        verifier_for(&key).verify(&token, NOW),
        Err(VerifyError::WrongIssuer)
    );
}

#[test]
fn audience_string_or_array() {
    let key = key(Algorithm::EdDSA);
    let verify = |aud: Audience| {
        verifier_for(&key).verify(
            &key.sign(&AccessTokenClaims { aud, ..claims() }).unwrap(),
            NOW,
        )
    };
    assert!(verify(Audience::Many(vec!["billing".into(), AUDIENCE.into()])).is_ok());
    assert_eq!(verify("billing".into()), Err(VerifyError::WrongAudience));
    assert_eq!(
        verify(Audience::Many(vec!["billing".into()])),
        Err(VerifyError::WrongAudience)
    );
    assert_eq!(
        verify(Audience::Many(vec![])),
        Err(VerifyError::WrongAudience)
    );
}

#[test]
fn expiry_uses_the_callers_clock_and_leeway() {
    let key = key(Algorithm::EdDSA);
    let token = key.sign(&claims()).unwrap();
    let exp = claims().exp;
    let verifier = verifier_for(&key);
    assert!(verifier.verify(&token, exp + LEEWAY).is_ok());
    assert_eq!(
        verifier.verify(&token, exp + LEEWAY + 1),
        Err(VerifyError::Expired)
    );
    let no_leeway = Verifier::new(Arc::new(KeySet::new(key.clone())), ISSUER, AUDIENCE, 0);
    assert_eq!(no_leeway.verify(&token, exp + 1), Err(VerifyError::Expired));
    let forever = key
        .sign(&AccessTokenClaims {
            exp: u64::MAX,
            ..claims()
        })
        .unwrap();
    assert!(verifier.verify(&forever, u64::MAX).is_ok(), "no overflow");
}

#[test]
fn not_before_uses_the_callers_clock_and_leeway() {
    let key = key(Algorithm::EdDSA);
    let nbf = NOW + 100;
    let token = key.sign(&AccessTokenClaims { nbf, ..claims() }).unwrap();
    let verifier = verifier_for(&key);
    assert!(verifier.verify(&token, nbf - LEEWAY).is_ok());
    assert_eq!(
        verifier.verify(&token, nbf - LEEWAY - 1),
        Err(VerifyError::NotYetValid)
    );
}

#[test]
fn malformed_shapes_are_errors_not_panics() {
    let key = key(Algorithm::EdDSA);
    let verifier = verifier_for(&key);
    let h = b64(header("EdDSA", key.kid()).to_string());
    let p = b64(payload());
    let cases = [
        String::new(),
        "SECRETMARKER".into(),
        "a.b".into(),
        "a.b.c.d".into(),
        "...".into(),
        format!("{h}.{p}"),
        format!("{h}.{p}.sig.extra"),
        format!("SECRETMARKER!.{p}.AAAA"),
        format!("{}.{p}.AAAA", b64("SECRETMARKER not json")),
        format!("{}.{p}.AAAA", b64("[\"SECRETMARKER\"]")),
        format!(
            "{}.{p}.AAAA",
            b64(r#"{"alg":"EdDSA","kid":"SECRETMARKER","kid":"x"}"#)
        ),
        format!(
            "{}.{p}.AAAA",
            b64(r#"{"alg":"EdDSA","kid":"x","crit":["SECRETMARKER"]}"#)
        ),
        format!("{h}.{p}.SECRETMARKER!"),
        format!(
            "{}.{p}.AAAA",
            b64(format!(r#"{{"alg":"EdDSA","kid":"{}"}}"#, "k".repeat(9000)))
        ),
        "\u{1F600}.\u{1F600}.\u{1F600}".into(),
    ];
    for token in &cases {
        match verifier.verify(token, NOW) {
            Err(VerifyError::Malformed(msg)) => assert!(!msg.contains("SECRETMARKER"), "{msg}"),
            other => panic!("{token:.40?}: expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn signed_but_malformed_payloads_are_malformed() {
    let key = key(Algorithm::EdDSA);
    let verifier = verifier_for(&key);
    let mut missing_jti = serde_json::to_value(claims()).unwrap();
    missing_jti.as_object_mut().unwrap().remove("jti");
    for payload in [
        b"SECRETMARKER".to_vec(),
        b"[]".to_vec(),
        // Positional fields: serde would fill the struct from an array.
        serde_json::to_vec(&serde_json::json!([
            ISSUER,
            "harry",
            AUDIENCE,
            NOW + 300,
            NOW,
            NOW,
            "j",
            "c",
            "s"
        ]))
        .unwrap(),
        br#"{"exp":"SECRETMARKER"}"#.to_vec(),
        serde_json::to_vec(&missing_jti).unwrap(),
    ] {
        let token = forge(&key, header("EdDSA", key.kid()), &payload);
        match verifier.verify(&token, NOW) {
            Err(VerifyError::Malformed(msg)) => assert!(!msg.contains("SECRETMARKER"), "{msg}"),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn tokens_over_8_kib_are_malformed_even_when_signed() {
    let key = key(Algorithm::EdDSA);
    let verifier = verifier_for(&key);
    let with_scope = |len: usize| {
        key.sign(&AccessTokenClaims {
            scope: "s".repeat(len),
            ..claims()
        })
        .unwrap()
    };
    let base = with_scope(0).len();
    // Each scope byte adds 4/3 base64 characters to the token.
    let fits = with_scope((jws::MAX_TOKEN_LEN - base) * 3 / 4 - 3);
    assert!(fits.len() <= jws::MAX_TOKEN_LEN && fits.len() > jws::MAX_TOKEN_LEN - 8);
    assert!(verifier.verify(&fits, NOW).is_ok());
    let too_long = with_scope((jws::MAX_TOKEN_LEN - base) * 3 / 4 + 3);
    assert!(too_long.len() > jws::MAX_TOKEN_LEN);
    assert_eq!(
        verifier.verify(&too_long, NOW),
        Err(VerifyError::malformed("token is too long"))
    );
}

#[test]
fn every_single_character_mutation_is_refused() {
    for alg in Algorithm::ALL {
        let key = key(alg);
        let verifier = verifier_for(&key);
        let token = key.sign(&claims()).unwrap();
        for (i, original) in token.char_indices() {
            for replacement in ['A', '_', '.', '='] {
                if replacement == original {
                    continue;
                }
                let mut mutated = token.clone();
                mutated.replace_range(i..i + 1, &replacement.to_string());
                assert!(
                    verifier.verify(&mutated, NOW).is_err(),
                    "{alg}: position {i} -> {replacement}"
                );
            }
        }
    }
}

#[test]
fn verify_error_messages_name_the_check_only() {
    let all = [
        VerifyError::malformed("x"),
        VerifyError::MissingKid,
        VerifyError::UnknownKey,
        VerifyError::AlgorithmMismatch,
        VerifyError::WrongType,
        VerifyError::BadSignature,
        VerifyError::Expired,
        VerifyError::NotYetValid,
        VerifyError::WrongIssuer,
        VerifyError::WrongAudience,
    ];
    let messages: std::collections::HashSet<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), all.len());
}

#[test]
fn jsonwebtoken_accepts_our_tokens_and_jwks() {
    let now = unix_now();
    let live = AccessTokenClaims {
        exp: now + 300,
        iat: now,
        nbf: now,
        ..claims()
    };
    for (alg, theirs) in [
        (Algorithm::EdDSA, jsonwebtoken::Algorithm::EdDSA),
        (Algorithm::ES256, jsonwebtoken::Algorithm::ES256),
        (Algorithm::RS256, jsonwebtoken::Algorithm::RS256),
    ] {
        let key = key(alg);
        let json = serde_json::to_string(&key.verifying_key().to_jwk()).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&json).unwrap();
        let mut validation = jsonwebtoken::Validation::new(theirs);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        let decoded = jsonwebtoken::decode::<AccessTokenClaims>(
            key.sign(&live).unwrap(),
            &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(decoded.claims, live, "{alg}");
        assert_eq!(decoded.header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(decoded.header.kid.as_deref(), Some(key.kid()));
    }
}

#[test]
fn we_accept_tokens_signed_by_jsonwebtoken() {
    for (alg, theirs) in [
        (Algorithm::EdDSA, jsonwebtoken::Algorithm::EdDSA),
        (Algorithm::ES256, jsonwebtoken::Algorithm::ES256),
        (Algorithm::RS256, jsonwebtoken::Algorithm::RS256),
    ] {
        let key = key(alg);
        let pem = key.to_pem();
        let encoding = match alg {
            Algorithm::EdDSA => jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()),
            Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()),
            Algorithm::RS256 => jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .unwrap();
        let mut header = jsonwebtoken::Header::new(theirs);
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid().into());
        let token = jsonwebtoken::encode(&header, &claims(), &encoding).unwrap();
        assert_eq!(
            verifier_for(&key).verify(&token, NOW),
            Ok(claims()),
            "{alg}"
        );
    }
}
