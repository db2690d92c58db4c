//! JSON Web Keys (RFC 7517) as published on the JWKS endpoint, and RFC 7638 thumbprints.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::algorithm::Algorithm;
use crate::error::JwtError;

/// One public signing key in JWK form.
///
/// Only the members scopegate uses are modelled; unknown members (`x5c`,
/// `key_ops`, ...) are ignored when parsing.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    /// Key type: `OKP` (Ed25519), `EC` (P-256) or `RSA`.
    pub kty: String,
    /// Curve for `OKP`/`EC` keys: `Ed25519` or `P-256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Public key (`OKP`) or x coordinate (`EC`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// y coordinate (`EC`), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus, base64url big-endian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url big-endian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Key id: tokens name their key with it. scopegate uses the RFC 7638
    /// thumbprint; when parsing, an absent or empty `kid` means "use the thumbprint".
    #[serde(default)]
    pub kid: String,
    /// The only algorithm this key may verify (the verifier pins it).
    pub alg: Algorithm,
    /// Public key use; always `sig` for scopegate keys.
    #[serde(rename = "use", default = "sig")]
    pub use_: String,
}

fn sig() -> String {
    "sig".to_owned()
}

/// A JWK Set (RFC 7517 §5), the body of `/.well-known/jwks.json`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Jwks {
    /// The keys, signing key first.
    pub keys: Vec<Jwk>,
}

// === impl Jwk ===

impl Jwk {
    /// The RFC 7638 thumbprint: SHA-256 over the required members in
    /// lexicographic order, base64url without padding.
    pub fn thumbprint(&self) -> Result<String, JwtError> {
        let member = |value: &Option<String>, what| {
            value
                .as_deref()
                .map(json_string)
                .ok_or(JwtError::InvalidJwk(what))
        };
        let canonical = match self.kty.as_str() {
            "OKP" => format!(
                r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
                member(&self.crv, "OKP key without crv")?,
                member(&self.x, "OKP key without x")?,
            ),
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                member(&self.crv, "EC key without crv")?,
                member(&self.x, "EC key without x")?,
                member(&self.y, "EC key without y")?,
            ),
            "RSA" => format!(
                r#"{{"e":{},"kty":"RSA","n":{}}}"#,
                member(&self.e, "RSA key without e")?,
                member(&self.n, "RSA key without n")?,
            ),
            _ => return Err(JwtError::InvalidJwk("unsupported kty")),
        };
        Ok(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes())))
    }
}

/// A JSON string literal (members are base64url in practice, but escape anyway).
fn json_string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1.
    #[test]
    fn thumbprint_matches_rfc7638_example() {
        let json = r#"{
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }"#;
        let jwk: Jwk = serde_json::from_str(json).unwrap();
        assert_eq!(jwk.use_, "sig");
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn serializes_rfc7517_member_names() {
        let jwk = Jwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some("abc".into()),
            y: None,
            n: None,
            e: None,
            kid: "k".into(),
            alg: Algorithm::EdDSA,
            use_: "sig".into(),
        };
        let json = serde_json::to_value(&jwk).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kty":"OKP","crv":"Ed25519","x":"abc","kid":"k","alg":"EdDSA","use":"sig"})
        );
    }

    #[test]
    fn thumbprint_needs_the_required_members() {
        let mut jwk: Jwk =
            serde_json::from_str(r#"{"kty":"EC","crv":"P-256","x":"a","alg":"ES256"}"#).unwrap();
        assert!(matches!(jwk.thumbprint(), Err(JwtError::InvalidJwk(_))));
        jwk.kty = "oct".into();
        assert!(jwk.thumbprint().is_err());
    }
}
