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
        let data = self.dir.path().join(name);
        let url = self.redis.url();
        Node::start_bin(
            &self.bin,
            &self.config,
            &[
                ("SCOPEGATE__CLUSTER__REDIS_URL", url.as_str()),
                ("SCOPEGATE__SERVER__PUBLIC_URL", "http://scopegate.test"),
                ("SCOPEGATE__CLUSTER__KEY_ENCRYPTION_KEY", KEK),
                ("SCOPEGATE__CLUSTER__NODE_ID", name),
                ("SCOPEGATE__CLUSTER__COMMAND_TIMEOUT_MS", "500"),
                ("SCOPEGATE__CLUSTER__CONNECT_TIMEOUT_MS", "300"),
                (
                    "SCOPEGATE__STORAGE__DATA_DIR",
                    data.to_str().expect("utf-8 path"),
                ),
            ],
        )
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
