//! Process-level tests of the `scopegate` binary: the CLI subcommands, and a served node that is
//! killed with SIGKILL and restarted on the same data directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

mod common;

use common::{BIN, Node, quickstart_policy};

fn config_dir(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(quickstart_policy(), dir.path().join("policy.toml")).expect("copy policy");
    let config = dir.path().join("scopegate.toml");
    std::fs::write(
        &config,
        format!("[storage]\npolicy_file = \"policy.toml\"\ndata_dir = \"data\"\n{extra}"),
    )
    .expect("config");
    (dir, config)
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn token(node: &Node, form: &[(&str, &str)]) -> Value {
    let resp = client()
        .post(node.url("/oauth2/token"))
        .basic_auth("shopping-app", Some("shopping-secret"))
        .form(form)
        .send()
        .expect("token request");
    assert_eq!(resp.status(), 200);
    resp.json().expect("json")
}

#[test]
fn a_killed_node_restarts_with_its_keys_and_refresh_tokens() {
    let (dir, config) = config_dir("");
    let node = Node::start(&config, &[]);
    let first = token(
        &node,
        &[
            ("grant_type", "password"),
            ("username", "harry"),
            ("password", "harry123"),
            ("scope", "item_view"),
        ],
    );
    let jwks_before: Value = client()
        .get(node.url("/oauth2/jwks"))
        .send()
        .expect("jwks")
        .json()
        .expect("json");
    node.kill();

    // The data directory holds the embedded store and the generated key; started again from
    // another working directory, the node finds them through the config file's directory.
    assert!(dir.path().join("data/keys/signing.pem").is_file());
    let node = Node::start(&config, &[]);
    let jwks_after: Value = client()
        .get(node.url("/oauth2/jwks"))
        .send()
        .expect("jwks")
        .json()
        .expect("json");
    assert_eq!(
        jwks_before, jwks_after,
        "the signing key survives a restart"
    );
    let ready: Value = client()
        .get(node.url("/readyz"))
        .send()
        .expect("readyz")
        .json()
        .expect("json");
    assert_eq!(
        ready["policy_version"], 1,
        "the policy file seeds the store once"
    );
    let refreshed = token(
        &node,
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                first["refresh_token"].as_str().expect("rt"),
            ),
        ],
    );
    assert_eq!(refreshed["scope"], "item_view");
}

#[test]
fn logs_never_contain_passwords_secrets_or_tokens() {
    let (_dir, config) = config_dir("[log]\nlevel = \"trace\"\nformat = \"json\"\n");
    let node = Node::start(&config, &[("RUST_LOG", "trace")]);
    let issued = token(
        &node,
        &[
            ("grant_type", "password"),
            ("username", "alex"),
            ("password", "alex123"),
            ("scope", "item_view"),
        ],
    );
    let refreshed = token(
        &node,
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                issued["refresh_token"].as_str().expect("rt"),
            ),
        ],
    );
    // A failed attempt with a wrong secret must not log that secret either.
    let _ = client()
        .post(node.url("/oauth2/token"))
        .basic_auth("shopping-app", Some("wrong-secret-xyz"))
        .form(&[("grant_type", "client_credentials")])
        .send();
    let logs = node.kill();
    assert!(
        logs.contains("listening"),
        "the node logged something: {logs}"
    );
    for secret in [
        "alex123",
        "shopping-secret",
        "wrong-secret-xyz",
        issued["access_token"].as_str().expect("at"),
        issued["refresh_token"].as_str().expect("rt"),
        refreshed["access_token"].as_str().expect("at"),
        refreshed["refresh_token"].as_str().expect("rt"),
    ] {
        assert!(!logs.contains(secret), "the log contains a secret");
    }
}

/// Sends `n` password grants with a wrong password for `user`.
fn wrong_passwords(node: &Node, user: &str, n: usize) {
    for _ in 0..n {
        let resp = client()
            .post(node.url("/oauth2/token"))
            .basic_auth("shopping-app", Some("shopping-secret"))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", "guess"),
            ])
            .send()
            .expect("token request");
        assert_eq!(resp.status(), 400);
    }
}

