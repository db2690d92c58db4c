//! Command-line flags (each also readable from a `SHOPPING_*` environment variable).

use std::net::SocketAddr;
use std::path::PathBuf;

use scopegate_edge::JwksConfig;

/// The quickstart policy, found from this crate's source directory.
const QUICKSTART_POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../quickstart/policy.toml");

/// The shopping service: ShoppingCartAPI protected by scopegate-edge.
#[derive(Debug, clap::Parser)]
#[command(name = "shopping-service", version)]
pub struct Cli {
    /// The scopegate server's issuer URL: tokens must carry it as `iss`, and the JWKS is
    /// fetched from `{issuer}/oauth2/jwks` unless --jwks-url says otherwise.
    #[arg(long, env = "SHOPPING_ISSUER", default_value = "http://127.0.0.1:8080")]
    pub issuer: String,
    /// Where to fetch the JWK Set, when it is not `{issuer}/oauth2/jwks`.
    #[arg(long, env = "SHOPPING_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The audience tokens must name (scopegate's `tokens.audience`).
    #[arg(long, env = "SHOPPING_AUDIENCE", default_value = "scopegate")]
    pub audience: String,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, env = "SHOPPING_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// The scopegate policy file holding the API definition.
    #[arg(long, env = "SHOPPING_POLICY", default_value = QUICKSTART_POLICY)]
    pub policy: PathBuf,
    /// The API of the policy file whose resources this service serves.
    #[arg(long, env = "SHOPPING_API", default_value = "ShoppingCartAPI")]
    pub api: String,
}

impl Cli {
    /// The JWKS cache settings: library defaults, with the issuer, audience and URL given.
    pub fn jwks_config(&self) -> JwksConfig {
        let defaults = JwksConfig::new(self.issuer.clone());
        JwksConfig {
            jwks_url: self.jwks_url.clone().unwrap_or(defaults.jwks_url.clone()),
            audience: self.audience.clone(),
            ..defaults
        }
    }
}
