//! The rendered configuration, read by the server itself.
//!
//! [`Pod::simulate`] builds what the kubelet would give the container: every volume written to
//! a temporary directory at its mount path (the ConfigMap's keys, the Secret's selected items,
//! empty directories), and the env from literals, the downward API and the Secret. The rendered
//! scopegate.toml, with each mount path replaced by its directory, then goes through
//! `Settings::load`, exactly as `scopegate serve --config` reads it.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use scopegate_cluster::testing::{RedisServer, SentinelServer, TestCa};
use scopegate_server::{Application, Settings};
use serde_json::{Value, json};

use crate::support::{FULLNAME, Rendered, case};

/// The pod name the downward API gives `SCOPEGATE__CLUSTER__NODE_ID`.
const POD_NAME: &str = "sg-scopegate-6f7d9c8b5-x2k4q";

/// The chart's test signing key (helm/scopegate/ci/cluster-sentinel-values.yaml), used as the
/// existing Secret's too.
const SIGNING_KEY: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEINicrIq7piUZ0p8RvierlhHWZYygIdiu/8/3u2MQoP1o\n\
    -----END PRIVATE KEY-----\n";

/// Secrets by name, then key: the chart's rendered Secret and any the test says exist.
type Secrets = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

/// What `existing-secret-values.yaml` expects to find in the cluster.
fn existing_secret() -> Secrets {
    let entries = [
        ("jwt-signing.pem", SIGNING_KEY),
        ("kek", "9n4q0Sg3m1pVbP0rXr0mI2lH6c2c4m6hH0l7iVq2u1U=\n"),
        ("redis-pass", "from-the-existing-secret\n"),
        ("admin-hash", QUICKSTART_HASH),
        ("unrelated", "not mounted"),
    ];
    BTreeMap::from([(
        "scopegate-credentials".to_owned(),
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec()))
            .collect(),
    )])
}

/// argon2id of `ops-secret` (examples/quickstart/scopegate.toml).
const QUICKSTART_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$kvcgZomlVWkl8oZ5iaOX3w$LliW/CPT8yqHUyE72rCyRB+Mjdj0fm75Gbae0+qzVkU";

/// The container as the kubelet would start it, on the local filesystem.
struct Pod {
    /// Holds every volume's directory.
    root: tempfile::TempDir,
    /// Mount path → local directory, longest first.
    mounts: Vec<(String, PathBuf)>,
    /// The container's environment.
    env: HashMap<String, String>,
    /// The `--config` file, translated.
    config_file: PathBuf,
}

// === impl Pod ===

