use super::*;
use crate::test_support::{claims, key};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn keys_are_send_and_sync() {
    assert_send_sync::<SigningKey>();
    assert_send_sync::<VerifyingKey>();
    assert_send_sync::<crate::KeySet>();
}

#[test]
fn generated_keys_have_their_algorithm_and_a_thumbprint_kid() {
    for alg in Algorithm::ALL {
        let key = key(alg);
        assert_eq!(key.algorithm(), alg);
        assert_eq!(key.kid().len(), 43, "SHA-256, base64url without padding");
        assert_eq!(
            key.kid(),
            key.verifying_key().to_jwk().thumbprint().unwrap()
        );
        assert_eq!(key.verifying_key().kid(), key.kid());
    }
}

#[test]
fn signatures_have_the_jws_length() {
    for (alg, len) in [
        (Algorithm::EdDSA, 64),
        (Algorithm::ES256, 64),
        (Algorithm::RS256, 256),
    ] {
        let token = key(alg).sign(&claims()).unwrap();
        let signature = token.rsplit('.').next().unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(signature).unwrap().len(),
            len,
            "{alg}"
        );
    }
}

#[test]
fn pem_round_trips_for_every_algorithm() {
    for alg in Algorithm::ALL {
        let key = key(alg);
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let again = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(again.algorithm(), alg);
        assert_eq!(again.kid(), key.kid());
        assert_eq!(again.to_pem(), pem);
        let token = again.sign(&claims()).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        assert!(
            key.verifying_key().verify_signature(input.as_bytes(), &sig),
            "{alg}"
        );
    }
}

#[test]
fn reads_openssl_generated_keys() {
    for (pem, alg) in [
        (
            include_str!("../../testdata/openssl-ed25519.pem"),
            Algorithm::EdDSA,
        ),
        (
            include_str!("../../testdata/openssl-p256.pem"),
            Algorithm::ES256,
        ),
        (
            include_str!("../../testdata/openssl-rsa2048.pem"),
            Algorithm::RS256,
        ),
    ] {
        assert_eq!(SigningKey::from_pem(pem).unwrap().algorithm(), alg);
    }
}

#[test]
fn refuses_small_rsa_other_curves_and_other_formats() {
    let err = |pem: &str| SigningKey::from_pem(pem).err().map(|e| e.to_string());
    assert!(matches!(
        SigningKey::from_pem(include_str!("../../testdata/rsa1024.pem")),
        Err(JwtError::RsaKeyTooSmall { bits: 1024 })
    ));
    assert!(matches!(
        SigningKey::from_pem(include_str!("../../testdata/p384.pem")),
        Err(JwtError::UnsupportedKey(_))
    ));
    let pkcs1 = err(include_str!("../../testdata/rsa2048-pkcs1.pem")).unwrap();
    assert!(pkcs1.contains("openssl pkcs8"), "{pkcs1}");
    assert!(matches!(
        SigningKey::from_pem("hello"),
        Err(JwtError::InvalidPem(_))
    ));
    // PKCS#8 armour around bytes that are not a key.
    let junk = pkcs8::encode_pem(&[0x30, 0x03, 0x02, 0x01, 0x00]);
    assert!(SigningKey::from_pem(&junk).is_err());
}

#[test]
fn jwk_round_trip_keeps_kid_algorithm_and_members() {
    for alg in Algorithm::ALL {
        let original = key(alg).verifying_key();
        let jwk = original.to_jwk();
        assert_eq!(jwk.use_, "sig");
        assert_eq!(jwk.alg, alg);
        let parsed = VerifyingKey::from_jwk(&jwk).unwrap();
        assert_eq!(parsed.kid(), original.kid());
        assert_eq!(parsed.to_jwk(), jwk);
        // Without a kid, the thumbprint is used.
        let anonymous = VerifyingKey::from_jwk(&Jwk {
            kid: String::new(),
            ..jwk.clone()
        })
        .unwrap();
        assert_eq!(anonymous.kid(), original.kid());
        // A foreign kid is kept as given.
        let named = VerifyingKey::from_jwk(&Jwk {
            kid: "2024-01".into(),
            ..jwk
        })
        .unwrap();
        assert_eq!(named.kid(), "2024-01");
    }
}

#[test]
fn from_jwk_refuses_mismatched_or_invalid_keys() {
    let ed = key(Algorithm::EdDSA).verifying_key().to_jwk();
    let ec = key(Algorithm::ES256).verifying_key().to_jwk();
    let rsa = key(Algorithm::RS256).verifying_key().to_jwk();

    let refused = |jwk: Jwk| VerifyingKey::from_jwk(&jwk).is_err();
    // kty/crv must match the pinned alg.
    assert!(refused(Jwk {
        alg: Algorithm::ES256,
        ..ed.clone()
    }));
    assert!(refused(Jwk {
        alg: Algorithm::RS256,
        ..ec.clone()
    }));
    assert!(refused(Jwk {
        alg: Algorithm::EdDSA,
        ..rsa.clone()
    }));
    assert!(refused(Jwk {
        crv: Some("P-384".into()),
        ..ec.clone()
    }));
    // Encryption keys are not signature keys.
    assert!(refused(Jwk {
        use_: "enc".into(),
        ..ed.clone()
    }));
    // Bad base64, wrong lengths, points off the curve.
    assert!(refused(Jwk {
        x: Some("!!".into()),
        ..ed.clone()
    }));
    assert!(refused(Jwk {
        x: Some("AAAA".into()),
        ..ed.clone()
    }));
    assert!(refused(Jwk {
        y: None,
        ..ec.clone()
    }));
    assert!(refused(Jwk {
        y: Some(URL_SAFE_NO_PAD.encode([1u8; 32])),
        ..ec
    }));
    // RSA below 2048 bits.
    let small = Jwk {
        n: Some(URL_SAFE_NO_PAD.encode([0xc5u8; 128])),
        ..rsa.clone()
    };
    assert!(matches!(
        VerifyingKey::from_jwk(&small),
        Err(JwtError::RsaKeyTooSmall { bits: 1024 })
    ));
    assert!(refused(Jwk { e: None, ..rsa }));
}

#[test]
fn debug_shows_no_key_material() {
    let key = key(Algorithm::EdDSA);
    let debug = format!("{key:?}");
    assert!(debug.contains(key.kid()) && debug.contains("EdDSA"));
    let pem_body: String = key
        .to_pem()
        .lines()
        .nth(1)
        .unwrap()
        .chars()
        .take(20)
        .collect();
    assert!(!debug.contains(&pem_body));
}
