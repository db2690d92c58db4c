//! Sign and verify per algorithm through scopegate-jwt (pre-parsed aws-lc
//! keys), next to the same operations through plain `jsonwebtoken` 11
//! (`EncodingKey::from_*_pem` / `DecodingKey::from_jwk`, which re-parse the
//! key on every call), so the gain is measured in one run.
//!
//! Run: `cargo bench -p scopegate-jwt -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use scopegate_jwt::{
    AccessTokenClaims, Algorithm, Audience, KeySet, SigningKey, Verifier, unix_now,
};

const ISSUER: &str = "https://scopegate.example";
const AUDIENCE: &str = "shopping-api";

fn claims() -> AccessTokenClaims {
    let now = unix_now();
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "harry".into(),
        aud: Audience::from(AUDIENCE),
        exp: now + 3600,
        iat: now,
        nbf: now,
        jti: "0b5d3c1e-8f1a-4a57-9d59-3b1c2f6a7e11".into(),
        client_id: "shopping-app".into(),
        scope: "item_view order_view order_add".into(),
        username: Some("harry".into()),
        sid: None,
    }
}

fn theirs(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
    }
}

fn encoding_key(key: &SigningKey) -> jsonwebtoken::EncodingKey {
    let pem = key.to_pem();
    match key.algorithm() {
        Algorithm::EdDSA => jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()),
        Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()),
        Algorithm::RS256 => jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()),
    }
    .expect("jsonwebtoken reads our PKCS#8 PEM")
}

fn decoding_key(key: &SigningKey) -> jsonwebtoken::DecodingKey {
    let json = serde_json::to_string(&key.verifying_key().to_jwk()).expect("JWK serializes");
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_str(&json).expect("jsonwebtoken reads our JWK");
    jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("valid JWK")
}

fn sign_verify(c: &mut Criterion) {
    let claims = claims();
    for alg in Algorithm::ALL {
        let key = SigningKey::generate(alg).expect("key generation");
        let token = key.sign(&claims).expect("signing");
        let verifier = Verifier::new(Arc::new(KeySet::new(key.clone())), ISSUER, AUDIENCE, 60);
        let now = unix_now();

        let mut header = jsonwebtoken::Header::new(theirs(alg));
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid().into());
        let encoding = encoding_key(&key);
        let decoding = decoding_key(&key);
        let mut validation = jsonwebtoken::Validation::new(theirs(alg));
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);

        let mut group = c.benchmark_group(alg.as_str());
        group.bench_function("sign/scopegate", |b| {
            b.iter(|| key.sign(black_box(&claims)))
        });
        group.bench_function("sign/jsonwebtoken", |b| {
            b.iter(|| jsonwebtoken::encode(&header, black_box(&claims), &encoding))
        });
        group.bench_function("verify/scopegate", |b| {
            b.iter(|| verifier.verify(black_box(&token), now))
        });
        group.bench_function("verify/jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<AccessTokenClaims>(black_box(&token), &decoding, &validation)
            })
        });
        group.finish();
    }
}

criterion_group!(benches, sign_verify);
criterion_main!(benches);
