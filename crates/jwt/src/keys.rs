//! [`SigningKey`] (a pre-parsed aws-lc key pair) and [`VerifyingKey`] (a
//! pre-parsed public key pinned to one algorithm and one `kid`).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
    RsaKeyPair, RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::algorithm::Algorithm;
use crate::claims::AccessTokenClaims;
use crate::error::JwtError;
use crate::jwk::Jwk;
use crate::{jws, pkcs8};

/// Smallest RSA modulus accepted, for signing and for verifying.
const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus aws-lc's `RSA_PKCS1_2048_8192_SHA256` verifies.
const MAX_RSA_BITS: usize = 8192;

/// A private key that signs access tokens.
///
/// Holds the aws-lc key pair parsed once (jsonwebtoken's `EncodingKey` keeps
/// DER and re-parses it on every signature, which doubles the cost for RSA),
/// the base64url header precomputed, and its public half ready for the JWKS.
/// Cloning is cheap (an `Arc`).
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<SigningInner>,
}

struct SigningInner {
    /// The parsed key pair; the only thing that touches private key material.
    pair: KeyPair,
    /// PKCS#8 DER kept for [`SigningKey::to_pem`] (aws-lc cannot re-export an
    /// RSA key infallibly, and `to_pem` must not fail).
    pkcs8: Vec<u8>,
    /// `BASE64URL({"alg":..,"typ":"at+jwt","kid":..})`, identical for every token.
    header_b64: String,
    /// The public half, handed to key sets and JWKS.
    verifying: VerifyingKey,
    /// ECDSA nonces (aws-lc ignores it for Ed25519 and RSA PKCS#1 v1.5).
    rng: SystemRandom,
}

enum KeyPair {
    Ed25519(Ed25519KeyPair),
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
}

// === impl SigningKey ===

impl SigningKey {
    /// A fresh random key: Ed25519, P-256, or 2048-bit RSA.
    pub fn generate(alg: Algorithm) -> Result<SigningKey, JwtError> {
        let (pair, pkcs8) = match alg {
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::generate().map_err(|_| JwtError::Generation)?;
                let der = pair.to_pkcs8v1().map_err(|_| JwtError::Generation)?;
                (KeyPair::Ed25519(pair), der.as_ref().to_vec())
            }
            Algorithm::ES256 => {
                let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| JwtError::Generation)?;
                let der = pair.to_pkcs8v1().map_err(|_| JwtError::Generation)?;
                (KeyPair::Es256(pair), der.as_ref().to_vec())
            }
            Algorithm::RS256 => {
                let pair =
                    RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| JwtError::Generation)?;
                let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| JwtError::Generation)?;
                let der = der.as_ref().to_vec();
                (KeyPair::Rs256(pair), der)
            }
        };
        SigningKey::assemble(pair, pkcs8)
    }

    /// Parses a PKCS#8 `PRIVATE KEY` PEM (as written by [`SigningKey::to_pem`]
    /// or `openssl genpkey`). The algorithm follows from the key: Ed25519 →
    /// EdDSA, P-256 → ES256, RSA (2048 bits or more) → RS256.
    pub fn from_pem(pem: &str) -> Result<SigningKey, JwtError> {
        let der = pkcs8::decode_pem(pem)?;
        let rejected = |e: aws_lc_rs::error::KeyRejected| JwtError::KeyRejected(e.description_());
        let pair = match pkcs8::key_kind(&der)? {
            pkcs8::KeyKind::Ed25519 => {
                KeyPair::Ed25519(Ed25519KeyPair::from_pkcs8(&der).map_err(rejected)?)
            }
            pkcs8::KeyKind::P256 => KeyPair::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map_err(rejected)?,
            ),
            pkcs8::KeyKind::Rsa => {
                if let Some(bits) = pkcs8::rsa_modulus_bits(&der).filter(|&b| b < MIN_RSA_BITS) {
                    return Err(JwtError::RsaKeyTooSmall { bits });
                }
                KeyPair::Rs256(RsaKeyPair::from_pkcs8(&der).map_err(
                    |e| match e.description_() {
                        "TooSmall" => JwtError::RsaKeyTooSmall { bits: 0 },
                        other => JwtError::KeyRejected(other),
                    },
                )?)
            }
        };
        SigningKey::assemble(pair, der)
    }

    /// The key as a PKCS#8 `PRIVATE KEY` PEM; [`SigningKey::from_pem`] reads it back.
    pub fn to_pem(&self) -> String {
        pkcs8::encode_pem(&self.inner.pkcs8)
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        self.inner.verifying.kid()
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.verifying.algorithm()
    }

    /// The public half, for key sets and the JWKS.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.inner.verifying.clone()
    }

    /// Signs `claims` as a compact JWS with header `{"alg","typ":"at+jwt","kid"}`.
    pub fn sign(&self, claims: &AccessTokenClaims) -> Result<String, JwtError> {
        let payload =
            serde_json::to_vec(claims).map_err(|_| JwtError::Signing("claims do not serialize"))?;
        self.sign_compact(&self.inner.header_b64, &payload)
    }

    /// `header_b64 . BASE64URL(payload) . BASE64URL(signature)`.
    pub(crate) fn sign_compact(
        &self,
        header_b64: &str,
        payload: &[u8],
    ) -> Result<String, JwtError> {
        let mut token = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 400);
        token.push_str(header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self.sign_bytes(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, JwtError> {
        match &self.inner.pair {
            KeyPair::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            KeyPair::Es256(pair) => pair
                .sign(&self.inner.rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| JwtError::Signing("ECDSA signature failed")),
            KeyPair::Rs256(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.inner.rng, message, &mut signature)
                    .map_err(|_| JwtError::Signing("RSA signature failed"))?;
                Ok(signature)
            }
        }
    }

    fn assemble(pair: KeyPair, pkcs8: Vec<u8>) -> Result<SigningKey, JwtError> {
        let public = match &pair {
            KeyPair::Ed25519(pair) => PublicKey::Ed25519(pair.public_key().as_ref().to_vec()),
            KeyPair::Es256(pair) => PublicKey::P256(pair.public_key().as_ref().to_vec()),
            KeyPair::Rs256(pair) => {
                let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                PublicKey::Rsa {
                    n: components.n,
                    e: components.e,
                }
            }
        };
        let verifying = VerifyingKey::from_public(public, None)?;
        Ok(SigningKey {
            inner: Arc::new(SigningInner {
                header_b64: jws::encoded_header(verifying.algorithm(), verifying.kid()),
                pair,
                pkcs8,
                verifying,
                rng: SystemRandom::new(),
            }),
        })
    }
}

