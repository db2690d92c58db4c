//! The rendered objects: valid for Kubernetes, lint-clean, and wired the way the server needs.

use std::collections::BTreeSet;
use std::process::Command;

use scopegate_tests::tools::venv_bin;
use serde_json::{Value, json};

use crate::support::{FULLNAME, NAMESPACE, VALID_CASES, case, chart_dir, rendered};

/// The Kubernetes versions the manifests are validated against: the chart's `kubeVersion`
/// minimum and the newest kubernetes-validate ships schemas for.
const KUBE_VERSIONS: &[&str] = &["1.25.0", "1.37.0"];

/// Kinds that are CRDs, which kubernetes-validate has no schema for; the driver checks them
/// against the schemas in this directory instead.
const CRD_KINDS: &[&str] = &["ServiceMonitor"];

#[test]
fn every_manifest_passes_kubernetes_validate_strict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    // (file, kind/name) of every object, to find each in the validator's output.
    let mut expected = Vec::new();
    for name in VALID_CASES {
        let case = case(name);
        let case_dir = dir.path().join(name.trim_end_matches(".yaml"));
        std::fs::create_dir_all(&case_dir).expect("mkdir");
        for (template, text) in case.manifests() {
            let file = case_dir.join(template.rsplit('/').next().expect("file name"));
            std::fs::write(&file, &text).expect("write manifest");
            files.push(file.clone());
        }
        for (template, object) in case.objects_by_template() {
            let file = case_dir.join(template.rsplit('/').next().expect("file name"));
            let kind = object["kind"].as_str().expect("kind").to_owned();
            let name = object["metadata"]["name"]
                .as_str()
                .expect("name")
                .to_owned();
            expected.push((file, kind, name));
        }
    }
    // A deliberately broken Deployment: the validator must reject it, or it checks nothing.
    let broken = dir.path().join("broken-deployment.yaml");
    let deployment = case("defaults").get("Deployment").to_string();
    std::fs::write(
        &broken,
        deployment.replace("readOnlyRootFilesystem", "readOnlyRootFilesytem"),
    )
    .expect("write");
    files.push(broken.clone());

    let mut cmd = Command::new(venv_bin("kubernetes-validate"));
    cmd.arg("--strict");
    for version in KUBE_VERSIONS {
        cmd.args(["-k", version]);
    }
    let out = cmd.args(&files).output().expect("run kubernetes-validate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();

    let broken_errors: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("ERROR") && l.contains(&*broken.to_string_lossy()))
        .collect();
    assert_eq!(
        broken_errors.len(),
        KUBE_VERSIONS.len(),
        "the misspelt field must fail once per version:\n{stdout}"
    );
    assert!(
        broken_errors
            .iter()
            .all(|l| l.contains("'readOnlyRootFilesytem' was unexpected")),
        "{stdout}"
    );
    let others: Vec<&&str> = lines
        .iter()
        .filter(|l| !l.contains(&*broken.to_string_lossy()))
        .filter(|l| !l.starts_with("INFO") && !l.starts_with("WARN"))
        .collect();
    assert!(others.is_empty(), "kubernetes-validate --strict:\n{stdout}");

    for (file, kind, name) in &expected {
        let file = file.to_string_lossy();
        let resource = format!("{}/{name}", kind.to_lowercase());
        for version in KUBE_VERSIONS {
            let minor = version.trim_end_matches(".0");
            let passed =
                format!("INFO {file} passed for resource {resource} against version {minor}");
            let no_schema =
                format!("WARN {file} Couldn't find schema for kind {kind} with api version");
            if CRD_KINDS.contains(&kind.as_str()) {
                // Not validated by kubernetes-validate: it says so, and the driver's schema did.
                assert!(
                    lines.iter().any(|l| l.starts_with(&no_schema)),
                    "{resource} ({version}):\n{stdout}"
                );
            } else {
                assert!(
                    lines.iter().any(|l| *l == passed),
                    "{resource} was not validated against {version}:\n{stdout}"
                );
            }
        }
    }
    // No kind but the CRDs was skipped for want of a schema.
    for line in lines.iter().filter(|l| l.starts_with("WARN")) {
        assert!(
            CRD_KINDS
                .iter()
                .any(|k| line.contains(&format!("for kind {k} "))),
            "an object kubernetes-validate could not check: {line}"
        );
    }
    for name in VALID_CASES {
        assert!(
            case(name).crd_errors().is_empty(),
            "{name}: {:?}",
            case(name).crd_errors()
        );
    }
    assert!(
        case("cluster-sentinel-values.yaml")
            .find("ServiceMonitor")
            .is_some(),
        "the CRD check ran on something"
    );
}

