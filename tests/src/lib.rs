//! Test support for scopegate's cross-crate tests: start a real node on a free port with its own
//! data directory, and speak HTTP to it.
//!
//! # Layout
//! - [`TestApp`] / [`spawn_app`]: one in-process node per test (port 0, fresh temp dir).
//! - [`quickstart_policy`]: the path of the shipped quickstart policy the tests run against.
//! - [`nginx`], [`envoy`], [`traefik`]: the real proxies from the shipped `deploy/edge/` recipes,
//!   each on a free port, started through [`proxy`].
//! - [`tools`]: where external programs (nginx, promtool, Envoy, Traefik, the Helm SDK) are found.
//! - [`jwt`]: an independent EdDSA JWT verifier (ed25519-dalek), so tokens are checked by code
//!   that shares nothing with the signer.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod envoy;
pub mod jwt;
pub mod nginx;
pub mod proxy;
pub mod tools;
pub mod traefik;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use scopegate_server::{Application, Settings};
use serde_json::Value;
use tempfile::TempDir;

/// The quickstart policy file shipped in `examples/quickstart/`.
pub fn quickstart_policy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/policy.toml")
}

/// A running node and what a test needs to talk to it.
pub struct TestApp {
    /// Where the node listens.
    pub address: SocketAddr,
    /// A plain HTTP client.
    pub client: reqwest::Client,
    /// The node's config and data directory; removed when the test ends.
    pub dir: TempDir,
}

/// Starts a node on `127.0.0.1:0` with the quickstart policy, a fresh data directory and the
/// extra `config` TOML appended to its configuration. Must run inside `#[actix_web::test]`.
pub async fn spawn_app_with(config: &str) -> TestApp {
    spawn_app_configured("", config).await
}

/// [`spawn_app_with`], with `server` TOML lines added to the `[server]` section.
pub async fn spawn_app_configured(server: &str, config: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("scopegate.toml");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n{server}\n[storage]\npolicy_file = {:?}\n{config}\n",
        quickstart_policy().display().to_string()
    );
    std::fs::write(&file, text).expect("write config");
    let settings = Settings::load(Some(&file), HashMap::new(), dir.path()).expect("settings");
    let app = Application::build(settings).await.expect("build app");
    let address = app.address();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        dir,
    }
}

/// [`spawn_app_with`] and no extra configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with("").await
}

impl TestApp {
    /// `http://address{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// `GET /metrics`: the text exposition, after checking the status and content type.
    pub async fn scrape_metrics(&self) -> String {
        let resp = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("scrape");
        assert_eq!(resp.status(), 200, "GET /metrics");
        let content_type = resp.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "content-type {content_type}"
        );
        resp.text().await.expect("body")
    }

    /// GETs `path` and parses the JSON answer (any status).
    pub async fn get_json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json body")
    }

    /// POSTs a raw form body to the token endpoint with an optional Authorization header.
    pub async fn token_raw(&self, body: &str, authorization: Option<&str>) -> reqwest::Response {
        self.token_raw_to("/oauth2/token", body, authorization)
            .await
    }

    /// POSTs a raw form body to `path` with an optional Authorization header.
    pub async fn token_raw_to(
        &self,
        path: &str,
        body: &str,
        authorization: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        req.send().await.expect("request")
    }

    /// The password grant for `user` (password `user123`) through client `shopping-app`.
    pub async fn password_token(&self, user: &str, scope: &str) -> reqwest::Response {
        let body = form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", &format!("{user}123")),
            ("scope", scope),
        ]);
        self.token_raw(&body, Some(&basic("shopping-app", "shopping-secret")))
            .await
    }

    /// The granted `scope` of a successful password grant.
    pub async fn granted(&self, user: &str, scope: &str) -> String {
        let resp = self.password_token(user, scope).await;
        assert_eq!(resp.status(), 200, "{user} asking {scope:?}");
        let body: Value = resp.json().await.expect("json");
        body["scope"].as_str().expect("scope").to_owned()
    }
}

/// An `application/x-www-form-urlencoded` body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&urlencode(k));
        out.push('=');
        out.push_str(&urlencode(v));
    }
    out
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An HTTP Basic header for a client (RFC 6749 §2.3.1: id and secret form-encoded first).
pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    let raw = format!("{}:{}", urlencode(id), urlencode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Sends `head` then as much of `body` as the server takes over a plain TCP connection, and
/// returns the status and the whole answer. A server may answer (413, say) and close before the
/// body is sent; that is read, not treated as a failure.
pub async fn raw_http(address: SocketAddr, head: &[u8], body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(head).await.expect("write head");
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    (status, text)
}
