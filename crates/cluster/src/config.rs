//! [`ClusterSettings`]: the `[cluster]` section of `scopegate.toml`.
//!
//! Cluster mode is on exactly when `redis_url` is set; without it the node runs on its embedded
//! stores and none of this crate is started.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// `[cluster]`: where Redis is and how this deployment names its keys and channels.
///
/// `Debug` leaves out every secret: the key-encryption key, the Redis password and a password
/// inside `redis_url`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// `redis://[user:password@]host:port[/db]`, `rediss://…` for TLS, or for Sentinel
    /// `redis+sentinel://[user:password@]sentinel1:26379,sentinel2:26379/<master-name>[/db]`
    /// (`rediss+sentinel://…`: TLS to the Sentinels and to the master). Unset: single-node
    /// embedded mode.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel, so several deployments can share one Redis.
    pub key_prefix: String,
    /// Prefix of the pub/sub channels; defaults to `key_prefix`.
    pub channel_prefix: Option<String>,
    /// This node's name in logs and in `/api/v1/cluster/status`; defaults to host name and pid.
    pub node_id: Option<String>,
    /// TCP connect timeout for Redis, milliseconds.
    pub connect_timeout_ms: u64,
    /// The longest one request waits on Redis, milliseconds: connecting (and asking Sentinel),
    /// checking an idle connection and the command itself share this one budget. A write that
    /// gets no answer in time is answered 504 (its outcome is unknown), one that could not be
    /// sent 503; the node keeps serving from its snapshots either way.
    pub command_timeout_ms: u64,
    /// Longest wait between reconnection attempts, milliseconds (backoff doubles from 50 ms).
    pub reconnect_max_backoff_ms: u64,
    /// How often the node PINGs Redis (and compares the policy version Redis holds with its
    /// own), milliseconds. A hung or unreachable Redis is reported (`/readyz` degraded,
    /// `scopegate_redis_up` 0) within about one interval even on a node that writes nothing.
    pub ping_interval_ms: u64,
    /// Past this many seconds without a successful contact with Redis, the node refuses to
    /// decide: `/authz/check`, the Envoy route, `/authz/v1/decide` and `/oauth2/introspect`
    /// answer 503 and `/readyz` fails, because revocations made meanwhile on other nodes cannot
    /// have reached it. 0 (the default) turns this off: a partitioned node serves from its
    /// snapshots for as long as the partition lasts.
    pub max_staleness_secs: u64,
    /// A node started from its local snapshot while Redis was unreachable answers `/readyz` 503
    /// until it has caught up with Redis. `true` lets it take traffic at once (degraded).
    pub ready_before_catch_up: bool,
    /// PEM file of the CA certificates trusted for the Redis and Sentinel server certificates
    /// (`rediss://`, `rediss+sentinel://`); default: the system's trust store.
    pub tls_ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) presented to Redis and Sentinel over TLS, for servers that
    /// require one (`tls-auth-clients yes`, Redis's default). Needs `tls_key_file`.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file` (a mounted secret).
    pub tls_key_file: Option<PathBuf>,
    /// The password of the Sentinels themselves (their `requirepass`), for a
    /// `redis+sentinel://` URL. Prefer `sentinel_password_file` or the
    /// `SCOPEGATE__CLUSTER__SENTINEL_PASSWORD` variable from a secret.
    pub sentinel_password: Option<String>,
    /// A file holding that password (a mounted secret); one trailing newline is ignored.
    pub sentinel_password_file: Option<PathBuf>,
    /// How many policy events Redis keeps in the log; a node further behind reloads the whole
    /// policy instead of replaying.
    pub log_retention: u64,
    /// Whether `/readyz` fails (503) while Redis is unreachable. By default it answers 200 with
    /// `"status": "degraded"`, because the node still validates and issues from its snapshots.
    pub fail_readiness_when_degraded: bool,
    /// Base64 of the 32-byte key-encryption key (AES-256-GCM) that protects signing keys stored
    /// in Redis. Prefer `key_encryption_key_file` or the `SCOPEGATE__CLUSTER__KEY_ENCRYPTION_KEY`
    /// variable from a secret.
    pub key_encryption_key: Option<String>,
    /// A file holding the base64 key-encryption key (a mounted secret).
    pub key_encryption_key_file: Option<PathBuf>,
    /// The password of the Redis connections (for Sentinel: of the master, not of the
    /// Sentinels), replacing any password in `redis_url`. Prefer `redis_password_file` or the
    /// `SCOPEGATE__CLUSTER__REDIS_PASSWORD` variable from a secret.
    pub redis_password: Option<String>,
    /// A file holding that password (a mounted secret); one trailing newline is ignored.
    pub redis_password_file: Option<PathBuf>,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            redis_url: None,
            key_prefix: "scopegate".to_owned(),
            channel_prefix: None,
            node_id: None,
            connect_timeout_ms: 1_000,
            command_timeout_ms: 2_000,
            reconnect_max_backoff_ms: 2_000,
            ping_interval_ms: 1_000,
            max_staleness_secs: 0,
            ready_before_catch_up: false,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            sentinel_password: None,
            sentinel_password_file: None,
            log_retention: 10_000,
            fail_readiness_when_degraded: false,
            key_encryption_key: None,
            key_encryption_key_file: None,
            redis_password: None,
            redis_password_file: None,
        }
    }
}

impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |set: bool| if set { Some("…") } else { None };
        f.debug_struct("ClusterSettings")
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("key_prefix", &self.key_prefix)
            .field("channel_prefix", &self.channel_prefix)
            .field("node_id", &self.node_id)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("command_timeout_ms", &self.command_timeout_ms)
            .field("reconnect_max_backoff_ms", &self.reconnect_max_backoff_ms)
            .field("ping_interval_ms", &self.ping_interval_ms)
            .field("max_staleness_secs", &self.max_staleness_secs)
            .field("ready_before_catch_up", &self.ready_before_catch_up)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .field(
                "sentinel_password",
                &hidden(self.sentinel_password.is_some()),
            )
            .field("sentinel_password_file", &self.sentinel_password_file)
            .field("log_retention", &self.log_retention)
            .field(
                "fail_readiness_when_degraded",
                &self.fail_readiness_when_degraded,
            )
            .field(
                "key_encryption_key",
                &hidden(self.key_encryption_key.is_some()),
            )
            .field("key_encryption_key_file", &self.key_encryption_key_file)
            .field("redis_password", &hidden(self.redis_password.is_some()))
            .field("redis_password_file", &self.redis_password_file)
            .finish()
    }
}

/// A secret given either inline (`cluster.{name}`) or as a file (`cluster.{name}_file`, a
/// mounted secret), not both. A file's one trailing newline (`\n` or `\r\n`, as `echo` and
/// editors leave it) is not part of the secret, and an empty one is an error. Errors name the
/// setting and the file, never the contents.
fn secret(
    name: &str,
    inline: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<String>, crate::ClusterError> {
    let config = |why: String| crate::ClusterError::Config(why);
    match (inline, file) {
        (Some(_), Some(_)) => Err(config(format!(
            "set cluster.{name} or cluster.{name}_file, not both"
        ))),
        (Some(value), None) => Ok(Some(value.clone())),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                config(format!(
                    "cannot read cluster.{name}_file {}: {e}",
                    path.display()
                ))
            })?;
            let value = text
                .strip_suffix('\n')
                .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
            if value.is_empty() {
                return Err(config(format!(
                    "cluster.{name}_file {} is empty",
                    path.display()
                )));
            }
            Ok(Some(value.to_owned()))
        }
        (None, None) => Ok(None),
    }
}

/// `scheme://user:…@rest` for a URL carrying a password; anything else unchanged.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((auth, host)) => {
            let user = auth.split_once(':').map_or(auth, |(user, _)| user);
            format!("{scheme}://{user}:…@{host}")
        }
        None => url.to_owned(),
    }
}

