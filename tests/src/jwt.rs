//! A deliberately independent JWT check: split the compact JWS, decode it with `base64`, and
//! verify the EdDSA signature with `ed25519-dalek` using the `x` of the published JWK. Nothing
//! here comes from the crate that signed the token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;

/// Verifies `token` against the JWKS document `jwks`; returns (header, claims) on success.
pub fn verify_eddsa(token: &str, jwks: &Value) -> Result<(Value, Value), String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, claims_b64, sig_b64] = parts[..] else {
        return Err(format!("{} parts, not 3", parts.len()));
    };
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|e| e.to_string());
    let header: Value = serde_json::from_slice(&decode(header_b64)?).map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_slice(&decode(claims_b64)?).map_err(|e| e.to_string())?;
    if header["alg"] != "EdDSA" {
        return Err(format!("alg {}", header["alg"]));
    }
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .ok_or("no keys")?
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or("kid not in JWKS")?;
    if jwk["kty"] != "OKP" || jwk["crv"] != "Ed25519" {
        return Err(format!("unexpected JWK {jwk}"));
    }
    let x = decode(jwk["x"].as_str().ok_or("no x")?)?;
    let key = VerifyingKey::from_bytes(&x.try_into().map_err(|_| "x is not 32 bytes")?)
        .map_err(|e| e.to_string())?;
    let sig = decode(sig_b64)?;
    let sig = Signature::from_bytes(&sig.try_into().map_err(|_| "signature is not 64 bytes")?);
    let signing_input = format!("{header_b64}.{claims_b64}");
    key.verify(signing_input.as_bytes(), &sig)
        .map_err(|e| e.to_string())?;
    Ok((header, claims))
}