impl Pod {
    fn simulate(case: &Rendered, existing: Secrets) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let mut secrets = existing;
        for object in case.objects().filter(|o| o["kind"] == "Secret") {
            let data = object["data"]
                .as_object()
                .expect("Secret data")
                .iter()
                .map(|(k, v)| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(v.as_str().expect("base64 string"))
                        .expect("base64");
                    (k.clone(), bytes)
                })
                .collect();
            secrets.insert(
                object["metadata"]["name"]
                    .as_str()
                    .expect("name")
                    .to_owned(),
                data,
            );
        }
        let container = case.container();
        let mut mounts = Vec::new();
        for mount in container["volumeMounts"].as_array().expect("mounts") {
            let path = mount["mountPath"].as_str().expect("mountPath").to_owned();
            let dir = root.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(&dir).expect("mkdir");
            let volume = case.volume(mount["name"].as_str().expect("volume name"));
            if let Some(cm) = volume.get("configMap") {
                let object = case.get("ConfigMap");
                assert_eq!(cm["name"], object["metadata"]["name"], "{}", case.name);
                for (key, value) in object["data"].as_object().expect("data") {
                    std::fs::write(dir.join(key), value.as_str().expect("text")).expect("write");
                }
            } else if let Some(secret) = volume.get("secret") {
                let name = secret["secretName"].as_str().expect("secretName");
                let data = secrets
                    .get(name)
                    .unwrap_or_else(|| panic!("{}: no Secret {name}", case.name));
                for item in secret["items"].as_array().expect("items") {
                    let key = item["key"].as_str().expect("key");
                    let bytes = data
                        .get(key)
                        .unwrap_or_else(|| panic!("{}: Secret {name} has no {key}", case.name));
                    std::fs::write(dir.join(item["path"].as_str().expect("path")), bytes)
                        .expect("write");
                }
            } else {
                assert!(
                    volume.get("emptyDir").is_some()
                        || volume.get("persistentVolumeClaim").is_some(),
                    "{}: unexpected volume {volume}",
                    case.name
                );
            }
            mounts.push((path, dir));
        }
        mounts.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));

        let mut env = HashMap::new();
        for var in container["env"].as_array().expect("env") {
            let name = var["name"].as_str().expect("name").to_owned();
            let value = if let Some(value) = var["value"].as_str() {
                value.to_owned()
            } else if var["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name" {
                POD_NAME.to_owned()
            } else if let Some(r) = var["valueFrom"].get("secretKeyRef") {
                let (name, key) = (
                    r["name"].as_str().expect("n"),
                    r["key"].as_str().expect("k"),
                );
                let bytes = secrets
                    .get(name)
                    .and_then(|s| s.get(key))
                    .unwrap_or_else(|| panic!("{}: no {name}/{key} for the env", case.name));
                String::from_utf8(bytes.clone()).expect("utf-8")
            } else {
                panic!("{}: an env source the test does not know: {var}", case.name)
            };
            env.insert(name, value);
        }

        let args: Vec<&str> = container["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(args[..2], ["serve", "--config"], "{}", case.name);
        let mut pod = Self {
            root,
            mounts,
            env,
            config_file: PathBuf::new(),
        };
        pod.config_file = pod.local(args[2]);
        assert!(
            pod.config_file.is_file(),
            "{}: --config {}",
            case.name,
            args[2]
        );
        // The file as the container would read it, every path in it made local. A path that no
        // volume holds would be on the read-only image: `local` refuses it.
        let text = std::fs::read_to_string(&pod.config_file).expect("read config");
        let text: String = text
            .lines()
            .map(|line| match line.split_once(" = \"/") {
                Some((key, rest)) => {
                    let path = format!("/{}", rest.strip_suffix('"').expect("one string"));
                    format!("{key} = {:?}\n", pod.local(&path).display().to_string())
                }
                None => format!("{line}\n"),
            })
            .collect();
        pod.config_file = pod.root.path().join("scopegate.toml");
        std::fs::write(&pod.config_file, text).expect("write config");
        pod
    }

    /// Where a path of the container is on the local filesystem; panics if no volume holds it
    /// (the root filesystem is read-only and holds no configuration).
    fn local(&self, path: &str) -> PathBuf {
        self.mounts
            .iter()
            .find_map(|(mount, dir)| {
                path.strip_prefix(mount.as_str())
                    .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                    .map(|rest| dir.join(rest.trim_start_matches('/')))
            })
            .unwrap_or_else(|| panic!("{path} is on no volume"))
    }

    /// `Settings::load` on the rendered file and env, as `scopegate serve` calls it.
    fn settings(&self) -> Settings {
        Settings::load(Some(&self.config_file), self.env.clone(), self.root.path())
            .unwrap_or_else(|e| panic!("the server refuses the rendered configuration: {e}"))
    }

    /// Asserts that `path`, a path the server will open, is a file some volume provides.
    fn assert_provided(&self, path: &Path, what: &str) {
        assert!(
            path.starts_with(self.root.path()) && path.is_file(),
            "{what} {} is not provided by a volume",
            path.display()
        );
    }
}

