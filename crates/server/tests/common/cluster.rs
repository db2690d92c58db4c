//! A test cluster: a `redis-server` of its own on a free port and `scopegate` nodes sharing it,
//! each with its own data directory.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use scopegate_cluster::testing::RedisServer;
use serde_json::Value;

use super::{BIN, Node, quickstart_policy};

/// The key-encryption key every node of the test cluster shares.
pub const KEK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// The bootstrap administrator (its secret is `shopping-secret`, hashed as in the quickstart).
pub const ADMIN: (&str, &str) = ("ops", "shopping-secret");
pub const ADMIN_SCOPES: &str = "internal_scope_view internal_scope_manage internal_user_manage \
                            internal_api_manage internal_key_manage internal_token_revoke";

/// A Redis and the configuration its nodes share; each node gets its own data directory.
pub struct TestCluster {
    /// The cluster's Redis.
    pub redis: RedisServer,
    dir: tempfile::TempDir,
    config: PathBuf,
    bin: String,
}

impl TestCluster {
    pub fn new() -> Self {
        Self::with_bin(BIN)
    }

    /// A cluster whose nodes run `bin`.
    pub fn with_bin(bin: &str) -> Self {
        let redis = RedisServer::start();
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = std::fs::read_to_string(quickstart_policy()).expect("policy");
        std::fs::write(dir.path().join("policy.toml"), &policy).expect("copy policy");
        let hash = policy
            .lines()
            .skip_while(|l| !l.contains("client_id = \"shopping-app\""))
            .find_map(|l| l.strip_prefix("secret_hash = "))
            .expect("shopping-app hash")
            .trim_matches('"')
            .to_owned();
        let config = dir.path().join("scopegate.toml");
        std::fs::write(
            &config,
            format!(
                "[storage]\npolicy_file = \"policy.toml\"\n\
                 [log]\nlevel = \"info\"\n\
                 [cluster]\nkey_prefix = \"it\"\n\
                 [keys]\nrotation_announce_secs = 1\n\
                 [admin]\nbootstrap_client_id = \"{}\"\nbootstrap_client_secret_hash = \"{hash}\"\n",
                ADMIN.0
            ),
        )
        .expect("config");
        Self {
            redis,
            dir,
            config,
            bin: bin.to_owned(),
        }
    }

    /// Starts the node called `name` (its data directory is kept across restarts).
    pub fn node(&self, name: &str) -> Node {
        self.node_with(name, &[])
    }

    /// Starts the node called `name` with `extra` settings (environment variables) on top of
    /// (and overriding) the cluster's.
    pub fn node_with(&self, name: &str, extra: &[(&str, &str)]) -> Node {
        let env = self.env(name);
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(extra);
        Node::start_bin(&self.bin, &self.config, &all)
    }

    /// The environment of node `name`.
    pub fn env(&self, name: &str) -> Vec<(&'static str, String)> {
        let data = self.data_dir(name);
        vec![
            ("SCOPEGATE__CLUSTER__REDIS_URL", self.redis.url()),
            (
                "SCOPEGATE__SERVER__PUBLIC_URL",
                "http://scopegate.test".into(),
            ),
            ("SCOPEGATE__CLUSTER__KEY_ENCRYPTION_KEY", KEK.into()),
            ("SCOPEGATE__CLUSTER__NODE_ID", name.into()),
            ("SCOPEGATE__CLUSTER__COMMAND_TIMEOUT_MS", "500".into()),
            ("SCOPEGATE__CLUSTER__CONNECT_TIMEOUT_MS", "300".into()),
            (
                "SCOPEGATE__STORAGE__DATA_DIR",
                data.to_str().expect("utf-8 path").to_owned(),
            ),
        ]
    }

    /// The data directory of node `name`.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `scopegate cluster reseed` with node `name`'s configuration; its output.
    pub fn reseed_from(&self, name: &str) -> std::process::Output {
        std::process::Command::new(&self.bin)
            .args(["cluster", "reseed", "--config"])
            .arg(&self.config)
            .envs(self.env(name))
            .output()
            .expect("run scopegate cluster reseed")
    }
}

pub fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

pub fn token_response(node: &Node, client: (&str, &str), form: &[(&str, &str)]) -> Response {
    http()
        .post(node.url("/oauth2/token"))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .expect("token request")
}

pub fn token(node: &Node, client: (&str, &str), form: &[(&str, &str)]) -> Value {
    let resp = token_response(node, client, form);
    assert_eq!(resp.status(), 200, "token request {form:?}");
    resp.json().expect("token json")
}

pub fn admin_token(node: &Node) -> String {
    let body = token(
        node,
        ADMIN,
        &[
            ("grant_type", "client_credentials"),
            ("scope", ADMIN_SCOPES),
        ],
    );
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}
