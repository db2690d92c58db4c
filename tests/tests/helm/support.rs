//! Rendering every case once, and reading the rendered objects.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::LazyLock;

use scopegate_tests::tools::{python, repo_root};
use serde_json::{Value, json};

/// The release name and namespace every case is rendered with.
pub const RELEASE: &str = "sg";
pub const NAMESPACE: &str = "auth";
/// `{RELEASE}-scopegate`: the name of every object.
pub const FULLNAME: &str = "sg-scopegate";

/// The Kubernetes version `helm lint` checks against (the chart's `kubeVersion` minimum).
pub const LINT_KUBE_VERSION: &str = "v1.25.0";

/// The chart directory.
pub fn chart_dir() -> PathBuf {
    repo_root().join("helm/scopegate")
}

/// The values files of `helm/scopegate/ci/` that must render; `defaults` uses none.
pub const VALID_CASES: &[&str] = &[
    "defaults",
    "cluster-sentinel-values.yaml",
    "existing-secret-values.yaml",
    "hpa-values.yaml",
    "embedded-persistence-values.yaml",
    "cluster-tls-values.yaml",
];

/// Overrides of the default values that must render: (name, values). They show which changes
/// roll the pods (`checksum/config`) and which do not.
pub fn variant_cases() -> Vec<(&'static str, Value)> {
    vec![
        (
            "defaults with another log level",
            json!({"config": {"log": {"level": "debug"}}}),
        ),
        (
            "defaults with a policy",
            json!({"policy": "[[roles]]\nname = \"reader\"\n"}),
        ),
        (
            "defaults with a service annotation",
            json!({"service": {"annotations": {"example.com/team": "auth"}}}),
        ),
    ]
}

/// Values the chart must refuse, each with a fragment of the message it must give.
pub fn refused_cases() -> Vec<(&'static str, Value, &'static str)> {
    let kek = "GW46P8R5Ipx8twXemqDNI1EsqMG7crKoMkMjk/cgios=";
    vec![
        (
            "two replicas without redis",
            json!({"replicaCount": 2}),
            "replicaCount > 1 and autoscaling need Redis",
        ),
        (
            "autoscaling without redis",
            json!({"autoscaling": {"enabled": true}}),
            "replicaCount > 1 and autoscaling need Redis",
        ),
        (
            "redis without a public url",
            json!({"redis": {"url": "redis://r:6379"}, "secrets": {"keyEncryptionKey": kek}}),
            "cluster mode needs publicUrl",
        ),
        (
            "sentinel without a public url",
            json!({"redis": {"sentinel": {"hosts": ["s:26379"], "masterName": "m"}},
                   "secrets": {"keyEncryptionKey": kek}}),
            "cluster mode needs publicUrl",
        ),
        (
            "redis without a key-encryption key",
            json!({"redis": {"url": "redis://r:6379"}, "publicUrl": "https://a.example"}),
            "cluster mode needs a key-encryption key",
        ),
        (
            "sentinel without a master name",
            json!({"redis": {"sentinel": {"hosts": ["s:26379"]}}, "publicUrl": "https://a.example",
                   "secrets": {"keyEncryptionKey": kek}}),
            "redis.sentinel.masterName is required",
        ),
        (
            "url and sentinel",
            json!({"redis": {"url": "redis://r:6379", "sentinel": {"hosts": ["s:26379"], "masterName": "m"}},
                   "publicUrl": "https://a.example", "secrets": {"keyEncryptionKey": kek}}),
            "not both",
        ),
        (
            "bootstrap client without its hash",
            json!({"config": {"admin": {"bootstrap_client_id": "ops"}}}),
            "bootstrap_client_id needs the secret's hash",
        ),
        (
            "persistence in cluster mode",
            json!({"redis": {"url": "redis://r:6379"}, "publicUrl": "https://a.example",
                   "secrets": {"keyEncryptionKey": kek}, "persistence": {"enabled": true}}),
            "persistence is for embedded mode",
        ),
        // values.schema.json: typos and keys the chart owns are refused, not ignored.
        (
            "typo at the top level",
            json!({"replicas": 2}),
            "additional properties 'replicas' not allowed",
        ),
        (
            "typo in a config section",
            json!({"config": {"tokens": {"access_token_ttl": 60}}}),
            "additional properties 'access_token_ttl' not allowed",
        ),
        (
            "a key the chart owns",
            json!({"config": {"server": {"listen": "127.0.0.1:9000"}}}),
            "additional properties 'listen' not allowed",
        ),
        (
            "typo in a redis section",
            json!({"redis": {"sentinel": {"master": "m"}}}),
            "additional properties 'master' not allowed",
        ),
        (
            "an http url for redis",
            json!({"redis": {"url": "http://r:6379"}}),
            "/redis/url",
        ),
        (
            "tls enabled with a plain redis url",
            json!({"redis": {"url": "redis://r:6379", "tls": {"enabled": true}},
                   "publicUrl": "https://a.example", "secrets": {"keyEncryptionKey": kek}}),
            "with redis.url, write a rediss:// URL",
        ),
        (
            "a tls secret without tls",
            json!({"redis": {"url": "redis://r:6379", "tls": {"existingSecret": "ca"}},
                   "publicUrl": "https://a.example", "secrets": {"keyEncryptionKey": kek}}),
            "redis.tls.existingSecret needs TLS",
        ),
        (
            "a client certificate without its secret",
            json!({"redis": {"url": "rediss://r:6380", "tls": {"clientCertificate": true}},
                   "publicUrl": "https://a.example", "secrets": {"keyEncryptionKey": kek}}),
            "redis.tls.clientCertificate needs redis.tls.existingSecret",
        ),
        (
            "a sentinel password without sentinels",
            json!({"redis": {"url": "redis://r:6379"}, "publicUrl": "https://a.example",
                   "secrets": {"keyEncryptionKey": kek, "sentinelPassword": "x"}}),
            "secrets.sentinelPassword is the Sentinels' own password",
        ),
        (
            "an unknown algorithm",
            json!({"config": {"keys": {"algorithm": "HS256"}}}),
            "/config/keys/algorithm",
        ),
        (
            "a string where a number belongs",
            json!({"config": {"tokens": {"access_token_ttl_secs": "600"}}}),
            "/config/tokens/access_token_ttl_secs",
        ),
    ]
}