/// The settings every case shares: listener, data directory, node id.
fn assert_common(pod: &Pod, s: &Settings) {
    assert_eq!(
        s.server.listen,
        "0.0.0.0:8080".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!(s.storage.data_dir, pod.local("/var/lib/scopegate"));
    assert!(s.storage.data_dir.is_dir());
    assert_eq!(s.cluster.node_id.as_deref(), Some(POD_NAME));
}

#[test]
fn the_default_configuration_loads_as_a_single_embedded_node() {
    let pod = Pod::simulate(case("defaults"), Secrets::new());
    let s = pod.settings();
    assert_common(&pod, &s);
    assert!(!s.cluster.enabled());
    assert_eq!(s.server.public_url, None);
    assert_eq!(s.storage.policy_file, None);
    assert_eq!(s.keys.signing_key_file, None);
    assert_eq!(format!("{:?}", s.log.format), "Json");
    assert_eq!(s.keys.rotation_announce_secs, 30);
    assert_eq!(s.admin.bootstrap_client_id, None);
}

#[test]
fn the_sentinel_configuration_lands_every_value_where_intended() {
    let case = case("cluster-sentinel-values.yaml");
    let pod = Pod::simulate(case, Secrets::new());
    let s = pod.settings();
    assert_common(&pod, &s);

    assert_eq!(
        s.cluster.redis_url.as_deref(),
        Some(
            "redis+sentinel://sentinel-0.sentinel.redis.svc:26379,sentinel-1.sentinel.redis.svc:26379,\
             sentinel-2.sentinel.redis.svc:26379/mymaster/2"
        )
    );
    let secrets = |file: &str| pod.local(&format!("/run/secrets/scopegate/{file}"));
    assert_eq!(
        s.cluster.key_encryption_key_file,
        Some(secrets("key-encryption-key"))
    );
    s.cluster
        .key_encryption_key()
        .expect("the mounted key-encryption key is 32 bytes of base64");
    assert_eq!(
        s.cluster.redis_password_file,
        Some(secrets("redis-password"))
    );
    assert_eq!(
        s.cluster.redis_password().expect("readable").as_deref(),
        Some("test-only: redis p@ss")
    );
    assert_eq!(s.keys.signing_key_file, Some(secrets("signing-key.pem")));
    let key = scopegate_server::keys::load_signing_key(&s).expect("the mounted key loads");
    assert_eq!(key.algorithm().to_string(), "EdDSA");
    let policy = s.storage.policy_file.clone().expect("policy file");
    pod.assert_provided(&policy, "storage.policy_file");
    scopegate_server::startup::read_policy_file(&policy).expect("the policy parses");
    for (file, what) in [
        (
            &s.cluster.key_encryption_key_file,
            "key_encryption_key_file",
        ),
        (&s.cluster.redis_password_file, "redis_password_file"),
        (&s.keys.signing_key_file, "signing_key_file"),
    ] {
        pod.assert_provided(file.as_deref().expect(what), what);
    }

    // From the env: the public URL and the bootstrap secret's hash.
    assert_eq!(
        s.server.public_url.as_deref(),
        Some("https://auth.example.com")
    );
    assert_eq!(s.admin.bootstrap_client_id.as_deref(), Some("ops"));
    assert_eq!(
        s.admin.bootstrap_client_secret_hash.as_deref(),
        Some(QUICKSTART_HASH)
    );

    // Every value of `config:` in the values file.
    assert_eq!(s.server.workers, 2);
    assert_eq!(
        (
            s.server.max_form_bytes,
            s.server.max_json_bytes,
            s.server.max_header_bytes
        ),
        (32_768, 524_288, 8_192)
    );
    assert_eq!(
        (
            s.server.header_read_timeout_ms,
            s.server.body_read_timeout_ms,
            s.server.keep_alive_secs
        ),
        (3_000, 20_000, 10)
    );
    assert_eq!(format!("{:?}", s.log.format), "Text");
    assert_eq!(s.log.level, "scopegate_server=debug,info");
    assert_eq!(s.keys.algorithm.to_string(), "ES256");
    assert_eq!(s.keys.rotation_announce_secs, 45);
    assert_eq!(s.keys.rotation_period_days, 30);
    let t = &s.tokens;
    assert_eq!(t.audience, "shop-apis");
    assert_eq!(
        (t.access_token_ttl_secs, t.refresh_token_ttl_secs),
        (600, 7_200)
    );
    assert_eq!(format!("{:?}", t.empty_grant), "InvalidScope");
    assert_eq!(
        (t.secret_cache_ttl_secs, t.secret_cache_capacity),
        (120, 5_000)
    );
    assert_eq!((t.hash_workers, t.hash_queue), (2, 32));
    assert_eq!(t.refresh_family_lifetime_secs, 604_800);
    assert_eq!((t.max_scopes_per_token, t.max_token_bytes), (100, 4_096));
    let th = &t.throttle;
    assert!(th.enabled);
    assert_eq!((th.user_failures, th.source_failures), (8, 40));
    assert_eq!(
        (th.window_secs, th.lockout_secs, th.max_lockout_secs),
        (600, 30, 1_800)
    );
    assert_eq!(
        s.server
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.0.0.0/8", "192.168.1.7/32"]
    );
    let v = &s.validation;
    assert_eq!((v.leeway_secs, v.cache_capacity), (10, 50_000));
    assert_eq!(format!("{:?}", v.unmatched_path), "Allow");
    assert_eq!(s.admin.bootstrap_role, "platform-admin");
    let c = &s.cluster;
    assert_eq!(c.key_prefix, "sg-prod");
    assert_eq!(c.channel_prefix.as_deref(), Some("sg-prod-events"));
    assert_eq!(
        (
            c.connect_timeout_ms,
            c.command_timeout_ms,
            c.reconnect_max_backoff_ms
        ),
        (500, 1_500, 4_000)
    );
    assert_eq!(c.log_retention, 20_000);
    assert!(c.fail_readiness_when_degraded);
    assert_eq!((c.ping_interval_ms, c.max_staleness_secs), (500, 120));
    assert!(c.ready_before_catch_up);
}

/// The keys each section of scopegate.toml sets, read from the rendered text.
fn toml_keys(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some((key, _)) = line.split_once(" = ") {
            keys.entry(section.clone())
                .or_default()
                .push(key.to_owned());
        }
    }
    keys
}

