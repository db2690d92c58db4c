//! The three JWS signature algorithms scopegate signs and verifies with.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::JwtError;

/// A JWS `alg` value (RFC 7518 / RFC 8037) that scopegate supports.
///
/// Each key is pinned to exactly one algorithm; a token whose header names a
/// different one is refused before any signature check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// Ed25519 signatures (RFC 8037). The default: small keys, fast, deterministic.
    #[default]
    EdDSA,
    /// ECDSA on P-256 with SHA-256, fixed-length `r || s` signatures.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, for consumers that only speak RSA.
    RS256,
}

// === impl Algorithm ===

impl Algorithm {
    /// Every supported algorithm, default first.
    pub const ALL: [Algorithm; 3] = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256];

    /// The exact JWS `alg` string (case sensitive, as it appears in headers and JWKs).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
            Algorithm::RS256 => "RS256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses configuration values; case-insensitive (`eddsa`, `es256`, `RS256`).
///
/// Token headers are *not* parsed with this: the verifier compares the header's
/// `alg` byte for byte with [`Algorithm::as_str`].
impl FromStr for Algorithm {
    type Err = JwtError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| JwtError::UnsupportedAlgorithm(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_eddsa() {
        assert_eq!(Algorithm::default(), Algorithm::EdDSA);
    }

    #[test]
    fn display_from_str_and_serde_agree() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.to_string().parse::<Algorithm>().ok(), Some(alg));
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(json, format!("\"{alg}\""));
            assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), alg);
        }
    }

    #[test]
    fn from_str_is_case_insensitive_and_refuses_others() {
        assert_eq!("eddsa".parse::<Algorithm>().ok(), Some(Algorithm::EdDSA));
        assert_eq!("es256".parse::<Algorithm>().ok(), Some(Algorithm::ES256));
        assert!("HS256".parse::<Algorithm>().is_err());
        assert!("none".parse::<Algorithm>().is_err());
    }
}