impl ClusterSettings {
    /// Whether cluster mode is configured.
    pub fn enabled(&self) -> bool {
        self.redis_url.is_some()
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.max(1))
    }

    /// The per-command timeout.
    pub fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms.max(1))
    }

    /// The key-encryption key from `key_encryption_key` or `key_encryption_key_file`; cluster
    /// mode refuses to start without one, because signing keys go to Redis only sealed.
    pub fn key_encryption_key(&self) -> Result<crate::keyring::Kek, crate::ClusterError> {
        let text = secret(
            "key_encryption_key",
            &self.key_encryption_key,
            &self.key_encryption_key_file,
        )?
        .ok_or_else(|| {
            crate::ClusterError::Config(
                "cluster mode needs a key-encryption key to seal signing keys in Redis: set \
                 cluster.key_encryption_key_file (or SCOPEGATE__CLUSTER__KEY_ENCRYPTION_KEY) \
                 to 32 random bytes in base64, the same on every node (openssl rand -base64 32)"
                    .into(),
            )
        })?;
        crate::keyring::Kek::from_base64(&text)
    }

    /// The Redis password from `redis_password` or `redis_password_file`, if either is set.
    /// A file's trailing newline (`\n` or `\r\n`, as `echo` and editors leave) is not part of
    /// it. Errors name the file, never its contents.
    pub fn redis_password(&self) -> Result<Option<String>, crate::ClusterError> {
        secret(
            "redis_password",
            &self.redis_password,
            &self.redis_password_file,
        )
    }

    /// The Sentinels' own password from `sentinel_password` or `sentinel_password_file`.
    pub fn sentinel_password(&self) -> Result<Option<String>, crate::ClusterError> {
        secret(
            "sentinel_password",
            &self.sentinel_password,
            &self.sentinel_password_file,
        )
    }

    /// How often Redis is PINGed.
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms.max(10))
    }

    /// The staleness past which checks and introspection are refused; `None` when off.
    pub fn max_staleness(&self) -> Option<Duration> {
        (self.max_staleness_secs > 0).then(|| Duration::from_secs(self.max_staleness_secs))
    }

    /// Makes the relative file paths of this section (`key_encryption_key_file`,
    /// `redis_password_file`, `sentinel_password_file` and the TLS files) relative to `dir`,
    /// the config file's directory.
    pub fn resolve_paths(&mut self, dir: &Path) {
        for path in [
            self.key_encryption_key_file.as_mut(),
            self.redis_password_file.as_mut(),
            self.sentinel_password_file.as_mut(),
            self.tls_ca_file.as_mut(),
            self.tls_cert_file.as_mut(),
            self.tls_key_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        }
    }

    /// The names of every key and channel this deployment uses.
    pub fn names(&self) -> Names {
        Names::new(
            &self.key_prefix,
            self.channel_prefix.as_deref().unwrap_or(&self.key_prefix),
        )
    }
}

/// Every Redis key and channel name, derived once from the prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `{p}:policy:version`: the version counter (integer).
    pub policy_version: String,
    /// `{p}:policy:log`: hash version → event JSON (the newest `log_retention` events).
    pub policy_log: String,
    /// `{p}:policy:state`: the current policy document JSON, at `policy_version`.
    pub policy_state: String,
    /// `{c}:policy`: channel carrying `{"version": n, "event": …}` after each write.
    pub policy_channel: String,
    /// `{p}:revoked:jti`: sorted set of revoked access-token `jti`s scored by their `exp`.
    pub revoked_jti: String,
    /// `{p}:revoked:sub`: hash subject → "revoked before" time (seconds).
    pub revoked_subjects: String,
    /// `{c}:revocations`: channel carrying each new revocation.
    pub revocation_channel: String,
    /// `{p}:refresh:`: prefix of refresh-token records (`{p}:refresh:{sha256 hex}`).
    pub refresh_prefix: String,
    /// `{p}:refresh-family:`: prefix of the set of token hashes in a family.
    pub refresh_family_prefix: String,
    /// `{p}:refresh-subject:`: prefix of the set of families of a subject.
    pub refresh_subject_prefix: String,
    /// `{p}:keys`: hash kid → signing-key record JSON (private half encrypted).
    pub keys: String,
    /// `{c}:keys`: channel announcing a changed key ring.
    pub keys_channel: String,
}