#[test]
fn every_setting_the_schema_allows_is_one_the_server_accepts() {
    // The sentinel case sets every key values.schema.json allows under `config`, so the server
    // loading it (previous test) accepts them all: the schema offers no key scopegate refuses.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::support::chart_dir().join("values.schema.json"))
            .expect("values.schema.json"),
    )
    .expect("schema JSON");
    let rendered = toml_keys(case("cluster-sentinel-values.yaml").config_toml());
    let sections = schema["properties"]["config"]["properties"]
        .as_object()
        .expect("config sections");
    assert!(sections.len() >= 7, "{sections:?}");
    for (section, spec) in sections {
        assert_eq!(spec["additionalProperties"], false, "[{section}] is strict");
        for (key, spec) in spec["properties"].as_object().expect("properties") {
            // A sub-table (`tokens.throttle`) is its own TOML section: each of its keys.
            let table = format!("{section}.{key}");
            let set: Vec<(&str, &str)> = match spec["properties"].as_object() {
                Some(inner) => inner.keys().map(|k| (table.as_str(), k.as_str())).collect(),
                None => vec![(section.as_str(), key.as_str())],
            };
            for (section, key) in set {
                assert!(
                    rendered
                        .get(section)
                        .is_some_and(|k| k.iter().any(|k| k == key)),
                    "config.{section}.{key} is allowed by the schema but not set by \
                     cluster-sentinel-values.yaml, so nothing shows the server accepts it"
                );
            }
        }
    }
    // And the keys the chart writes itself are there.
    for (section, key) in [
        ("server", "listen"),
        ("storage", "data_dir"),
        ("storage", "policy_file"),
        ("keys", "signing_key_file"),
        ("cluster", "redis_url"),
        ("cluster", "key_encryption_key_file"),
        ("cluster", "redis_password_file"),
    ] {
        assert!(
            rendered
                .get(section)
                .is_some_and(|k| k.iter().any(|k| k == key)),
            "[{section}] {key}"
        );
    }
}

