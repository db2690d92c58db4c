//! [`Settings`]: the one typed configuration struct, layered by the `config` crate.
//!
//! Layers, later wins: built-in defaults (the `Default` impls below), the `--config` TOML file,
//! then environment variables `SCOPEGATE__SECTION__KEY` (e.g. `SCOPEGATE__SERVER__LISTEN`).
//! Unknown keys in any layer are an error, so a typo never silently falls back to a default.
//! Relative paths resolve against the directory of the config file.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use scopegate_cluster::ClusterSettings;
use scopegate_jwt::Algorithm;
use scopegate_scope_validator::ValidatorSettings;
use scopegate_token_issuer::IssuerConfig;
use serde::Deserialize;

/// Everything `scopegate serve` can be told.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// HTTP listener and limits.
    pub server: ServerSettings,
    /// Log format and level.
    pub log: LogSettings,
    /// Where the policy comes from and where changes are kept.
    pub storage: StorageSettings,
    /// Signing keys.
    pub keys: KeySettings,
    /// Token lifetimes, audience, scope-granting behaviour and the password-hash pool.
    pub tokens: IssuerConfig,
    /// Token validation for the check, decide and introspection endpoints.
    pub validation: ValidatorSettings,
    /// The admin API's bootstrap administrator.
    pub admin: AdminSettings,
    /// Cluster mode: Redis, key prefix, channels, failure behaviour. Off unless `redis_url` is set.
    pub cluster: ClusterSettings,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to bind; `--listen` overrides it. Port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// The externally visible base URL; the token issuer (`iss`) and the URLs in the RFC 8414
    /// metadata derive from it. Defaults to `http://{bound address}`.
    pub public_url: Option<String>,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Largest request body accepted on form endpoints, in bytes (413 above it).
    pub max_form_bytes: usize,
    /// Largest JSON request body accepted, in bytes (413 above it).
    pub max_json_bytes: usize,
    /// Largest request line plus header fields accepted, in bytes (431 above it).
    pub max_header_bytes: usize,
    /// Proxies (addresses or CIDR blocks, e.g. `10.0.0.0/8`) whose `X-Forwarded-For` is
    /// believed: a request from one of them is counted by the sign-in throttle against the
    /// client address the proxies report; any other request against its peer address. Empty
    /// (the default): `X-Forwarded-For` is ignored, since anyone can send it.
    #[serde(deserialize_with = "addresses_or_blocks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a request head may take to arrive, in milliseconds: from the connection's start
    /// for its first request, from the first byte of the head for later ones (408 and close).
    pub header_read_timeout_ms: u64,
    /// How long a request body may take to arrive after its head, in milliseconds (408 and
    /// close).
    pub body_read_timeout_ms: u64,
    /// How long an idle kept-alive connection stays open, in seconds; 0 closes every
    /// connection after one response.
    pub keep_alive_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            workers: 0,
            max_form_bytes: 64 * 1024,
            max_json_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            trusted_proxies: Vec::new(),
            header_read_timeout_ms: 5_000,
            body_read_timeout_ms: 10_000,
            keep_alive_secs: 5,
        }
    }
}

