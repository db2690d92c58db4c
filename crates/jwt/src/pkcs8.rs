//! PKCS#8 plumbing: PEM armour and telling which key type a `PrivateKeyInfo` holds.
//!
//! Peeking at the algorithm OID (instead of trying every parser in turn)
//! gives precise errors: "RSA key too small" or "unsupported curve" rather
//! than a generic refusal.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::JwtError;

const PEM_LABEL: &str = "PRIVATE KEY";

/// The key type named by a PKCS#8 `AlgorithmIdentifier`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// OID 1.3.101.112.
    Ed25519,
    /// id-ecPublicKey with the prime256v1 curve.
    P256,
    /// rsaEncryption.
    Rsa,
}

/// The DER inside a `-----BEGIN PRIVATE KEY-----` block.
pub(crate) fn decode_pem(pem: &str) -> Result<Vec<u8>, JwtError> {
    let begin = pem
        .find("-----BEGIN ")
        .ok_or(JwtError::InvalidPem("no BEGIN line"))?;
    let rest = &pem[begin + "-----BEGIN ".len()..];
    let label_end = rest
        .find("-----")
        .ok_or(JwtError::InvalidPem("bad BEGIN line"))?;
    match &rest[..label_end] {
        PEM_LABEL => {}
        "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
            return Err(JwtError::InvalidPem(
                "PKCS#1/SEC1 key; convert with `openssl pkcs8 -topk8 -nocrypt`",
            ));
        }
        "ENCRYPTED PRIVATE KEY" => {
            return Err(JwtError::InvalidPem("encrypted keys are not supported"));
        }
        _ => return Err(JwtError::InvalidPem("expected a PKCS#8 PRIVATE KEY block")),
    }
    let body = &rest[label_end + "-----".len()..];
    let end = body
        .find("-----END PRIVATE KEY-----")
        .ok_or(JwtError::InvalidPem("no matching END line"))?;
    let b64: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(b64)
        .map_err(|_| JwtError::InvalidPem("body is not base64"))
}

/// PEM armour for PKCS#8 DER, 64 columns, trailing newline.
pub(crate) fn encode_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

/// Which key `PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, ... }` holds.
pub(crate) fn key_kind(der: &[u8]) -> Result<KeyKind, JwtError> {
    const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    const NOT_PKCS8: JwtError = JwtError::InvalidPem("DER is not a PKCS#8 PrivateKeyInfo");

    let (info, _) = read_tlv(der, TAG_SEQUENCE).ok_or(NOT_PKCS8)?;
    let (_version, rest) = read_tlv(info, TAG_INTEGER).ok_or(NOT_PKCS8)?;
    let (alg_id, _) = read_tlv(rest, TAG_SEQUENCE).ok_or(NOT_PKCS8)?;
    let (oid, params) = read_tlv(alg_id, TAG_OID).ok_or(NOT_PKCS8)?;
    match oid {
        OID_ED25519 => Ok(KeyKind::Ed25519),
        OID_RSA => Ok(KeyKind::Rsa),
        OID_EC_PUBLIC_KEY => match read_tlv(params, TAG_OID) {
            Some((OID_P256, _)) => Ok(KeyKind::P256),
            _ => Err(JwtError::UnsupportedKey("EC curve other than P-256")),
        },
        _ => Err(JwtError::UnsupportedKey("unknown key algorithm")),
    }
}

/// Bit length of the modulus of an RSA PKCS#8 key, read before aws-lc parses
/// it so a short key gets a precise error. `None` if the DER does not have the
/// expected shape (aws-lc then reports the problem).
pub(crate) fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let (info, _) = read_tlv(der, TAG_SEQUENCE)?;
    let (_version, rest) = read_tlv(info, TAG_INTEGER)?;
    let (_alg_id, rest) = read_tlv(rest, TAG_SEQUENCE)?;
    let (private_key, _) = read_tlv(rest, TAG_OCTET_STRING)?;
    let (rsa_private_key, _) = read_tlv(private_key, TAG_SEQUENCE)?;
    let (_version, rest) = read_tlv(rsa_private_key, TAG_INTEGER)?;
    let (modulus, _) = read_tlv(rest, TAG_INTEGER)?;
    Some(unsigned_bits(modulus))
}

/// Bit length of a big-endian unsigned integer (leading zero bytes ignored).
pub(crate) fn unsigned_bits(bytes: &[u8]) -> usize {
    match bytes.iter().position(|&b| b != 0) {
        Some(first) => (bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize,
        None => 0,
    }
}

const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// Reads one DER element with the expected tag: `(contents, rest)`.
fn read_tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&actual, input) = input.split_first()?;
    if actual != tag {
        return None;
    }
    let (&first, mut input) = input.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || input.len() < count {
            return None;
        }
        let (bytes, rest) = input.split_at(count);
        input = rest;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    (input.len() >= len).then(|| input.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = encode_pem(&der);
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(decode_pem(&pem).unwrap(), der);
    }

    #[test]
    fn refuses_other_labels_and_garbage() {
        for bad in [
            "",
            "not a pem",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n",
        ] {
            assert!(
                matches!(decode_pem(bad), Err(JwtError::InvalidPem(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reads_rsa_modulus_size() {
        let small = decode_pem(include_str!("../testdata/rsa1024.pem")).unwrap();
        assert_eq!(rsa_modulus_bits(&small), Some(1024));
        let big = decode_pem(include_str!("../testdata/openssl-rsa2048.pem")).unwrap();
        assert_eq!(rsa_modulus_bits(&big), Some(2048));
        assert_eq!(unsigned_bits(&[0, 0, 0x01, 0xff]), 9);
        assert_eq!(unsigned_bits(&[0]), 0);
    }

    #[test]
    fn key_kind_rejects_truncated_der_without_panicking() {
        let der = decode_pem(include_str!("../testdata/openssl-p256.pem")).unwrap();
        assert_eq!(key_kind(&der).unwrap(), KeyKind::P256);
        for len in 0..der.len() {
            let _ = key_kind(&der[..len]);
        }
        assert!(key_kind(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
