//! Keys, signing, verification and JWKS for scopegate's JWT access tokens.
//!
//! scopegate issues RFC 9068 access tokens (`typ: at+jwt`) signed with EdDSA
//! by default, or ES256 / RS256. Every key is identified by its RFC 7638
//! thumbprint (`kid`) and pinned to one algorithm; the [`Verifier`] finds the
//! key by `kid` and refuses any token whose `alg` differs, which closes the
//! `alg: none` and HMAC/RSA confusion attacks by construction. Time is always
//! passed in by the caller.
//!
//! # Design: compact JWS built here, around pre-parsed aws-lc-rs keys
//!
//! jsonwebtoken 11's `EncodingKey`/`DecodingKey` hold DER bytes, and its
//! process-wide `CryptoProvider` builds a fresh signer from those bytes on
//! every call (its factory receives only the `EncodingKey`), so each
//! signature re-parses the key. `benches/sign_verify.rs` measures the cost on
//! the same machine and run: RS256 signing 555 µs through jsonwebtoken versus
//! 226 µs here, ES256 21 µs versus 13 µs, EdDSA 13 µs versus 7 µs. So this crate
//! writes the compact serialization itself (`jws.rs`, a hundred lines),
//! signs with aws-lc-rs key pairs parsed once (`Ed25519KeyPair`, `EcdsaKeyPair`
//! with fixed-length signatures, `RsaKeyPair`), verifies with
//! `ParsedPublicKey`s, and precomputes each key's header. jsonwebtoken is
//! only a dev-dependency: the tests check interoperability both ways (its
//! decoder accepts our tokens and JWKS; we accept its tokens) and the
//! benchmark keeps it as the baseline.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use scopegate_jwt::{AccessTokenClaims, Algorithm, KeySet, SigningKey, Verifier, VerifyError};
//!
//! let key = SigningKey::generate(Algorithm::EdDSA)?;
//! let claims = AccessTokenClaims {
//!     iss: "https://auth.example".into(),
//!     sub: "harry".into(),
//!     aud: "shopping-api".into(),
//!     exp: 1_700_000_300,
//!     iat: 1_700_000_000,
//!     nbf: 1_700_000_000,
//!     jti: "5c1e".into(),
//!     client_id: "shopping-app".into(),
//!     scope: "order_view".into(),
//!     username: Some("harry".into()),
//!     sid: None,
//! };
//! let token = key.sign(&claims)?;
//!
//! let keys = Arc::new(KeySet::new(key));
//! let verifier = Verifier::new(keys.clone(), "https://auth.example", "shopping-api", 30);
//! assert_eq!(verifier.verify(&token, 1_700_000_100), Ok(claims));
//! assert_eq!(verifier.verify(&token, 1_700_000_331), Err(VerifyError::Expired));
//! let jwks_json = serde_json::to_string(&keys.jwks())?; // GET /.well-known/jwks.json
//! # assert!(jwks_json.contains("\"kty\":\"OKP\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//!
//! - [`algorithm`](Algorithm): `EdDSA` / `ES256` / `RS256` and their names.
//! - `keys`: [`SigningKey`] (generate, PKCS#8 PEM in and out, sign) and
//!   [`VerifyingKey`] (JWK in and out, signature check).
//! - `keyset`: [`KeySet`], the signing key plus verify-only keys by `kid`; the JWKS.
//! - `jwk`: [`Jwk`] / [`Jwks`] (RFC 7517) and the RFC 7638 thumbprint.
//! - `claims`: [`AccessTokenClaims`] and [`Audience`] (RFC 9068 §2.2).
//! - `verify`: [`Verifier`], the ordered checks a token must pass, over a [`KeySet`]
//!   or over public keys only ([`Verifier::from_keys`], for resource servers).
//! - `jws`: compact serialization: the header written, strict splitting and base64url.
//! - `pkcs8`: PEM armour and key-type detection for PKCS#8 private keys.
//! - `error`: [`JwtError`] (keys, signing) and [`VerifyError`] (tokens, client-safe messages).

#![forbid(unsafe_code)]
#![deny(rust_2018_idioms, missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod algorithm;
mod claims;
mod error;
mod jwk;
mod jws;
mod keys;
mod keyset;
mod pkcs8;
mod verify;

#[cfg(test)]
mod test_support;

pub use algorithm::Algorithm;
pub use claims::{AccessTokenClaims, Audience};
pub use error::{JwtError, VerifyError};
pub use jwk::{Jwk, Jwks};
pub use keys::{SigningKey, VerifyingKey};
pub use keyset::KeySet;
pub use verify::Verifier;

/// Seconds since the Unix epoch by the system clock (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
