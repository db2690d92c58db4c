//! Shared fixtures for the unit tests: one cached key per algorithm (RSA
//! generation is slow) and a claim set valid at [`NOW`].

use std::sync::OnceLock;

use crate::{AccessTokenClaims, Algorithm, Audience, SigningKey};

/// The `now` the fixture claims are valid at.
pub(crate) const NOW: u64 = 1_700_000_000;
pub(crate) const ISSUER: &str = "https://scopegate.test";
pub(crate) const AUDIENCE: &str = "shopping-api";

/// A signing key per algorithm, generated once per test binary.
pub(crate) fn key(alg: Algorithm) -> SigningKey {
    static KEYS: [OnceLock<SigningKey>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = Algorithm::ALL.iter().position(|&a| a == alg).unwrap();
    KEYS[slot]
        .get_or_init(|| SigningKey::generate(alg).unwrap())
        .clone()
}

/// Claims valid from `NOW - 10` to `NOW + 300`.
pub(crate) fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "harry".into(),
        aud: Audience::from(AUDIENCE),
        exp: NOW + 300,
        iat: NOW - 10,
        nbf: NOW - 10,
        jti: "3f1c2a".into(),
        client_id: "shopping-app".into(),
        scope: "order_view order_add".into(),
        username: Some("harry".into()),
        sid: None,
    }
}
