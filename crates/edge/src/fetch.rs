//! One JWKS fetch: GET the URL, bound the body, parse each key on its own.

use reqwest::header::ACCEPT;
use scopegate_jwt::{Jwk, VerifyingKey};
use serde::Deserialize;

use crate::config::JwksConfig;
use crate::error::EdgeError;

/// The default client: the configured timeout and no idle connections kept, since a fetch
/// every few minutes gains nothing from a pool, and a pooled connection would outlive the
/// runtime that opened it.
pub(crate) fn default_client(config: &JwksConfig) -> Result<reqwest::Client, EdgeError> {
    reqwest::Client::builder()
        .timeout(config.fetch_timeout)
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| EdgeError::HttpClient(e.to_string()))
}

/// The JWK Set as members still unparsed, so one key of an unknown type cannot spoil the rest.
#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

/// Fetches the JWKS and returns every key this crate can verify with. Keys it cannot use
/// (another `kty`/`alg`, an encryption key, a malformed member) are skipped with a warning; a
/// set with no usable key at all is an error, so a broken answer never replaces a good set.
pub(crate) async fn fetch_keys(
    client: &reqwest::Client,
    config: &JwksConfig,
) -> Result<Vec<VerifyingKey>, EdgeError> {
    let url = &config.jwks_url;
    let transport = |e: reqwest::Error| EdgeError::JwksFetch {
        url: url.clone(),
        reason: e.without_url().to_string(),
    };
    let invalid = |reason: String| EdgeError::JwksInvalid {
        url: url.clone(),
        reason,
    };
    let mut response = tokio::time::timeout(
        config.fetch_timeout,
        client
            .get(url)
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .send(),
    )
    .await
    .map_err(|_| timed_out(config))?
    .map_err(transport)?;
    if !response.status().is_success() {
        return Err(EdgeError::JwksStatus {
            url: url.clone(),
            status: response.status().as_u16(),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = tokio::time::timeout(config.fetch_timeout, response.chunk())
        .await
        .map_err(|_| timed_out(config))?
        .map_err(transport)?
    {
        if body.len() + chunk.len() > config.max_jwks_bytes {
            return Err(invalid(format!(
                "the body exceeds {} bytes",
                config.max_jwks_bytes
            )));
        }
        body.extend_from_slice(&chunk);
    }
    let raw: RawJwks =
        serde_json::from_slice(&body).map_err(|e| invalid(format!("not a JWK Set ({e})")))?;
    let keys = usable_keys(raw.keys);
    if keys.is_empty() {
        return Err(invalid("no usable key in the set".to_owned()));
    }
    Ok(keys)
}

fn timed_out(config: &JwksConfig) -> EdgeError {
    EdgeError::JwksFetch {
        url: config.jwks_url.clone(),
        reason: format!("no answer within {:?}", config.fetch_timeout),
    }
}

/// The keys that parse and verify, first of each `kid` kept.
fn usable_keys(members: Vec<serde_json::Value>) -> Vec<VerifyingKey> {
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(members.len());
    for (index, member) in members.into_iter().enumerate() {
        let kid = member
            .get("kid")
            .and_then(|k| k.as_str())
            .map(str::to_owned);
        let key = serde_json::from_value::<Jwk>(member)
            .map_err(|e| e.to_string())
            .and_then(|jwk| VerifyingKey::from_jwk(&jwk).map_err(|e| e.to_string()));
        match key {
            Ok(key) if keys.iter().any(|k| k.kid() == key.kid()) => {
                tracing::warn!(
                    index,
                    kid = key.kid(),
                    "JWKS repeats a kid; keeping the first"
                );
            }
            Ok(key) => keys.push(key),
            Err(reason) => {
                tracing::warn!(index, kid, reason, "skipping a JWKS key that cannot verify");
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use scopegate_jwt::{Algorithm, SigningKey};

    use super::*;

    #[test]
    fn unusable_keys_are_skipped_and_repeated_kids_keep_the_first() {
        let good = SigningKey::generate(Algorithm::EdDSA)
            .unwrap()
            .verifying_key();
        let other = SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .verifying_key();
        let mut clash = other.to_jwk();
        clash.kid = good.kid().to_owned();
        let members = vec![
            serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "hmac"}),
            serde_json::to_value(good.to_jwk()).unwrap(),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "enc"}),
            serde_json::to_value(clash).unwrap(),
            serde_json::to_value(other.to_jwk()).unwrap(),
            serde_json::json!("not an object"),
        ];
        let kids: Vec<String> = usable_keys(members)
            .iter()
            .map(|k| k.kid().to_owned())
            .collect();
        assert_eq!(kids, [good.kid(), other.kid()]);
        assert_eq!(
            usable_keys(vec![])
                .iter()
                .map(|k| k.kid().to_owned())
                .collect::<Vec<_>>(),
            Vec::<String>::new()
        );
    }
}
