//! [`IssuerConfig`]: the `[tokens]` section of the server configuration.

use scopegate_core::EmptyGrant;
use serde::Deserialize;

pub use crate::throttle::ThrottleConfig;

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
    /// new one with a fresh lifetime, but never past the family's absolute lifetime).
    pub refresh_token_ttl_secs: u64,
    /// Absolute lifetime of a refresh-token family (one sign-in), in seconds from the password
    /// grant that started it: rotation never extends a family beyond it, so a stolen and
    /// regularly refreshed token stops working at the latest this long after the sign-in.
    pub refresh_family_lifetime_secs: u64,
    /// Most scopes one access token may carry. A request that would be granted more (also
    /// through `scope=SYSTEM` or the allowlist) is refused with `invalid_scope`, so the issuer
    /// never signs a token the check endpoints or the proxies in front of them refuse.
    pub max_scopes_per_token: usize,
    /// Largest signed access token, in bytes; larger ones are refused with `invalid_scope`.
    /// At most the check path's limit (8192 bytes, `Authorization` header value included the
    /// `Bearer ` prefix fits nginx's default 8 KiB header line).
    pub max_token_bytes: usize,
    /// What to answer when none of the requested scopes can be granted: the single scope
    /// `default` (WSO2 behaviour) or `invalid_scope`.
    pub empty_grant: EmptyGrant,
    /// How long a successful client-secret verification may be reused without argon2, in
    /// seconds. 0 disables the cache (every request pays one argon2 verification).
    pub secret_cache_ttl_secs: u64,
    /// Most client secrets remembered at once; bounds the cache's memory. 0 disables it.
    pub secret_cache_capacity: usize,
    /// Threads that run argon2 verifications, so they never block the async event loop.
    /// Defaults to the number of available CPUs, at most 4 (each keeps 19 MiB of argon2
    /// memory; see `docs/operations.md` for the measured footprint).
    pub hash_workers: usize,
    /// Verifications that may wait for a free hash worker; beyond this the request is answered
    /// `temporarily_unavailable` (503) at once instead of queueing without bound, which keeps
    /// password guessing from turning into memory exhaustion and long tail latencies.
    pub hash_queue: usize,
    /// Password-guessing throttle (`[tokens.throttle]`).
    pub throttle: ThrottleConfig,
}

/// The longest access token any check path accepts (`scopegate-scope-validator`'s limit);
/// `max_token_bytes` may not exceed it.
pub const CHECK_PATH_TOKEN_LIMIT: usize = 8 * 1024;

/// The default number of hash workers: one per CPU, at most four. Each worker keeps one
/// argon2 memory area (19 MiB with the default parameters) for its whole life, so the cap
/// bounds the memory a burst of sign-ins can take, whatever the machine's core count.
pub fn default_hash_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(4)
}

impl Default for IssuerConfig {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".to_owned(),
            audience: "scopegate".to_owned(),
            access_token_ttl_secs: 3600,
            refresh_token_ttl_secs: 86_400,
            refresh_family_lifetime_secs: 30 * 86_400,
            max_scopes_per_token: 200,
            max_token_bytes: 6 * 1024,
            empty_grant: EmptyGrant::Default,
            secret_cache_ttl_secs: 300,
            secret_cache_capacity: 10_000,
            hash_workers: default_hash_workers(),
            hash_queue: 64,
            throttle: ThrottleConfig::default(),
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
        assert!((1..=4).contains(&config.hash_workers));
        assert_eq!(config.refresh_family_lifetime_secs, 30 * 86_400);
        assert_eq!(config.max_scopes_per_token, 200);
        assert!(config.max_token_bytes < CHECK_PATH_TOKEN_LIMIT);
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
