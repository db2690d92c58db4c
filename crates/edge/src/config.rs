//! [`JwksConfig`]: where the issuer's keys are, what tokens must say, and how often to look.

use std::time::Duration;

/// How a [`crate::JwksCache`] finds keys and what it accepts.
///
/// Build it with [`JwksConfig::new`] and override fields with struct update syntax:
///
/// ```
/// use std::time::Duration;
/// use scopegate_edge::JwksConfig;
///
/// let config = JwksConfig {
///     audience: "shopping-api".into(),
///     refresh_interval: Duration::from_secs(60),
///     ..JwksConfig::new("https://auth.example")
/// };
/// assert_eq!(config.jwks_url, "https://auth.example/oauth2/jwks");
/// ```
#[derive(Debug, Clone)]
pub struct JwksConfig {
    /// The only accepted `iss`, compared byte for byte: the scopegate server's issuer URL.
    pub issuer: String,
    /// Where the JWK Set is fetched; by default `{issuer}/oauth2/jwks`.
    pub jwks_url: String,
    /// Must appear in a token's `aud`; scopegate's default audience is `scopegate`.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds (the server's default: 30).
    pub leeway_secs: u64,
    /// How often the key set is refetched in the background, so a key the issuer adds is
    /// known before the first token signed with it arrives and a retired one disappears.
    pub refresh_interval: Duration,
    /// A token with an unknown `kid` prompts a refetch only if no fetch of any kind started
    /// within this interval; requests meanwhile share the running fetch or are refused. Such
    /// tokens can be forged at will, so without this bound they would turn this service into
    /// a load generator against the issuer.
    pub min_refetch_interval: Duration,
    /// The first wait before retrying after a failed fetch; it doubles with each further
    /// failure, up to `refresh_interval`.
    pub retry_interval: Duration,
    /// Longest a fetch may take, connection included. A request that prompted a refetch waits
    /// at most about this long.
    pub fetch_timeout: Duration,
    /// Largest JWKS body accepted, in bytes.
    pub max_jwks_bytes: usize,
    /// The HTTP client to fetch with, for TLS roots, proxies or a custom user agent. By
    /// default a plain client with `fetch_timeout` (the workspace builds reqwest without TLS:
    /// enable a TLS feature of `reqwest` in the service and pass its client for `https`).
    pub http_client: Option<reqwest::Client>,
}

// === impl JwksConfig ===

impl JwksConfig {
    /// Defaults for tokens whose `iss` is exactly `issuer`: JWKS at `{issuer}/oauth2/jwks`
    /// (without doubling a trailing slash), audience `scopegate`, 30 s leeway, background refresh
    /// every 300 s, at most one unknown-`kid` refetch per 10 s, retries from 5 s, 5 s fetch
    /// timeout, 1 MiB body limit.
    pub fn new(issuer: impl Into<String>) -> JwksConfig {
        let issuer = issuer.into();
        JwksConfig {
            jwks_url: format!("{}/oauth2/jwks", issuer.trim_end_matches('/')),
            issuer,
            audience: "scopegate".to_owned(),
            leeway_secs: 30,
            refresh_interval: Duration::from_secs(300),
            min_refetch_interval: Duration::from_secs(10),
            retry_interval: Duration::from_secs(5),
            fetch_timeout: Duration::from_secs(5),
            max_jwks_bytes: 1024 * 1024,
            http_client: None,
        }
    }
}