/// Shows the algorithm and `kid`, never key material.
impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.algorithm())
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

/// A public key that verifies tokens for exactly one `kid` and one algorithm.
///
/// The aws-lc public key is parsed once, at construction. Cloning is cheap.
#[derive(Clone)]
pub struct VerifyingKey {
    inner: Arc<VerifyingInner>,
}

struct VerifyingInner {
    /// The published form; also the source of `kid` and `alg`.
    jwk: Jwk,
    /// Parsed once; aws-lc selects the verification algorithm from it.
    key: ParsedPublicKey,
}

/// Raw public key material, as aws-lc hands it out and JWKs carry it.
enum PublicKey {
    /// 32-byte Ed25519 public key.
    Ed25519(Vec<u8>),
    /// Uncompressed SEC1 point `04 || x || y`, 65 bytes.
    P256(Vec<u8>),
    /// Big-endian modulus and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

// === impl VerifyingKey ===

impl VerifyingKey {
    /// The key id tokens must carry to be checked with this key.
    pub fn kid(&self) -> &str {
        &self.inner.jwk.kid
    }

    /// The only algorithm a token may name to be checked with this key.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.jwk.alg
    }

    /// The key as a JWK (with `kid`, `alg` and `use: sig`).
    pub fn to_jwk(&self) -> Jwk {
        self.inner.jwk.clone()
    }