impl Names {
    /// Names under key prefix `p` and channel prefix `c`.
    pub fn new(p: &str, c: &str) -> Self {
        Self {
            policy_version: format!("{p}:policy:version"),
            policy_log: format!("{p}:policy:log"),
            policy_state: format!("{p}:policy:state"),
            policy_channel: format!("{c}:policy"),
            revoked_jti: format!("{p}:revoked:jti"),
            revoked_subjects: format!("{p}:revoked:sub"),
            revocation_channel: format!("{c}:revocations"),
            refresh_prefix: format!("{p}:refresh:"),
            refresh_family_prefix: format!("{p}:refresh-family:"),
            refresh_subject_prefix: format!("{p}:refresh-subject:"),
            keys: format!("{p}:keys"),
            keys_channel: format!("{c}:keys"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_prefix_defaults_to_key_prefix() {
        let mut s = ClusterSettings {
            key_prefix: "prod".into(),
            ..Default::default()
        };
        assert_eq!(s.names().policy_channel, "prod:policy");
        s.channel_prefix = Some("prod-ch".into());
        let n = s.names();
        assert_eq!(n.policy_channel, "prod-ch:policy");
        assert_eq!(n.policy_version, "prod:policy:version");
    }

    fn parse(json: serde_json::Value) -> Result<ClusterSettings, serde_json::Error> {
        serde_json::from_value(json)
    }

    #[test]
    fn redis_password_comes_from_the_setting_or_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = parse(serde_json::json!({})).expect("parses");
        assert_eq!(none.redis_password().expect("no password"), None);

        let inline = parse(serde_json::json!({ "redis_password": "s3cret" })).expect("parses");
        assert_eq!(
            inline.redis_password().expect("ok").as_deref(),
            Some("s3cret")
        );

        for (content, expected) in [
            ("s3cret\n", "s3cret"),
            ("s3cret\r\n", "s3cret"),
            ("s3cret", "s3cret"),
            ("two words \n\n", "two words \n"),
        ] {
            let file = dir.path().join("pw");
            std::fs::write(&file, content).expect("write");
            let s = parse(serde_json::json!({ "redis_password_file": file })).expect("parses");
            assert_eq!(s.redis_password().expect("ok").as_deref(), Some(expected));
        }
    }

    #[test]
    fn redis_password_errors_never_show_the_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").expect("write");
        let both = parse(serde_json::json!({
            "redis_password": "s3cret",
            "redis_password_file": file,
        }))
        .expect("parses");
        let err = both.redis_password().expect_err("both").to_string();
        assert!(err.contains("not both") && !err.contains("s3cret"), "{err}");

        let missing = parse(serde_json::json!({ "redis_password_file": dir.path().join("nope") }))
            .expect("parses");
        let err = missing.redis_password().expect_err("missing").to_string();
        assert!(err.contains("redis_password_file"), "{err}");

        std::fs::write(&file, "\n").expect("write");
        let empty = parse(serde_json::json!({ "redis_password_file": file })).expect("parses");
        let err = empty.redis_password().expect_err("empty").to_string();
        assert!(err.contains("empty"), "{err}");

        let err = parse(serde_json::json!({ "redis_pasword_file": "x" }))
            .expect_err("typo")
            .to_string();
        assert!(err.contains("redis_pasword_file"), "{err}");
    }

    #[test]
    fn debug_hides_every_secret() {
        let s = ClusterSettings {
            redis_url: Some("redis+sentinel://app:urlpass@s1:26379/m".into()),
            redis_password: Some("s3cret".into()),
            key_encryption_key: Some("kekkekkek".into()),
            ..Default::default()
        };
        let text = format!("{s:?}");
        for secret in ["urlpass", "s3cret", "kekkekkek"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("redis+sentinel://app:…@s1:26379/m"), "{text}");
        assert_eq!(redact_url("redis://h:6379/0"), "redis://h:6379/0");
        assert_eq!(redact_url("redis://:pw@h:6379"), "redis://:…@h:6379");
    }

    #[test]
    fn relative_secret_files_resolve_against_the_config_directory() {
        let mut s = ClusterSettings {
            key_encryption_key_file: Some("kek".into()),
            redis_password_file: Some("/run/secrets/pw".into()),
            ..Default::default()
        };
        s.resolve_paths(Path::new("/etc/scopegate"));
        assert_eq!(
            s.key_encryption_key_file.as_deref(),
            Some(Path::new("/etc/scopegate/kek"))
        );
        assert_eq!(
            s.redis_password_file.as_deref(),
            Some(Path::new("/run/secrets/pw"))
        );
    }
}
