//! [`IssuerConfig`]: the `[tokens]` section of the server configuration.

use scopegate_core::EmptyGrant;
use serde::Deserialize;

/// Everything the token endpoint can be tuned with.
///
/// Deserialized from the server's `[tokens]` section; every field has a default so an empty
/// section (or none) gives a working issuer, and unknown keys are refused so a typo in the
/// config file is an error rather than a silently ignored setting.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IssuerConfig {
    /// The `iss` claim of every access token: this service's base URL. Validators compare it
    /// byte for byte, so it is not read from the `[tokens]` section: the server sets it from
    /// its public address (`server.public_url`, or the bound address).
    #[serde(skip)]
    pub issuer: String,
    /// The `aud` claim of every access token: the resource servers the tokens are meant for.
    pub audience: String,
    /// Lifetime of access tokens in seconds; also the `expires_in` of the response. Short, as
    /// self-contained JWTs cannot be recalled except through the revocation list.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token in seconds, counted from its issue (each rotation issues a
    /// new one with a fresh lifetime).
    pub refresh_token_ttl_secs: u64,
    /// What to answer when none of the requested scopes can be granted: the single scope
    /// `default` (WSO2 behaviour) or `invalid_scope`.
    pub empty_grant: EmptyGrant,
    /// How long a successful client-secret verification may be reused without argon2, in
    /// seconds. 0 disables the cache (every request pays one argon2 verification).
    pub secret_cache_ttl_secs: u64,
    /// Most client secrets remembered at once; bounds the cache's memory. 0 disables it.
    pub secret_cache_capacity: usize,
    /// Threads that run argon2 verifications, so they never block the async event loop.
    /// Defaults to the number of available CPUs.
    pub hash_workers: usize,
    /// Verifications that may wait for a free hash worker; beyond this the request is answered
    /// `temporarily_unavailable` (503) at once instead of queueing without bound, which keeps
    /// password guessing from turning into memory exhaustion and long tail latencies.
    pub hash_queue: usize,
}

impl Default for IssuerConfig {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".to_owned(),
            audience: "scopegate".to_owned(),
            access_token_ttl_secs: 3600,
            refresh_token_ttl_secs: 86_400,
            empty_grant: EmptyGrant::Default,
            secret_cache_ttl_secs: 300,
            secret_cache_capacity: 10_000,
            hash_workers: std::thread::available_parallelism().map_or(1, usize::from),
            hash_queue: 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_section_gives_defaults() {
        let config: IssuerConfig = toml::from_str("").unwrap();
        assert_eq!(config, IssuerConfig::default());
        assert_eq!(config.issuer, "http://127.0.0.1:8080");
        assert_eq!(config.audience, "scopegate");
        assert_eq!(config.access_token_ttl_secs, 3600);
        assert_eq!(config.refresh_token_ttl_secs, 86_400);
        assert_eq!(config.empty_grant, EmptyGrant::Default);
        assert_eq!(config.secret_cache_ttl_secs, 300);
        assert_eq!(config.secret_cache_capacity, 10_000);
        assert!(config.hash_workers >= 1);
        assert_eq!(config.hash_queue, 64);
    }

    #[test]
    fn fields_override_and_unknown_keys_are_refused() {
        let config: IssuerConfig =
            toml::from_str("empty_grant = \"invalid_scope\"\nhash_workers = 3").unwrap();
        assert_eq!(config.empty_grant, EmptyGrant::InvalidScope);
        assert_eq!(config.hash_workers, 3);
        let err = toml::from_str::<IssuerConfig>("acces_token_ttl_secs = 5").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        // The issuer comes from the server's address, never from this section.
        let err = toml::from_str::<IssuerConfig>("issuer = \"https://evil\"").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