#[test]
fn an_existing_secret_and_extra_env_reach_the_server() {
    let pod = Pod::simulate(case("existing-secret-values.yaml"), existing_secret());
    let s = pod.settings();
    assert_common(&pod, &s);
    assert_eq!(
        s.cluster.redis_url.as_deref(),
        Some("redis://redis-master.redis.svc:6379/1")
    );
    assert_eq!(
        s.cluster.redis_password().expect("readable").as_deref(),
        Some("from-the-existing-secret")
    );
    s.cluster.key_encryption_key().expect("kek");
    scopegate_server::keys::load_signing_key(&s).expect("signing key");
    assert_eq!(s.tokens.access_token_ttl_secs, 900, "from extraEnv");
    assert_eq!(s.admin.bootstrap_client_id.as_deref(), Some("platform-ops"));
    assert_eq!(
        s.admin.bootstrap_client_secret_hash.as_deref(),
        Some(QUICKSTART_HASH)
    );
    assert_eq!(
        s.server.public_url.as_deref(),
        Some("https://login.example.org/auth")
    );
}

#[test]
fn autoscaled_nodes_without_a_password_or_signing_key_load() {
    let pod = Pod::simulate(case("hpa-values.yaml"), Secrets::new());
    let s = pod.settings();
    assert_common(&pod, &s);
    assert_eq!(
        s.cluster.redis_url.as_deref(),
        Some("redis://redis.redis.svc:6379")
    );
    assert_eq!(s.cluster.redis_password_file, None);
    assert_eq!(s.cluster.redis_password().expect("none"), None);
    assert_eq!(s.keys.signing_key_file, None);
    s.cluster.key_encryption_key().expect("kek");
}

#[test]
fn an_embedded_node_with_persistence_loads_its_policy() {
    let pod = Pod::simulate(case("embedded-persistence-values.yaml"), Secrets::new());
    let s = pod.settings();
    assert_common(&pod, &s);
    assert!(!s.cluster.enabled());
    let policy = s.storage.policy_file.clone().expect("policy");
    pod.assert_provided(&policy, "storage.policy_file");
    scopegate_server::startup::read_policy_file(&policy).expect("the policy parses");
    assert_eq!(s.admin.bootstrap_client_id.as_deref(), Some("ops"));
}

/// Starts the server on `settings` (on a free local port instead of 0.0.0.0:8080) and GETs the
/// rendered probes' paths: each must answer 200. Returns `/readyz`'s body, the issuer and the
/// base URL.
async fn serve_and_probe(case: &Rendered, mut settings: Settings) -> (Value, String, String) {
    settings.server.listen = "127.0.0.1:0".parse().expect("addr");
    settings.server.workers = 1;
    let app = Application::build(settings)
        .await
        .unwrap_or_else(|e| panic!("{}: the server does not start: {e:#}", case.name));
    let base = format!("http://{}", app.address());
    actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let path = case.container()[probe]["httpGet"]["path"]
            .as_str()
            .expect("probe path");
        let resp = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("probe");
        assert_eq!(resp.status(), 200, "{}: {probe} {path}", case.name);
    }
    let ready: Value = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    let metadata: Value = client
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    let issuer = metadata["issuer"].as_str().expect("issuer").to_owned();
    (ready, issuer, base)
}

#[actix_web::test]
async fn the_default_release_starts_and_answers_its_probes() {
    let case = case("defaults");
    let pod = Pod::simulate(case, Secrets::new());
    let (ready, _, _) = serve_and_probe(case, pod.settings()).await;
    assert_eq!(ready["mode"], "embedded", "{ready}");
    assert_eq!(ready["node_id"], POD_NAME, "{ready}");
}

