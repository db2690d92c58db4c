//! Errors: [`JwtError`] for key handling and signing, [`VerifyError`] for tokens.

use thiserror::Error;

/// A problem with a key: parsing, generating, converting, or signing with it.
///
/// These are operator-facing (bad configuration, bad key file); the messages
/// never contain key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The text is not a PEM block with the `PRIVATE KEY` (PKCS#8) label.
    #[error("invalid PEM: {0}")]
    InvalidPem(&'static str),
    /// The PEM is PKCS#8 but holds a key type or curve scopegate does not sign with.
    #[error("unsupported private key: {0} (expected PKCS#8 Ed25519, P-256 or RSA >= 2048 bits)")]
    UnsupportedKey(&'static str),
    /// An RSA key shorter than 2048 bits.
    #[error("RSA key too small: {bits} bits (at least 2048 required)")]
    RsaKeyTooSmall {
        /// Size of the refused modulus in bits (0 when aws-lc refused it before we could tell).
        bits: usize,
    },
    /// aws-lc refused the key material (inconsistent, wrong encoding, ...).
    #[error("key rejected: {0}")]
    KeyRejected(&'static str),
    /// The algorithm name is not one of `EdDSA`, `ES256`, `RS256`.
    #[error("unsupported algorithm {0:?} (expected EdDSA, ES256 or RS256)")]
    UnsupportedAlgorithm(String),
    /// A JWK that cannot be turned into a verifying key.
    #[error("invalid JWK: {0}")]
    InvalidJwk(&'static str),
    /// Key generation failed inside aws-lc (entropy or internal error).
    #[error("key generation failed")]
    Generation,
    /// Producing a signature or encoding the claims failed.
    #[error("signing failed: {0}")]
    Signing(&'static str),
}

/// Why a token was refused.
///
/// The messages are safe to show to a client (for example in an RFC 6750
/// `error_description`): they name the failed check, never the token's
/// content, and [`VerifyError::Malformed`] carries only fixed descriptions.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// The token is not a well-formed compact JWS carrying RFC 9068 claims.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header has no `kid`; scopegate never guesses the key.
    #[error("token header has no key id")]
    MissingKid,
    /// No key with the header's `kid` is known (never issued here, or retired).
    #[error("token was signed with an unknown key")]
    UnknownKey,
    /// The header's `alg` differs from the algorithm the key is pinned to
    /// (this also refuses `none` and HMAC algorithms).
    #[error("token algorithm does not match its key")]
    AlgorithmMismatch,
    /// The header's `typ` is not `at+jwt` (RFC 9068 §2.1).
    #[error("token is not an access token (typ must be at+jwt)")]
    WrongType,
    /// The signature does not verify with the key.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` (plus leeway) is in the past.
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iss` is not this service's issuer.
    #[error("token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not contain the expected audience.
    #[error("token is not intended for this audience")]
    WrongAudience,
}

impl VerifyError {
    pub(crate) fn malformed(what: &str) -> VerifyError {
        VerifyError::Malformed(what.to_owned())
    }
}
