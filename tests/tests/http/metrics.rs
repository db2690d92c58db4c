//! `/metrics` over HTTP: each request kind moves exactly the series it should, labels stay
//! bounded (route patterns, never raw paths or users), and the state gauges follow the node.

use reqwest::Method;
use scopegate_tests::{TestApp, basic, form, spawn_app_with};
use serde_json::json;

use super::admin::{Admin, admin_config, check, user_token};

/// One sample of a scrape: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Parses the text exposition (the subset scopegate writes: no escapes in label values
/// beyond what the tests use, no timestamps).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("sample has a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let inner = rest.strip_suffix('}').expect("closing brace");
                    let labels = inner
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").expect("label pair");
                            (k.to_owned(), v.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name, labels)
                }
                None => (series, Vec::new()),
            };
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("numeric value"),
            }
        })
        .collect()
}

struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

impl Scrape {
    async fn of(app: &TestApp) -> Scrape {
        let text = app.scrape_metrics().await;
        let samples = parse(&text);
        Scrape { text, samples }
    }

    /// The value of the one series of `name` whose labels include `labels`; 0 when there is
    /// none (a labelled series appears on its first increment). Panics if several match.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let matching: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .collect();
        assert!(
            matching.len() <= 1,
            "{name}{labels:?} matches several series: {matching:?}"
        );
        matching.first().map_or(0.0, |s| s.value)
    }

    /// The value of an unlabelled series that must exist.
    fn gauge(&self, name: &str) -> f64 {
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels.is_empty())
            .unwrap_or_else(|| panic!("{name} is not exposed"))
            .value
    }
}

fn tokens(outcome: &str, grant: &str) -> (&'static str, Vec<(&'static str, String)>) {
    (
        "scopegate_token_requests_total",
        vec![("grant", grant.to_owned()), ("outcome", outcome.to_owned())],
    )
}

async fn spawn() -> TestApp {
    spawn_app_with(&format!(
        "{}[keys]\nrotation_period_days = 30\n",
        admin_config()
    ))
    .await
}

#[actix_web::test]
async fn token_requests_are_counted_by_grant_and_outcome() {
    let app = spawn().await;
    let before = Scrape::of(&app).await;
    let count = |s: &Scrape, grant: &str, outcome: &str| {
        let (name, labels) = tokens(outcome, grant);
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        s.value(name, &labels)
    };
    // Every series exists before any request, at zero.
    assert_eq!(count(&before, "password", "issued"), 0.0);
    assert!(before.text.contains(
        "scopegate_token_requests_total{grant=\"refresh_token\",outcome=\"invalid_grant\"} 0"
    ));

    user_token(&app, "alex", "order_view").await;
    user_token(&app, "alex", "order_view").await;
    let wrong = app
        .token_raw(
            &form(&[
                ("grant_type", "password"),
                ("username", "alex"),
                ("password", "wrong"),
            ]),
            Some(&basic("shopping-app", "shopping-secret")),
        )
        .await;
    assert_eq!(wrong.status(), 400);
    let cc = app
        .token_raw(
            &form(&[("grant_type", "client_credentials")]),
            Some(&basic("inventory-service", "nope")),
        )
        .await;
    assert_eq!(cc.status(), 401);
    let odd = app
        .token_raw(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
            None,
        )
        .await;
    assert_eq!(odd.status(), 400);

    let after = Scrape::of(&app).await;
    assert_eq!(count(&after, "password", "issued"), 2.0);
    assert_eq!(count(&after, "password", "invalid_grant"), 1.0);
    assert_eq!(count(&after, "client_credentials", "invalid_client"), 1.0);
    assert_eq!(count(&after, "other", "unsupported_grant_type"), 1.0);
    // The hash pool ran the verifications (secret cache aside, at least the user passwords).
    assert!(after.gauge("scopegate_password_hash_verifications_total") >= 3.0);
    assert_eq!(after.gauge("scopegate_password_hash_queue_capacity"), 64.0);
    assert_eq!(after.gauge("scopegate_password_hash_rejections_total"), 0.0);
    // No user name, client id or secret reaches the exposition.
    for secret in ["alex", "inventory-service", "shopping-app", "wrong", "nope"] {
        assert!(
            !after.text.contains(secret),
            "{secret} leaked into /metrics"
        );
    }
}

