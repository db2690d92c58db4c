//! Compact JWS serialization (RFC 7515 §7.1): the header scopegate writes and
//! the strict splitting/decoding the verifier relies on.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::algorithm::Algorithm;
use crate::error::VerifyError;

/// Longest token the verifier looks at; anything longer is refused unread.
pub(crate) const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The `typ` scopegate writes (RFC 9068 §2.1).
pub(crate) const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// A JOSE header as read from a token.
///
/// Unknown members are ignored except `crit`, which names extensions the
/// verifier would have to understand (RFC 7515 §4.1.11): it understands none.
/// Duplicate members are a parse error (serde refuses them), so two parsers
/// can never disagree on which `alg` a token has.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct Header {
    pub(crate) alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) crit: Option<serde_json::Value>,
}

/// The base64url header scopegate signs with: computed once per key.
pub(crate) fn encoded_header(alg: Algorithm, kid: &str) -> String {
    let header = Header {
        alg: alg.as_str().to_owned(),
        typ: Some(ACCESS_TOKEN_TYP.to_owned()),
        kid: Some(kid.to_owned()),
        crit: None,
    };
    // Serializing a struct of strings cannot fail.
    let json = serde_json::to_vec(&header).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// A token cut into its three parts; nothing is trusted yet.
pub(crate) struct Parts<'t> {
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: the signed bytes.
    pub(crate) signing_input: &'t str,
    pub(crate) header: Header,
    pub(crate) payload_b64: &'t str,
    pub(crate) signature: Vec<u8>,
}

/// Splits and decodes a compact JWS, refusing every irregular shape.
pub(crate) fn split(token: &str) -> Result<Parts<'_>, VerifyError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(VerifyError::malformed("token is too long"));
    }
    let (signing_input, signature_b64) = token
        .rsplit_once('.')
        .ok_or_else(|| VerifyError::malformed("expected three dot-separated parts"))?;
    let (header_b64, payload_b64) = signing_input
        .split_once('.')
        .filter(|(_, payload)| !payload.contains('.'))
        .ok_or_else(|| VerifyError::malformed("expected three dot-separated parts"))?;
    let header_json = decode_part(header_b64, "header")?;
    let header: Header = from_json_object(&header_json)
        .ok_or_else(|| VerifyError::malformed("header is not a valid JOSE header"))?;
    if header.crit.is_some() {
        return Err(VerifyError::malformed(
            "unsupported critical header parameter",
        ));
    }
    Ok(Parts {
        signing_input,
        header,
        payload_b64,
        signature: decode_part(signature_b64, "signature")?,
    })
}

/// Parses a JSON *object* into `T`.
///
/// serde's derived `Deserialize` also accepts a JSON array, filling fields by
/// position (`["none"]` would be a header with `alg: "none"`); JOSE headers
/// and claim sets are objects (RFC 7515 §4, RFC 7519 §7.2), so anything else
/// is refused before serde sees it.
pub(crate) fn from_json_object<T: serde::de::DeserializeOwned>(json: &[u8]) -> Option<T> {
    let first = json.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    serde_json::from_slice(json).ok()
}

/// Decodes one part: base64url, no padding, canonical trailing bits.
pub(crate) fn decode_part(part: &str, what: &'static str) -> Result<Vec<u8>, VerifyError> {
    if part.is_empty() {
        return Err(VerifyError::Malformed(format!("{what} is empty")));
    }
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::Malformed(format!("{what} is not base64url")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_alg_typ_kid() {
        let b64 = encoded_header(Algorithm::ES256, "abc");
        let json = URL_SAFE_NO_PAD.decode(b64).unwrap();
        assert_eq!(json, br#"{"alg":"ES256","typ":"at+jwt","kid":"abc"}"#);
    }

    #[test]
    fn split_refuses_wrong_part_counts() {
        let h = encoded_header(Algorithm::EdDSA, "k");
        for token in [
            "",
            ".",
            "..",
            "a.b",
            &format!("{h}.e30.c2ln.x"),
            &format!("{h}.e30"),
        ] {
            assert!(
                matches!(split(token), Err(VerifyError::Malformed(_))),
                "{token:?}"
            );
        }
        assert!(split(&format!("{h}.e30.c2ln")).is_ok());
    }

    #[test]
    fn split_refuses_padding_and_non_canonical_base64() {
        let h = encoded_header(Algorithm::EdDSA, "k");
        assert!(split(&format!("{h}.e30.c2k=")).is_err());
        // "c2n" decodes to the same byte as "c2k" only if trailing bits were ignored.
        assert!(split(&format!("{h}.e30.c2n")).is_err());
    }

    #[test]
    fn split_refuses_duplicate_members_and_crit() {
        for header in [
            r#"{"alg":"EdDSA","alg":"none","kid":"k"}"#,
            r#"{"alg":"EdDSA","kid":"k","crit":["exp"]}"#,
            r#"{"kid":"k"}"#,
            r#"["alg"]"#,
        ] {
            let token = format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header));
            assert!(
                matches!(split(&token), Err(VerifyError::Malformed(_))),
                "{header}"
            );
        }
    }
}