#[test]
fn helm_lint_strict_is_clean_for_every_case() {
    for name in VALID_CASES {
        let lint = case(name).lint();
        assert_eq!(lint["total_charts_linted"], 1, "{name}: {lint}");
        assert_eq!(lint["errors"], json!([]), "{name}: {lint}");
        let findings: Vec<&Value> = lint["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["severity"].as_u64().unwrap_or(3) >= 2)
            .collect();
        assert!(findings.is_empty(), "{name}: {findings:?}");
    }
    assert!(!rendered().helm_sdk.is_empty());
}

#[test]
fn probes_reach_the_health_endpoints_on_the_http_port() {
    for name in VALID_CASES {
        let case = case(name);
        let c = case.container();
        assert_eq!(
            c["ports"],
            json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"}]),
            "{name}"
        );
        for (probe, path) in [
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ] {
            assert_eq!(
                c[probe]["httpGet"],
                json!({"path": path, "port": "http"}),
                "{name} {probe}"
            );
            assert!(
                c[probe]["periodSeconds"].as_u64() > Some(0),
                "{name} {probe}"
            );
        }
        let service = case.get("Service");
        assert_eq!(
            service["spec"]["ports"],
            json!([{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]),
            "{name}"
        );
        // The Service selects exactly the Deployment's pods.
        let selector = &case.get("Deployment")["spec"]["selector"]["matchLabels"];
        assert_eq!(&service["spec"]["selector"], selector, "{name}");
        let pod_labels = &case.get("Deployment")["spec"]["template"]["metadata"]["labels"];
        assert!(is_subset(selector, pod_labels), "{name}");
        assert_eq!(
            c["args"],
            json!(["serve", "--config", "/etc/scopegate/scopegate.toml"]),
            "{name}"
        );
    }
}

#[test]
fn pods_run_unprivileged_on_a_read_only_root() {
    for name in VALID_CASES {
        let case = case(name);
        let pod = case.pod();
        let psc = &pod["securityContext"];
        assert_eq!(psc["runAsNonRoot"], true, "{name}");
        assert_eq!(psc["runAsUser"], 10001, "{name}");
        assert_eq!(psc["fsGroup"], 10001, "{name}");
        assert_eq!(
            psc["seccompProfile"],
            json!({"type": "RuntimeDefault"}),
            "{name}"
        );
        let sc = &case.container()["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true, "{name}");
        assert_eq!(sc["runAsUser"], 10001, "{name}");
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
        assert_eq!(sc["capabilities"], json!({"drop": ["ALL"]}), "{name}");
        assert_eq!(
            sc["seccompProfile"],
            json!({"type": "RuntimeDefault"}),
            "{name}"
        );
        assert_eq!(pod["automountServiceAccountToken"], false, "{name}");
        // The only writable paths are volumes: the data directory and /tmp.
        let writable: BTreeSet<&str> = case.container()["volumeMounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .filter(|m| m["readOnly"] != true)
            .filter_map(|m| m["mountPath"].as_str())
            .collect();
        assert_eq!(
            writable,
            BTreeSet::from(["/tmp", "/var/lib/scopegate"]),
            "{name}"
        );
        let data = case.volume("data");
        if name.contains("persistence") {
            assert_eq!(
                data["persistentVolumeClaim"]["claimName"],
                format!("{FULLNAME}-data")
            );
        } else {
            assert!(data["emptyDir"].is_object(), "{name}: {data}");
        }
    }
}

#[test]
fn the_default_release_is_one_embedded_pod() {
    let case = case("defaults");
    assert_eq!(
        case.kinds(),
        ["ConfigMap", "Deployment", "Service", "ServiceAccount"]
    );
    assert_eq!(case.get("Deployment")["spec"]["replicas"], 1);
    // The node id from the downward API is its only variable: nothing else is configured.
    assert_eq!(case.env_names(), ["SCOPEGATE__CLUSTER__NODE_ID"]);
    assert_eq!(
        case.env("SCOPEGATE__CLUSTER__NODE_ID").expect("node id")["valueFrom"],
        json!({"fieldRef": {"fieldPath": "metadata.name"}})
    );
    assert!(
        case.notes()
            .contains("WARNING: the data directory is an emptyDir")
    );
    // The app version is the workspace's, and so is the default image tag.
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        case.container()["image"],
        format!("scopegate:{version}"),
        "Chart.yaml appVersion must follow the workspace version"
    );
    let chart = std::fs::read_to_string(chart_dir().join("Chart.yaml")).expect("Chart.yaml");
    assert!(
        chart.contains(&format!("appVersion: \"{version}\"")),
        "{chart}"
    );
    assert_eq!(
        case.get("Deployment")["metadata"]["labels"]["app.kubernetes.io/version"],
        version
    );
}

#[test]
fn a_sentinel_cluster_gets_its_secrets_as_files_and_its_identity_from_env() {
    let case = case("cluster-sentinel-values.yaml");
    assert_eq!(case.get("Deployment")["spec"]["replicas"], 3);
    assert_eq!(
        case.env_names(),
        [
            "SCOPEGATE__CLUSTER__NODE_ID",
            "SCOPEGATE__SERVER__PUBLIC_URL",
            "SCOPEGATE__ADMIN__BOOTSTRAP_CLIENT_SECRET_HASH",
        ]
    );
    assert_eq!(
        case.env("SCOPEGATE__SERVER__PUBLIC_URL")
            .expect("public url")["value"],
        "https://auth.example.com"
    );
    assert_eq!(
        case.env("SCOPEGATE__ADMIN__BOOTSTRAP_CLIENT_SECRET_HASH")
            .expect("hash")["valueFrom"],
        json!({"secretKeyRef": {"name": FULLNAME, "key": "bootstrap-client-secret-hash"}})
    );
    let secret = case.template("secret.yaml").expect("the chart's Secret");
    let keys: BTreeSet<&str> = secret["data"]
        .as_object()
        .expect("data")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "bootstrap-client-secret-hash",
            "key-encryption-key",
            "redis-password",
            "signing-key.pem",
        ])
    );
    assert_eq!(
        case.volume("secrets")["secret"],
        json!({
            "secretName": FULLNAME,
            "defaultMode": 0o440,
            "items": [
                {"key": "signing-key.pem", "path": "signing-key.pem"},
                {"key": "key-encryption-key", "path": "key-encryption-key"},
                {"key": "redis-password", "path": "redis-password"},
            ],
        })
    );
    // Secrets appear in clear nowhere: not in the ConfigMap, not in the Deployment.
    for (template, text) in case.manifests() {
        for secret in [
            "test-only: redis p@ss",
            "GW46P8R5Ipx8twXemqDNI1EsqMG7crKoMkMjk",
        ] {
            assert!(!text.contains(secret), "{template} shows a secret");
        }
    }
    let annotations = &case.get("Deployment")["spec"]["template"]["metadata"]["annotations"];
    assert!(annotations["checksum/secret"].is_string(), "{annotations}");
    assert!(case.notes().contains("Mode: cluster"), "{}", case.notes());

    let pdb = case.get("PodDisruptionBudget");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        case.get("Deployment")["spec"]["selector"]["matchLabels"]
    );
    assert!(case.find("HorizontalPodAutoscaler").is_none());
}