#[test]
fn token_answers_log_at_debug_and_security_events_at_info() {
    let throttle = "[tokens.throttle]\nuser_failures = 2\n";
    // At info (the default): no line per token request, one line per lockout.
    let (_dir, config) = config_dir(&format!("[log]\nlevel = \"info\"\n{throttle}"));
    let node = Node::start(&config, &[]);
    for _ in 0..20 {
        token(&node, &[("grant_type", "client_credentials")]);
    }
    wrong_passwords(&node, "alex", 3);
    let logs = node.kill();
    assert!(!logs.contains("token issued"), "{logs}");
    assert!(!logs.contains("token refused"), "{logs}");
    let lockouts: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("sign-in throttle: too many failures, locked"))
        .collect();
    assert_eq!(lockouts.len(), 1, "{logs}");
    assert!(
        lockouts[0].contains("alex"),
        "the lockout names the user: {logs}"
    );

    // At debug, a refused grant names the username and the client, never the password.
    let (_dir, config) = config_dir("[log]\nlevel = \"info,scopegate_token_issuer=debug\"\n");
    let node = Node::start(&config, &[]);
    wrong_passwords(&node, "paul", 1);
    let logs = node.kill();
    let refused = logs
        .lines()
        .find(|l| l.contains("token refused"))
        .unwrap_or_else(|| panic!("no refused line: {logs}"));
    assert!(refused.contains("paul"), "{refused}");
    assert!(refused.contains("shopping-app"), "{refused}");
    assert!(!logs.contains("guess"), "the log holds the password");
}

/// `printf admin-secret | scopegate hash-secret`.
const ADMIN_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$zxjJxnHjRcUwdYfcrh4xGQ$c8CcC/x8Gmwbw7Frn3dFGvfmQ3fp1kDZFxEYDbc8w9M";

#[test]
fn input_never_forges_a_log_line_and_piped_logs_have_no_colours() {
    let (_dir, config) = config_dir(&format!(
        "[log]\nformat = \"text\"\nlevel = \"info\"\n[admin]\nbootstrap_client_id = \"admin-cli\"\n\
         bootstrap_client_secret_hash = \"{ADMIN_HASH}\"\n"
    ));
    let node = Node::start(&config, &[]);
    let admin = client()
        .post(node.url("/oauth2/token"))
        .basic_auth("admin-cli", Some("admin-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "SYSTEM")])
        .send()
        .expect("admin token")
        .json::<Value>()
        .expect("json");
    let admin = admin["access_token"].as_str().expect("token").to_owned();
    let revoke = |subject: &str| {
        client()
            .post(node.url("/api/v1/revocations/subjects"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({ "subject": subject }))
            .send()
            .expect("revoke")
            .status()
    };
    let forged = "alex\n2026-01-01T00:00:00.000000Z  INFO scopegate: FORGED admin logged in";
    assert_eq!(revoke(forged), 422);
    assert_eq!(revoke("alex\r\u{1b}[2KFORGED"), 422);
    assert_eq!(revoke("alex"), 200);
    let logs = node.kill();
    assert!(logs.contains("revoked a subject"), "{logs}");
    for line in logs.lines() {
        assert!(!line.contains("FORGED"), "a forged line: {line:?}");
    }
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in a piped log: {logs:?}"
    );
}

/// Resident memory of `pid` in MiB, read from outside the process.
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        / 1024
}

#[test]
fn bursts_of_sign_ins_take_one_argon2_area_per_worker() {
    // Two hash workers, argon2's default 19 MiB each. Before each worker kept its area, bursts
    // of sign-ins left the allocator holding ~150 MiB more than this.
    let (_dir, config) = config_dir("[tokens]\nhash_workers = 2\nhash_queue = 256\n");
    let node = Node::start(&config, &[]);
    let url = node.url("/oauth2/token");
    let grant = || {
        let resp = client()
            .post(&url)
            .basic_auth("shopping-app", Some("shopping-secret"))
            .form(&[
                ("grant_type", "password"),
                ("username", "alex"),
                ("password", "alex123"),
            ])
            .send()
            .expect("token request");
        assert_eq!(resp.status(), 200);
    };
    grant();
    let warm = rss_mib(node.pid());
    for _ in 0..3 {
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(grant);
            }
        });
    }
    let after = rss_mib(node.pid());
    assert!(
        after.saturating_sub(warm) < 64,
        "resident memory grew from {warm} MiB to {after} MiB over 48 sign-ins"
    );
    node.kill();
}