/// One rendered case: the driver's answer.
#[derive(Debug)]
pub struct Rendered {
    /// The case's name (values file or refusal description).
    pub name: String,
    /// The driver's JSON for it.
    pub json: Value,
}

/// What the driver answered for every case, rendered once per test binary.
pub struct AllCases {
    /// The Helm SDK version that rendered them.
    pub helm_sdk: String,
    /// By case name.
    pub cases: BTreeMap<String, Rendered>,
}

static RENDERED: LazyLock<AllCases> = LazyLock::new(render_all);

/// Every case, rendered (on first use) by one run of the driver.
pub fn rendered() -> &'static AllCases {
    &RENDERED
}

/// A valid case by name; panics with the chart's error if it did not render.
pub fn case(name: &str) -> &'static Rendered {
    let case = rendered()
        .cases
        .get(name)
        .unwrap_or_else(|| panic!("no case {name}"));
    if let Some(err) = case.error() {
        panic!("{name} did not render: {err}");
    }
    case
}

fn render_all() -> AllCases {
    let here = repo_root().join("tests/tests/helm");
    let mut cases: Vec<Value> = VALID_CASES
        .iter()
        .map(|name| {
            let file = (*name != "defaults").then(|| chart_dir().join("ci").join(name));
            json!({"name": name, "values_file": file, "set": null, "lint": true})
        })
        .collect();
    for (name, values) in variant_cases() {
        cases.push(json!({"name": name, "values_file": null, "set": values, "lint": false}));
    }
    for (name, values, _) in refused_cases() {
        cases.push(json!({"name": name, "values_file": null, "set": values, "lint": false}));
    }
    let request = json!({
        "chart": chart_dir(),
        "release": RELEASE,
        "namespace": NAMESPACE,
        "kube_version": LINT_KUBE_VERSION,
        "crd_schemas": {
            "monitoring.coreos.com/v1/ServiceMonitor": here.join("servicemonitor.schema.json"),
        },
        "cases": cases,
    });
    let mut child = Command::new(python())
        .arg(here.join("driver.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the helm driver");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write the request");
    let out = child.wait_with_output().expect("helm driver");
    assert!(
        out.status.success(),
        "the helm driver failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).expect("the driver answers JSON");
    let cases = answer["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let name = c["name"].as_str().expect("name").to_owned();
            (
                name.clone(),
                Rendered {
                    name,
                    json: c.clone(),
                },
            )
        })
        .collect();
    AllCases {
        helm_sdk: answer["helm_sdk"].as_str().unwrap_or_default().to_owned(),
        cases,
    }
}

// === impl Rendered ===

impl Rendered {
    /// The chart's refusal (schema or `fail`), if it refused.
    pub fn error(&self) -> Option<&str> {
        self.json["error"].as_str()
    }

    /// Every rendered object.
    pub fn objects(&self) -> impl Iterator<Item = &Value> {
        self.json["objects"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|o| &o["object"])
    }

    /// Every rendered object with the template it came from.
    pub fn objects_by_template(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.json["objects"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|o| (o["template"].as_str().unwrap_or_default(), &o["object"]))
    }

    /// Rendered template path → manifest text.
    pub fn manifests(&self) -> BTreeMap<String, String> {
        self.json["manifests"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The kinds rendered, sorted.
    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .objects()
            .map(|o| o["kind"].as_str().unwrap_or_default().to_owned())
            .collect();
        kinds.sort();
        kinds
    }

    /// The one object of `kind`, if rendered.
    pub fn find(&self, kind: &str) -> Option<&Value> {
        let mut found = self.objects().filter(|o| o["kind"] == kind);
        let first = found.next();
        assert!(found.next().is_none(), "{}: several {kind}s", self.name);
        first
    }

    /// The object rendered from `templates/{file}`, if any (`secret.yaml`, not
    /// `policy-secret.yaml`).
    pub fn template(&self, file: &str) -> Option<&Value> {
        let suffix = format!("/templates/{file}");
        self.objects_by_template()
            .find(|(template, _)| template.ends_with(&suffix))
            .map(|(_, object)| object)
    }

    /// The one object of `kind`; panics if it was not rendered.
    pub fn get(&self, kind: &str) -> &Value {
        self.find(kind)
            .unwrap_or_else(|| panic!("{}: no {kind} rendered", self.name))
    }

    /// The Deployment's pod spec.
    pub fn pod(&self) -> &Value {
        &self.get("Deployment")["spec"]["template"]["spec"]
    }

    /// The scopegate container.
    pub fn container(&self) -> &Value {
        let containers = self.pod()["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 1, "{}: one container", self.name);
        &containers[0]
    }

    /// The container's env entry `name`.
    pub fn env(&self, name: &str) -> Option<&Value> {
        self.container()["env"]
            .as_array()?
            .iter()
            .find(|e| e["name"] == name)
    }

    /// The names of the container's env entries.
    pub fn env_names(&self) -> Vec<&str> {
        self.container()["env"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["name"].as_str()).collect())
            .unwrap_or_default()
    }

    /// The pod volume `name`.
    pub fn volume(&self, name: &str) -> &Value {
        self.pod()["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{}: no volume {name}", self.name))
    }

    /// The rendered scopegate.toml.
    pub fn config_toml(&self) -> &str {
        self.get("ConfigMap")["data"]["scopegate.toml"]
            .as_str()
            .expect("scopegate.toml in the ConfigMap")
    }

    /// The driver's `helm lint` report.
    pub fn lint(&self) -> &Value {
        &self.json["lint"]
    }

    /// ServiceMonitor (CRD) schema violations.
    pub fn crd_errors(&self) -> Vec<String> {
        self.json["crd_errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// NOTES.txt as rendered.
    pub fn notes(&self) -> &str {
        self.json["notes"].as_str().unwrap_or_default()
    }
}