#[test]
fn the_service_monitor_scrapes_metrics_from_the_service() {
    let case = case("cluster-sentinel-values.yaml");
    let sm = case.get("ServiceMonitor");
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(sm["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(
        sm["spec"]["namespaceSelector"],
        json!({"matchNames": [NAMESPACE]})
    );
    assert_eq!(
        sm["spec"]["endpoints"],
        json!([{"port": "http", "path": "/metrics", "scheme": "http",
                "interval": "15s", "scrapeTimeout": "5s"}])
    );
    let service = case.get("Service");
    assert!(is_subset(
        &sm["spec"]["selector"]["matchLabels"],
        &service["metadata"]["labels"]
    ));
    assert!(
        service["spec"]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .any(|p| p["name"] == sm["spec"]["endpoints"][0]["port"])
    );
    assert!(
        crate::support::case("defaults")
            .find("ServiceMonitor")
            .is_none()
    );
}

#[test]
fn the_network_policy_admits_http_and_lets_out_dns_and_redis() {
    let case = case("cluster-sentinel-values.yaml");
    let np = case.get("NetworkPolicy");
    assert_eq!(
        np["spec"]["podSelector"]["matchLabels"],
        case.get("Deployment")["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(
        np["spec"]["ingress"],
        json!([{
            "ports": [{"port": "http", "protocol": "TCP"}],
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}}],
        }])
    );
    let ports: BTreeSet<(u64, &str)> = np["spec"]["egress"]
        .as_array()
        .expect("egress")
        .iter()
        .flat_map(|rule| rule["ports"].as_array().expect("ports").iter())
        .map(|p| {
            (
                p["port"].as_u64().expect("port"),
                p["protocol"].as_str().expect("proto"),
            )
        })
        .collect();
    assert_eq!(
        ports,
        BTreeSet::from([(53, "TCP"), (53, "UDP"), (6379, "TCP"), (26379, "TCP")])
    );
}