#[test]
fn a_corrupt_data_directory_stops_startup_with_a_clear_error() {
    let (dir, config) = config_dir("");
    std::fs::create_dir_all(dir.path().join("data")).expect("mkdir");
    std::fs::write(
        dir.path().join("data/policy.redb"),
        b"this is not a database",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("policy.redb"), "{stderr}");
    // Nothing was overwritten.
    assert_eq!(
        std::fs::read(dir.path().join("data/policy.redb")).expect("read"),
        b"this is not a database"
    );
}

#[test]
fn unknown_configuration_keys_stop_startup() {
    let (_dir, config) = config_dir("[server]\nlisten_adress = \"127.0.0.1:0\"\n");
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen_adress"));
    let (_dir, config) = config_dir("");
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("SCOPEGATE__SERVER__NOPE", "1")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

#[test]
fn policy_check_prints_each_problem_with_its_place() {
    let ok = Command::new(BIN)
        .args(["policy", "check"])
        .arg(quickstart_policy())
        .output()
        .expect("run");
    assert!(ok.status.success());
    assert!(
        String::from_utf8_lossy(&ok.stdout)
            .contains("ok (7 roles, 8 scopes, 7 users, 2 clients, 3 APIs")
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[roles]]\nname = \"manager\"\n[[scopes]]\nkey = \"item_add\"\nroles = [\"Manager\"]\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["policy", "check"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("scopes[0] \"item_add\".roles[0]"), "{text}");
    assert!(text.contains("did you mean \"manager\""), "{text}");

    std::fs::write(&bad, "[[roles]\nname = 1\n").expect("write");
    let out = Command::new(BIN)
        .args(["policy", "check"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("line 1"),
        "syntax errors say where"
    );
}

#[test]
fn hash_secret_prints_an_argon2id_hash() {
    let mut child = Command::new(BIN)
        .arg("hash-secret")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"s3cret\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).expect("utf8");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!hash.contains("s3cret"));

    let out = Command::new(BIN)
        .arg("hash-secret")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success(), "an empty secret is refused");
}

#[test]
fn keys_generate_writes_a_private_key_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    for alg in ["EdDSA", "ES256", "RS256"] {
        let path = dir.path().join(format!("{alg}.pem"));
        let out = Command::new(BIN)
            .args(["keys", "generate", "--alg", alg, "--out"])
            .arg(&path)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pem = std::fs::read_to_string(&path).expect("key file");
        assert!(pem.contains("PRIVATE KEY"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Command::new(BIN)
            .args(["keys", "generate", "--alg", alg, "--out"])
            .arg(&path)
            .output()
            .expect("run");
        assert!(
            !again.status.success(),
            "an existing key is never overwritten"
        );
    }
    let out = Command::new(BIN)
        .args(["keys", "generate", "--alg", "HS256"])
        .output()
        .expect("run");
    assert!(!out.status.success());
}

#[test]
fn a_configured_key_file_signs_the_tokens() {
    let (dir, config) = config_dir("[keys]\nsigning_key_file = \"keys/rs256.pem\"\n");
    let out = Command::new(BIN)
        .args(["keys", "generate", "--alg", "RS256", "--out"])
        .arg(dir.path().join("keys/rs256.pem"))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let node = Node::start(&config, &[]);
    let issued = token(
        &node,
        &[
            ("grant_type", "password"),
            ("username", "paul"),
            ("password", "paul123"),
            ("scope", "order_add"),
        ],
    );
    let jwks: Value = client()
        .get(node.url("/oauth2/jwks"))
        .send()
        .expect("jwks")
        .json()
        .expect("json");
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    use base64::Engine;
    let header = issued["access_token"]
        .as_str()
        .expect("at")
        .split('.')
        .next()
        .expect("header");
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], key["kid"]);
    // No key was generated into the data directory: the configured file is the key.
    assert!(!dir.path().join("data/keys/signing.pem").exists());

    // A configured key file that does not exist stops startup, naming it.
    let (_dir, config) = config_dir("[keys]\nsigning_key_file = \"missing.pem\"\n");
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.pem"));
}
