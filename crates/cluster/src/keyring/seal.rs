//! [`Kek`]: the key-encryption key that seals signing keys before they are written to Redis.
//!
//! AES-256-GCM with a random 96-bit nonce per seal and the key's `kid` as associated data, so a
//! sealed key cannot be passed off under another `kid`. The stored form is
//! `base64url(nonce ‖ ciphertext ‖ tag)`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::error::ClusterError;

/// A key-encryption key. `Debug` never prints it.
pub struct Kek(RandomizedNonceKey);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

// === impl Kek ===

impl Kek {
    /// A KEK from its base64 (standard or URL-safe, padded or not) encoding of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, ClusterError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| {
                ClusterError::Config(
                    "the key-encryption key is not base64 (generate one with `openssl rand -base64 32`)"
                        .into(),
                )
            })?;
        if bytes.len() != 32 {
            return Err(ClusterError::Config(format!(
                "the key-encryption key must be 32 bytes (AES-256), got {}",
                bytes.len()
            )));
        }
        RandomizedNonceKey::new(&AES_256_GCM, &bytes)
            .map(Self)
            .map_err(|_| ClusterError::Config("the key-encryption key was refused".into()))
    }

    /// Seals `plaintext` bound to `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<String, ClusterError> {
        let mut buf = plaintext.to_vec();
        let nonce = self
            .0
            .seal_in_place_append_tag(Aad::from(kid.as_bytes()), &mut buf)
            .map_err(|_| ClusterError::Config("sealing a signing key failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens what [`Kek::seal`] produced for `kid`. Fails when the KEK differs, the `kid` differs
    /// or the text was altered.
    pub fn open(&self, kid: &str, sealed: &str) -> Result<Vec<u8>, ClusterError> {
        let corrupt = |reason: &str| ClusterError::Corrupt {
            key: format!("signing key {kid}"),
            reason: reason.to_owned(),
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| corrupt("sealed key is not base64url"))?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(corrupt("sealed key is too short"));
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt("bad nonce"))?;
        let mut rest = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut rest)
            .map_err(|_| {
                corrupt("cannot be opened with this key-encryption key (wrong KEK, or tampered)")
            })?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn round_trip_bound_to_kid() {
        let kek = Kek::from_base64(KEK).unwrap();
        let sealed = kek.seal("kid-1", b"private").unwrap();
        assert_eq!(kek.open("kid-1", &sealed).unwrap(), b"private");
        assert!(kek.open("kid-2", &sealed).is_err());
        let other = Kek::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        assert!(other.open("kid-1", &sealed).is_err());
        assert!(!sealed.contains("private"));
    }

    #[test]
    fn refuses_short_or_garbled_keks() {
        assert!(Kek::from_base64("c2hvcnQ=").is_err());
        assert!(Kek::from_base64("not base64 at all!").is_err());
        assert!(format!("{:?}", Kek::from_base64(KEK).unwrap()) == "Kek(..)");
    }
}