#[test]
fn an_existing_secret_is_mounted_under_its_own_key_names() {
    let case = case("existing-secret-values.yaml");
    assert!(
        case.template("secret.yaml").is_none(),
        "no chart-made Secret"
    );
    assert_eq!(case.get("Deployment")["spec"]["replicas"], 2);
    assert_eq!(
        case.volume("secrets")["secret"],
        json!({
            "secretName": "scopegate-credentials",
            "defaultMode": 0o440,
            "items": [
                {"key": "jwt-signing.pem", "path": "signing-key.pem"},
                {"key": "kek", "path": "key-encryption-key"},
                {"key": "redis-pass", "path": "redis-password"},
            ],
        })
    );
    assert_eq!(
        case.env("SCOPEGATE__ADMIN__BOOTSTRAP_CLIENT_SECRET_HASH")
            .expect("hash")["valueFrom"],
        json!({"secretKeyRef": {"name": "scopegate-credentials", "key": "admin-hash"}})
    );
    assert_eq!(
        case.env("SCOPEGATE__TOKENS__ACCESS_TOKEN_TTL_SECS")
            .expect("extraEnv")["value"],
        "900"
    );
    let annotations = &case.get("Deployment")["spec"]["template"]["metadata"]["annotations"];
    assert!(
        annotations.get("checksum/secret").is_none(),
        "{annotations}"
    );
}

#[test]
fn autoscaling_replaces_the_replica_count() {
    let case = case("hpa-values.yaml");
    let deployment = case.get("Deployment");
    assert!(
        deployment["spec"].get("replicas").is_none(),
        "the HPA owns it"
    );
    let hpa = case.get("HorizontalPodAutoscaler");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME})
    );
    assert_eq!(hpa["spec"]["minReplicas"], 3);
    assert_eq!(hpa["spec"]["maxReplicas"], 10);
    let targets: Vec<(String, u64)> = hpa["spec"]["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| {
            (
                m["resource"]["name"].as_str().expect("name").to_owned(),
                m["resource"]["target"]["averageUtilization"]
                    .as_u64()
                    .expect("target"),
            )
        })
        .collect();
    assert_eq!(targets, [("cpu".to_owned(), 60), ("memory".to_owned(), 80)]);
    let pdb = case.get("PodDisruptionBudget");
    assert_eq!(pdb["apiVersion"], "policy/v1");
    assert_eq!(pdb["spec"]["minAvailable"], 2);
    assert!(pdb["spec"].get("maxUnavailable").is_none());
    // No signing key and no Redis password: only the key-encryption key is mounted.
    assert_eq!(
        case.volume("secrets")["secret"]["items"],
        json!([{"key": "key-encryption-key", "path": "key-encryption-key"}])
    );
}

#[test]
fn embedded_persistence_keeps_the_data_on_a_claim_and_replaces_pods_one_at_a_time() {
    let case = case("embedded-persistence-values.yaml");
    let pvc = case.get("PersistentVolumeClaim");
    assert_eq!(pvc["metadata"]["name"], format!("{FULLNAME}-data"));
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "2Gi");
    assert_eq!(pvc["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    assert_eq!(
        case.get("Deployment")["spec"]["strategy"],
        json!({"type": "Recreate"})
    );
    assert!(!case.notes().contains("WARNING"), "{}", case.notes());
}

#[test]
fn the_policy_and_its_hashes_are_in_a_secret_never_the_config_map() {
    let with_policy = case("embedded-persistence-values.yaml");
    let config_map = with_policy.get("ConfigMap");
    let keys: Vec<&String> = config_map["data"]
        .as_object()
        .expect("data")
        .keys()
        .collect();
    assert_eq!(keys, ["scopegate.toml"]);
    assert!(
        !config_map.to_string().contains("$argon2id$"),
        "a hash in the ConfigMap: {config_map}"
    );
    let secret = with_policy
        .objects()
        .find(|o| o["kind"] == "Secret" && o["data"].get("policy.toml").is_some())
        .expect("a Secret holding the policy");
    let volumes = &with_policy.get("Deployment")["spec"]["template"]["spec"]["volumes"];
    let volume = volumes
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["secret"]["secretName"] == secret["metadata"]["name"])
        .expect("the policy Secret is mounted");
    assert_eq!(volume["secret"]["defaultMode"], 0o440);
    // Without a policy there is no policy Secret and no volume for it.
    let defaults = case("defaults");
    assert!(
        defaults
            .objects()
            .all(|o| o["data"].get("policy.toml").is_none())
    );
}

#[test]
fn config_changes_roll_the_pods_and_other_changes_do_not() {
    let checksum = |name: &str| {
        case(name).get("Deployment")["spec"]["template"]["metadata"]["annotations"]
            ["checksum/config"]
            .as_str()
            .expect("checksum/config")
            .to_owned()
    };
    let base = checksum("defaults");
    assert_eq!(base.len(), 64, "a sha256: {base}");
    assert_ne!(checksum("defaults with another log level"), base);
    assert_ne!(checksum("defaults with a policy"), base);
    assert_eq!(checksum("defaults with a service annotation"), base);
}

/// Whether every key of the object `small` has the same value in `big`.
fn is_subset(small: &Value, big: &Value) -> bool {
    small
        .as_object()
        .is_some_and(|s| s.iter().all(|(k, v)| big.get(k) == Some(v)))
}
