//! [`KeySet`]: the key that signs now plus the keys that still verify.

use crate::jwk::Jwks;
use crate::keys::{SigningKey, VerifyingKey};

/// One signing key and any number of verify-only keys, looked up by `kid`.
///
/// Immutable once built: rotation builds a new set (new signing key, the old
/// one kept as verify-only) and swaps an `Arc<KeySet>`, so readers never lock.
#[derive(Clone, Debug)]
pub struct KeySet {
    /// Signs every new token.
    signing: SigningKey,
    /// The signing key's public half first, then verify-only keys in
    /// insertion order. Key sets hold a handful of keys, so a linear scan
    /// beats hashing.
    verifying: Vec<VerifyingKey>,
}

// === impl KeySet ===

impl KeySet {
    /// A set whose only key is `signing` (which also verifies).
    pub fn new(signing: SigningKey) -> KeySet {
        let verifying = vec![signing.verifying_key()];
        KeySet { signing, verifying }
    }

    /// Adds a verify-only key (for example a retired signing key or another
    /// node's key). A key with the same `kid` as an earlier verify-only key
    /// replaces it; one with the signing key's `kid` is ignored, so the
    /// signing key always verifies its own tokens.
    pub fn with_verifying(mut self, key: VerifyingKey) -> KeySet {
        match self.verifying.iter().position(|k| k.kid() == key.kid()) {
            Some(0) => {}
            Some(i) => self.verifying[i] = key,
            None => self.verifying.push(key),
        }
        self
    }

    /// The key that signs new tokens.
    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// The key with this `kid`, the signing key's public half included.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.iter().find(|k| k.kid() == kid)
    }

    /// Every public key, signing key first: the JWKS endpoint's body.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.verifying.iter().map(VerifyingKey::to_jwk).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;
    use crate::test_support::key;

    #[test]
    fn jwks_lists_signing_then_verify_only_keys() {
        let signing = key(Algorithm::EdDSA);
        let old = key(Algorithm::ES256).verifying_key();
        let rsa = key(Algorithm::RS256).verifying_key();
        let set = KeySet::new(signing.clone())
            .with_verifying(old.clone())
            .with_verifying(rsa.clone());
        let kids: Vec<_> = set.jwks().keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, [signing.kid(), old.kid(), rsa.kid()]);
        assert_eq!(
            set.get(signing.kid()).map(|k| k.algorithm()),
            Some(Algorithm::EdDSA)
        );
        assert_eq!(
            set.get(rsa.kid()).map(|k| k.algorithm()),
            Some(Algorithm::RS256)
        );
        assert!(set.get("nope").is_none());
        assert_eq!(set.signing().kid(), signing.kid());
    }

    #[test]
    fn same_kid_replaces_verify_only_but_never_the_signing_key() {
        let signing = key(Algorithm::EdDSA);
        let other = key(Algorithm::ES256).verifying_key();
        let mut impostor = other.to_jwk();
        impostor.kid = signing.kid().to_owned();
        let impostor = VerifyingKey::from_jwk(&impostor).unwrap();

        let set = KeySet::new(signing.clone())
            .with_verifying(impostor)
            .with_verifying(other.clone())
            .with_verifying(other.clone());
        assert_eq!(set.jwks().keys.len(), 2);
        assert_eq!(
            set.get(signing.kid()).map(|k| k.algorithm()),
            Some(Algorithm::EdDSA)
        );

        let mut renamed = key(Algorithm::RS256).verifying_key().to_jwk();
        renamed.kid = other.kid().to_owned();
        let set = set.with_verifying(VerifyingKey::from_jwk(&renamed).unwrap());
        assert_eq!(set.jwks().keys.len(), 2);
        assert_eq!(
            set.get(other.kid()).map(|k| k.algorithm()),
            Some(Algorithm::RS256)
        );
    }
}