/// A list of IP addresses (`192.168.1.7`, one host) or CIDR blocks (`10.0.0.0/8`).
fn addresses_or_blocks<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let items: Vec<String> = Deserialize::deserialize(deserializer)?;
    items
        .iter()
        .map(|item| {
            let item = item.trim();
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(
                        "expected an IP address (192.168.1.7) or a CIDR block (10.0.0.0/8)",
                    )
                })
        })
        .collect()
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` for people, `json` for log pipelines.
    pub format: LogFormat,
    /// A `tracing` filter directive (`info`, `scopegate=debug,actix_web=warn`); `RUST_LOG`
    /// overrides it when set.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[storage]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// The declarative policy file; it seeds the store the first time the store is empty.
    pub policy_file: Option<PathBuf>,
    /// Directory of the embedded database (policy events, refresh tokens, generated keys).
    pub data_dir: PathBuf,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            policy_file: None,
            data_dir: PathBuf::from("data"),
        }
    }
}

/// `[admin]`: the bootstrap administrator of the admin API (`/api/v1/`). When both the client
/// id and the secret hash are set, startup makes sure the policy holds the role, every internal
/// scope bound to it, and a `client_credentials` client holding it (only missing pieces added).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// The bootstrap client's id; none means no bootstrap administrator.
    pub bootstrap_client_id: Option<String>,
    /// argon2id PHC hash of its secret (`scopegate hash-secret`); best given as
    /// `SCOPEGATE__ADMIN__BOOTSTRAP_CLIENT_SECRET_HASH`.
    pub bootstrap_client_secret_hash: Option<String>,
    /// The role that holds every internal scope.
    pub bootstrap_role: String,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            bootstrap_client_id: None,
            bootstrap_client_secret_hash: None,
            bootstrap_role: "scopegate-admin".to_owned(),
        }
    }
}

impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSettings")
            .field("bootstrap_client_id", &self.bootstrap_client_id)
            .field(
                "bootstrap_client_secret_hash",
                &self.bootstrap_client_secret_hash.as_ref().map(|_| "…"),
            )
            .field("bootstrap_role", &self.bootstrap_role)
            .finish()
    }
}

/// `[keys]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeySettings {
    /// Algorithm of a generated signing key, and of keys made by a rotation that names none
    /// (EdDSA, ES256, RS256).
    pub algorithm: Algorithm,
    /// PKCS#8 PEM signing key that seeds the key ring the first time it is empty. When absent,
    /// a key is generated once and kept in `{data_dir}/keys/signing.pem` (mode 0600).
    pub signing_key_file: Option<PathBuf>,
    /// Seconds a rotated-in key is published (in every node's JWKS, verify-only) before any
    /// node signs with it. Longer than the edges' JWKS refresh interval.
    pub rotation_announce_secs: u64,
    /// The planned rotation period, days: how old the signing key may grow before an operator
    /// rotates it (`POST /api/v1/keys/rotate`). Exported as
    /// `scopegate_signing_key_rotation_period_seconds`; the `ScopegateSigningKeyRotationDue`
    /// alert fires at 90 % of it. scopegate does not rotate by itself.
    pub rotation_period_days: u64,
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::default(),
            signing_key_file: None,
            rotation_announce_secs: 10,
            rotation_period_days: 90,
        }
    }
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Loads defaults, then `file` (if any), then `SCOPEGATE__…` variables from `env`, and
    /// resolves relative paths against the file's directory (or `base` without a file).
    ///
    /// `env` is passed in rather than read here so tests never mutate the process environment;
    /// `main` passes `std::env::vars()`.
    pub fn load(
        file: Option<&Path>,
        env: HashMap<String, String>,
        base: &Path,
    ) -> Result<Self, SettingsError> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            if !file.is_file() {
                return Err(SettingsError(format!(
                    "config file {} does not exist or is not a file",
                    file.display()
                )));
            }
            builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
        }
        let env: HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("SCOPEGATE__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("SCOPEGATE")
                .separator("__")
                .try_parsing(true)
                .source(Some(env.into_iter().collect())),
        );
        let config = builder.build().map_err(|e| SettingsError(e.to_string()))?;
        let mut settings: Settings = config
            .try_deserialize()
            .map_err(|e| SettingsError(e.to_string()))?;
        let dir = file
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| base.to_path_buf());
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        settings.resolve_paths(&dir);
        Ok(settings)
    }

    fn resolve_paths(&mut self, dir: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        resolve(&mut self.storage.data_dir);
        if let Some(p) = self.storage.policy_file.as_mut() {
            resolve(p);
        }
        if let Some(p) = self.keys.signing_key_file.as_mut() {
            resolve(p);
        }
        self.cluster.resolve_paths(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn layers_defaults_file_then_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("scopegate.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:9000\"\n[storage]\npolicy_file = \"policy.toml\"\n\
             [tokens]\naccess_token_ttl_secs = 60\n",
        )
        .expect("write");
        let s = Settings::load(
            Some(&file),
            env(&[
                ("SCOPEGATE__TOKENS__ACCESS_TOKEN_TTL_SECS", "120"),
                ("SCOPEGATE__LOG__FORMAT", "json"),
                ("OTHER", "ignored"),
            ]),
            Path::new("/"),
        )
        .expect("loads");
        assert_eq!(s.server.listen.port(), 9000);
        assert_eq!(s.tokens.access_token_ttl_secs, 120);
        assert_eq!(s.tokens.refresh_token_ttl_secs, 86_400);
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(s.storage.policy_file, Some(dir.path().join("policy.toml")));
        assert_eq!(s.storage.data_dir, dir.path().join("data"));
    }

    #[test]
    fn secret_files_resolve_against_the_config_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("scopegate.toml");
        std::fs::write(
            &file,
            "[cluster]\nkey_encryption_key_file = \"secrets/kek\"\n\
             redis_password_file = \"secrets/redis-password\"\n",
        )
        .expect("write");
        let s = Settings::load(Some(&file), HashMap::new(), Path::new("/")).expect("loads");
        assert_eq!(
            s.cluster.key_encryption_key_file,
            Some(dir.path().join("secrets/kek"))
        );
        assert_eq!(
            s.cluster.redis_password_file,
            Some(dir.path().join("secrets/redis-password"))
        );
    }

    #[test]
    fn trusted_proxies_are_addresses_or_blocks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("scopegate.toml");
        std::fs::write(
            &file,
            "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.168.1.7\", \"::1\"]\n",
        )
        .expect("write");
        let s = Settings::load(Some(&file), HashMap::new(), Path::new("/")).expect("loads");
        let nets: Vec<String> = s
            .server
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]);
        std::fs::write(&file, "[server]\ntrusted_proxies = [\"proxy.local\"]\n").expect("write");
        let err = Settings::load(Some(&file), HashMap::new(), Path::new("/")).expect_err("a name");
        assert!(err.to_string().contains("CIDR"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("scopegate.toml");
        std::fs::write(&file, "[server]\nlisten_addr = \"127.0.0.1:9000\"\n").expect("write");
        let err = Settings::load(Some(&file), HashMap::new(), Path::new("/")).expect_err("typo");
        assert!(err.to_string().contains("listen_addr"), "{err}");
        let err = Settings::load(
            None,
            env(&[("SCOPEGATE__TOKENS__TTL", "5")]),
            Path::new("/"),
        )
        .expect_err("unknown env key");
        assert!(err.to_string().contains("ttl"), "{err}");
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err = Settings::load(
            Some(Path::new("/nonexistent/x.toml")),
            HashMap::new(),
            Path::new("/"),
        )
        .expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/x.toml"));
    }
}