    /// Parses a JWK. `kty`/`crv` must match `alg` (OKP/Ed25519 for EdDSA,
    /// EC/P-256 for ES256, RSA of 2048..=8192 bits for RS256) and `use`
    /// must be `sig`. The `kid` is kept as given, or is the RFC 7638
    /// thumbprint when the JWK has none.
    pub fn from_jwk(jwk: &Jwk) -> Result<VerifyingKey, JwtError> {
        if jwk.use_ != "sig" {
            return Err(JwtError::InvalidJwk("use is not sig"));
        }
        let member = |value: &Option<String>, what: &'static str| {
            let value = value.as_deref().ok_or(JwtError::InvalidJwk(what))?;
            URL_SAFE_NO_PAD
                .decode(value)
                .map_err(|_| JwtError::InvalidJwk(what))
        };
        let curve = |expected: &str| jwk.crv.as_deref() == Some(expected);
        let public = match (jwk.alg, jwk.kty.as_str()) {
            (Algorithm::EdDSA, "OKP") if curve("Ed25519") => {
                PublicKey::Ed25519(member(&jwk.x, "missing or invalid x")?)
            }
            (Algorithm::ES256, "EC") if curve("P-256") => {
                let x = member(&jwk.x, "missing or invalid x")?;
                let y = member(&jwk.y, "missing or invalid y")?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(JwtError::InvalidJwk("P-256 coordinates must be 32 bytes"));
                }
                PublicKey::P256([&[0x04][..], &x, &y].concat())
            }
            (Algorithm::RS256, "RSA") => PublicKey::Rsa {
                n: member(&jwk.n, "missing or invalid n")?,
                e: member(&jwk.e, "missing or invalid e")?,
            },
            _ => return Err(JwtError::InvalidJwk("kty/crv do not match alg")),
        };
        let kid = Some(jwk.kid.clone()).filter(|kid| !kid.is_empty());
        VerifyingKey::from_public(public, kid)
    }

    /// Whether `signature` is valid for `message` under this key.
    pub(crate) fn verify_signature(&self, message: &[u8], signature: &[u8]) -> bool {
        self.inner.key.verify_sig(message, signature).is_ok()
    }

    fn from_public(public: PublicKey, kid: Option<String>) -> Result<VerifyingKey, JwtError> {
        let b64 = |bytes: &[u8]| Some(URL_SAFE_NO_PAD.encode(bytes));
        let rejected = |e: aws_lc_rs::error::KeyRejected| JwtError::KeyRejected(e.description_());
        let (key, jwk) = match &public {
            PublicKey::Ed25519(x) => (
                ParsedPublicKey::new(&ED25519, x).map_err(rejected)?,
                Jwk::new("OKP", Algorithm::EdDSA).curve("Ed25519", b64(x), None),
            ),
            PublicKey::P256(point) => {
                if point.len() != 65 {
                    return Err(JwtError::InvalidJwk("P-256 point must be uncompressed"));
                }
                let (x, y) = point[1..].split_at(32);
                (
                    ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).map_err(rejected)?,
                    Jwk::new("EC", Algorithm::ES256).curve("P-256", b64(x), b64(y)),
                )
            }
            PublicKey::Rsa { n, e } => {
                let bits = pkcs8::unsigned_bits(n);
                if n.first() == Some(&0) || e.first().is_none_or(|&b| b == 0) {
                    return Err(JwtError::InvalidJwk(
                        "RSA n and e must be minimal big-endian",
                    ));
                }
                if bits < MIN_RSA_BITS {
                    return Err(JwtError::RsaKeyTooSmall { bits });
                }
                if bits > MAX_RSA_BITS {
                    return Err(JwtError::InvalidJwk("RSA modulus larger than 8192 bits"));
                }
                let components = RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                };
                let mut jwk = Jwk::new("RSA", Algorithm::RS256);
                jwk.n = b64(n);
                jwk.e = b64(e);
                (
                    components
                        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
                        .map_err(rejected)?,
                    jwk,
                )
            }
        };
        let kid = match kid {
            Some(kid) => kid,
            None => jwk.thumbprint()?,
        };
        Ok(VerifyingKey {
            inner: Arc::new(VerifyingInner {
                jwk: Jwk { kid, ..jwk },
                key,
            }),
        })
    }
}

/// Shows the algorithm and `kid`.
impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.algorithm())
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

// === impl Jwk (construction helpers) ===

impl Jwk {
    fn new(kty: &str, alg: Algorithm) -> Jwk {
        Jwk {
            kty: kty.to_owned(),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
            kid: String::new(),
            alg,
            use_: "sig".to_owned(),
        }
    }

    fn curve(self, crv: &str, x: Option<String>, y: Option<String>) -> Jwk {
        Jwk {
            crv: Some(crv.to_owned()),
            x,
            y,
            ..self
        }
    }
}

#[cfg(test)]
mod tests;