#[actix_web::test]
async fn the_sentinel_release_reaches_redis_with_the_mounted_password() {
    let case = case("cluster-sentinel-values.yaml");
    let pod = Pod::simulate(case, Secrets::new());
    let mut settings = pod.settings();
    let password = settings
        .cluster
        .redis_password()
        .expect("password")
        .expect("set");
    // The rendered Sentinel URL names cluster DNS names; point it at a local Sentinel watching a
    // master that requires the rendered password, keeping the master name and database.
    let master = RedisServer::start_with_password(&password);
    let sentinel = SentinelServer::start(&master);
    let url = settings.cluster.redis_url.clone().expect("url");
    let (_, path) = url
        .trim_start_matches("redis+sentinel://")
        .split_once('/')
        .expect("path");
    assert_eq!(path, format!("{}/2", SentinelServer::MASTER_NAME));
    settings.cluster.redis_url = Some(format!(
        "redis+sentinel://127.0.0.1:{}/{path}",
        sentinel.port()
    ));
    let (ready, issuer, base) = serve_and_probe(case, settings).await;
    assert_eq!(
        ready,
        json!({
            "status": "ready",
            "mode": "cluster",
            "node_id": POD_NAME,
            "policy_version": ready["policy_version"],
            "redis": {
                "reachable": true,
                "reconnects": 0,
                "last_error": null,
                "seconds_since_contact": ready["redis"]["seconds_since_contact"],
                "data_lost": false,
                "data_lost_detail": null,
                "caught_up": true,
            },
        })
    );
    assert_eq!(issuer, "https://auth.example.com");
    // The bootstrap administrator's hash came through the Secret and the env: its secret works.
    let resp = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .header("authorization", scopegate_tests::basic("ops", "ops-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=SYSTEM")
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    assert_eq!(
        case.template("secret.yaml").expect("the chart's Secret")["metadata"]["name"],
        FULLNAME
    );
}

#[actix_web::test]
async fn the_tls_release_reaches_redis_through_tls_sentinels_with_their_password() {
    let case = case("cluster-tls-values.yaml");
    // The operator's Secret, as cert-manager writes one, from a CA made for this test.
    let ca = TestCa::new();
    let read = |p: std::path::PathBuf| std::fs::read(p).expect("pem");
    let secrets = BTreeMap::from([(
        "redis-client-tls".to_owned(),
        BTreeMap::from([
            ("ca.crt".to_owned(), read(ca.ca_file())),
            ("tls.crt".to_owned(), read(ca.client_cert_file())),
            ("tls.key".to_owned(), read(ca.client_key_file())),
        ]),
    )]);
    let pod = Pod::simulate(case, secrets);
    let mut settings = pod.settings();
    assert_common(&pod, &settings);
    let tls = |file: &str| pod.local(&format!("/run/secrets/scopegate-redis-tls/{file}"));
    let c = &settings.cluster;
    assert_eq!(c.tls_ca_file, Some(tls("ca.crt")));
    assert_eq!(c.tls_cert_file, Some(tls("tls.crt")));
    assert_eq!(c.tls_key_file, Some(tls("tls.key")));
    for file in [&c.tls_ca_file, &c.tls_cert_file, &c.tls_key_file] {
        pod.assert_provided(file.as_deref().expect("set"), "a cluster.tls_* file");
    }
    let sentinel_password = c.sentinel_password().expect("readable").expect("set");
    assert_eq!(sentinel_password, "test-only: sentinel p@ss");
    let url = c.redis_url.clone().expect("url");
    let path = url
        .strip_prefix("rediss+sentinel://")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, path)| path.to_owned())
        .expect("a rediss+sentinel:// URL");
    assert_eq!(path, SentinelServer::MASTER_NAME);

    // A TLS-only master requiring client certificates and a TLS-only Sentinel requiring its
    // password, on this machine. (The master's own password is the other Sentinel test's.)
    let master = RedisServer::start_tls(&ca, true);
    let sentinel = SentinelServer::start_with(&master, Some(&sentinel_password));
    settings.cluster.redis_url = Some(format!(
        "rediss+sentinel://127.0.0.1:{}/{path}",
        sentinel.port()
    ));
    settings.cluster.redis_password = None;
    settings.cluster.redis_password_file = None;
    let (ready, _, _) = serve_and_probe(case, settings).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["redis"]["reachable"], true, "{ready}");
}