#[actix_web::test]
async fn decisions_are_counted_by_result_reason_and_api() {
    let app = spawn().await;
    let alex = user_token(&app, "alex", "order_view").await;
    assert_eq!(
        check(&app, &alex, "GET", "/shopping/1.0.0/orders")
            .await
            .status(),
        200
    );
    assert_eq!(
        check(&app, &alex, "POST", "/shopping/1.0.0/orders")
            .await
            .status(),
        403
    );
    assert_eq!(
        check(&app, "not-a-jwt", "GET", "/shopping/1.0.0/orders")
            .await
            .status(),
        401
    );
    let anonymous = app
        .client
        .get(app.url("/authz/envoy/shopping/1.0.0/orders"))
        .send()
        .await
        .expect("envoy");
    assert_eq!(anonymous.status(), 401);
    let batch = app
        .client
        .post(app.url("/authz/v1/decide"))
        .json(&json!({"token": alex, "requests": [
            {"method": "GET", "path": "/shopping/1.0.0/orders"},
            {"method": "GET", "path": "/shopping/1.0.0/orders"},
            {"method": "GET", "path": "/nowhere/at/all"},
        ]}))
        .send()
        .await
        .expect("decide");
    assert_eq!(batch.status(), 200);

    let s = Scrape::of(&app).await;
    let d = |endpoint: &str, result: &str, reason: &str, api: &str| {
        s.value(
            "scopegate_decisions_total",
            &[
                ("endpoint", endpoint),
                ("result", result),
                ("reason", reason),
                ("api", api),
            ],
        )
    };
    assert_eq!(d("check", "allow", "none", "ShoppingCartAPI"), 1.0);
    assert_eq!(
        d("check", "deny", "insufficient_scope", "ShoppingCartAPI"),
        1.0
    );
    assert_eq!(d("check", "deny", "malformed_token", "none"), 1.0);
    assert_eq!(d("envoy", "deny", "missing_token", "none"), 1.0);
    assert_eq!(d("decide", "allow", "none", "ShoppingCartAPI"), 2.0);
    assert_eq!(d("decide", "deny", "no_resource", "none"), 1.0);
    // Each endpoint's latency is labelled with its route pattern.
    let requests = |endpoint: &str, code: &str| {
        s.value(
            "scopegate_http_request_duration_seconds_count",
            &[("endpoint", endpoint), ("code", code)],
        )
    };
    assert_eq!(requests("/authz/check", "2xx"), 1.0);
    assert_eq!(requests("/authz/check", "4xx"), 2.0);
    assert_eq!(requests("/authz/envoy/{tail:.*}", "4xx"), 1.0);
    assert_eq!(requests("/authz/v1/decide", "2xx"), 1.0);
    // The first check verified the token, later ones found it cached.
    assert!(s.gauge("scopegate_token_cache_misses_total") >= 1.0);
    assert!(s.gauge("scopegate_token_cache_hits_total") >= 3.0);
    assert!(s.gauge("scopegate_token_cache_entries") >= 1.0);
}

