//! [`Verifier`]: every check an access token must pass, in a fixed order.

use std::sync::Arc;

use crate::claims::AccessTokenClaims;
use crate::error::VerifyError;
use crate::jws::{self, ACCESS_TOKEN_TYP};
use crate::keys::VerifyingKey;
use crate::keyset::KeySet;

/// Verifies access tokens against a key set, an issuer and an audience.
///
/// Checks, in order (the first failure is returned):
/// 1. shape: at most 8 KiB, three base64url parts, a JSON header without `crit`;
/// 2. `kid` present ([`VerifyError::MissingKid`]) and known ([`VerifyError::UnknownKey`]);
/// 3. `alg` exactly the key's pinned algorithm ([`VerifyError::AlgorithmMismatch`]):
///    this is what refuses `none` and HMAC-with-the-public-key forgeries;
/// 4. `typ` is `at+jwt` or `application/at+jwt`, any case ([`VerifyError::WrongType`]);
/// 5. the signature ([`VerifyError::BadSignature`]); only then is the payload parsed;
/// 6. `iss`, `aud` (string or array), `exp`, `nbf` against the caller's `now`.
///
/// Time comes from the caller, never from the clock, so tests and replays are exact.
///
/// The keys are either the issuer's own [`KeySet`] ([`Verifier::new`]) or
/// public keys only ([`Verifier::from_keys`]), as a resource server that
/// fetched the JWKS holds them.
#[derive(Clone, Debug)]
pub struct Verifier {
    /// Keys looked up by the header's `kid`.
    keys: Keys,
    /// The only accepted `iss`.
    issuer: String,
    /// Must appear in `aud`.
    audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    leeway_secs: u64,
}

/// Where a [`Verifier`] finds the key named by a token's `kid`.
#[derive(Clone, Debug)]
enum Keys {
    /// The issuer's key set: the signing key's public half and verify-only keys.
    Signing(Arc<KeySet>),
    /// Public keys only, unique by `kid` (a handful, so a linear scan).
    VerifyOnly(Arc<[VerifyingKey]>),
}

// === impl Keys ===

impl Keys {
    fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        match self {
            Keys::Signing(set) => set.get(kid),
            Keys::VerifyOnly(keys) => keys.iter().find(|k| k.kid() == kid),
        }
    }
}

// === impl Verifier ===

impl Verifier {
    /// A verifier accepting tokens from `issuer` for `audience`, with
    /// `leeway_secs` of tolerated clock skew.
    pub fn new(
        keys: Arc<KeySet>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        leeway_secs: u64,
    ) -> Verifier {
        Verifier {
            keys: Keys::Signing(keys),
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs,
        }
    }

    /// A verifier over public keys only, for a resource server that holds no
    /// signing key (for example keys parsed from a JWKS with
    /// [`VerifyingKey::from_jwk`]). When several keys share a `kid`, the
    /// first one is kept and the others are ignored.
    pub fn from_keys(
        keys: impl IntoIterator<Item = VerifyingKey>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        leeway_secs: u64,
    ) -> Verifier {
        let mut unique: Vec<VerifyingKey> = Vec::new();
        for key in keys {
            if unique.iter().all(|k| k.kid() != key.kid()) {
                unique.push(key);
            }
        }
        Verifier {
            keys: Keys::VerifyOnly(unique.into()),
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs,
        }
    }

    /// Checks `token` as of `now_unix_secs` and returns its claims.
    pub fn verify(
        &self,
        token: &str,
        now_unix_secs: u64,
    ) -> Result<AccessTokenClaims, VerifyError> {
        let parts = jws::split(token)?;
        let header = &parts.header;
        let kid = header.kid.as_deref().ok_or(VerifyError::MissingKid)?;
        let key = self.keys.get(kid).ok_or(VerifyError::UnknownKey)?;
        if header.alg != key.algorithm().as_str() {
            return Err(VerifyError::AlgorithmMismatch);
        }
        if !header.typ.as_deref().is_some_and(is_access_token_typ) {
            return Err(VerifyError::WrongType);
        }
        if !key.verify_signature(parts.signing_input.as_bytes(), &parts.signature) {
            return Err(VerifyError::BadSignature);
        }

        let payload = jws::decode_part(parts.payload_b64, "payload")?;
        let claims: AccessTokenClaims = jws::from_json_object(&payload).ok_or_else(|| {
            VerifyError::malformed("claims are not a valid access token claim set")
        })?;
        if claims.iss != self.issuer {
            return Err(VerifyError::WrongIssuer);
        }
        if !claims.aud.contains(&self.audience) {
            return Err(VerifyError::WrongAudience);
        }
        if now_unix_secs > claims.exp.saturating_add(self.leeway_secs) {
            return Err(VerifyError::Expired);
        }
        if claims.nbf > now_unix_secs.saturating_add(self.leeway_secs) {
            return Err(VerifyError::NotYetValid);
        }
        Ok(claims)
    }
}

/// RFC 9068 §2.1 `typ`; media types are case-insensitive and may carry the
/// `application/` prefix (RFC 7515 §4.1.9).
fn is_access_token_typ(typ: &str) -> bool {
    const PREFIX: &str = "application/";
    let subtype = match typ.get(..PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => &typ[PREFIX.len()..],
        _ => typ,
    };
    subtype.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
}

#[cfg(test)]
mod tests;