#[actix_web::test]
async fn latency_is_labelled_by_route_pattern_never_by_raw_path() {
    let app = spawn().await;
    for _ in 0..3 {
        let resp = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(resp.status(), 200);
    }
    let admin = Admin::bootstrap(&app).await;
    let missing = admin.get("/roles/zz-unique-role-name").await;
    assert_eq!(missing.status(), 404);
    let nowhere = app
        .client
        .get(app.url("/zz-unique-path/123"))
        .send()
        .await
        .expect("unmatched");
    assert_eq!(nowhere.status(), 404);
    let wrong_method = app
        .client
        .delete(app.url("/oauth2/token"))
        .send()
        .await
        .expect("405");
    assert_eq!(wrong_method.status(), 405);

    let s = Scrape::of(&app).await;
    let count = |endpoint: &str, code: &str| {
        s.value(
            "scopegate_http_request_duration_seconds_count",
            &[("endpoint", endpoint), ("code", code)],
        )
    };
    assert_eq!(count("/healthz", "2xx"), 3.0);
    assert_eq!(count("/api/v1/roles/{name}", "4xx"), 1.0);
    assert_eq!(count("unmatched", "4xx"), 1.0);
    assert_eq!(count("/oauth2/token", "4xx"), 1.0);
    assert_eq!(count("/oauth2/token", "2xx"), 1.0, "the admin's token");
    // Buckets are cumulative and end at +Inf = count.
    let inf = s.value(
        "scopegate_http_request_duration_seconds_bucket",
        &[("endpoint", "/healthz"), ("code", "2xx"), ("le", "+Inf")],
    );
    assert_eq!(inf, 3.0);
    assert!(!s.text.contains("zz-unique"), "a raw path became a label");
}

#[actix_web::test]
async fn state_gauges_follow_the_node() {
    let app = spawn().await;
    let s = Scrape::of(&app).await;
    assert_eq!(s.gauge("scopegate_cluster_mode"), 0.0);
    assert_eq!(s.gauge("scopegate_redis_up"), 1.0);
    assert_eq!(s.gauge("scopegate_ready"), 1.0);
    assert_eq!(s.gauge("scopegate_revoked_tokens"), 0.0);
    assert_eq!(
        s.gauge("scopegate_signing_key_rotation_period_seconds"),
        30.0 * 86_400.0
    );
    assert!(s.gauge("scopegate_signing_key_age_seconds") < 60.0);
    assert_eq!(
        s.value("scopegate_signing_keys", &[("status", "active")]),
        1.0
    );
    assert_eq!(
        s.value("scopegate_signing_keys", &[("status", "pending")]),
        0.0
    );
    assert_eq!(
        s.value(
            "scopegate_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    let version = s.gauge("scopegate_policy_version");
    let started = s.gauge("scopegate_policy_last_applied_timestamp_seconds");
    assert!(started > 1.7e9, "a Unix time: {started}");

    // An admin change moves the version and the last-applied time; it is this node's own
    // write, so it is not propagation.
    let admin = Admin::bootstrap(&app).await;
    let resp = admin
        .put(
            "/scopes/metrics_view",
            json!({"name": "Metrics", "description": "read metrics", "roles": []}),
        )
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    // A token revoked and a subject revoked show in the revocation-set sizes.
    let paul = user_token(&app, "paul", "order_add").await;
    let revoke = app
        .token_raw_to(
            "/oauth2/revoke",
            &form(&[("token", &paul)]),
            Some(&basic("shopping-app", "shopping-secret")),
        )
        .await;
    assert_eq!(revoke.status(), 200);
    let resp = admin
        .request(Method::POST, "/revocations/subjects")
        .json(&json!({"subject": "alex"}))
        .send()
        .await
        .expect("revoke subject");
    assert!(resp.status().is_success(), "{}", resp.status());
    // A rotation announces a pending key.
    let resp = admin.post("/keys/rotate", json!({})).await;
    assert!(resp.status().is_success(), "{}", resp.status());

    let s = Scrape::of(&app).await;
    assert_eq!(s.gauge("scopegate_policy_version"), version + 1.0);
    assert!(s.gauge("scopegate_policy_last_applied_timestamp_seconds") >= started);
    assert_eq!(
        s.gauge("scopegate_policy_propagation_lag_seconds_count"),
        0.0
    );
    assert_eq!(s.gauge("scopegate_revoked_tokens"), 1.0);
    assert_eq!(s.gauge("scopegate_revoked_subjects"), 1.0);
    assert_eq!(
        s.value("scopegate_signing_keys", &[("status", "pending")]),
        1.0
    );
}
