//! A real node's `/metrics` against the contract, the dashboard and the rules.

use std::collections::{BTreeMap, BTreeSet};

use scopegate_tests::{TestApp, basic, form, spawn_app};
use serde_json::Value;

use crate::names::{self, family_of};
use crate::rules::{dashboard, dashboard_exprs, dashboard_variable_queries, rules};
use crate::{promtool, read_repo_file};

/// Requests that give the labelled families series: tokens by two grants and an error,
/// decisions allowed, denied for scope and for a missing token, and a few plain routes.
pub(crate) async fn exercise(app: &TestApp) {
    let resp = app.password_token("alex", "order_view").await;
    assert_eq!(resp.status(), 200, "password grant");
    let body: Value = resp.json().await.expect("json");
    let alex = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();

    let resp = app
        .token_raw(
            &form(&[("grant_type", "client_credentials")]),
            Some(&basic("inventory-service", "inventory-secret")),
        )
        .await;
    assert_eq!(resp.status(), 200, "client_credentials grant");

    // An unknown refresh token: invalid_grant, without feeding the sign-in throttle (this runs
    // many times against one node; wrong passwords would lock alex).
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", "no-such-refresh-token"),
    ]);
    let resp = app
        .token_raw(&body, Some(&basic("shopping-app", "shopping-secret")))
        .await;
    assert_eq!(resp.status(), 400, "unknown refresh token");

    let check = |method: &'static str, token: Option<String>| {
        let mut req = app
            .client
            .get(app.url("/authz/check"))
            .header("x-forwarded-method", method)
            .header("x-forwarded-uri", "/shopping/1.0.0/orders");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let allowed = check("GET", Some(alex.clone())).await.expect("check");
    assert_eq!(allowed.status(), 200, "order_view allows GET orders");
    let denied = check("POST", Some(alex)).await.expect("check");
    assert_eq!(
        denied.status(),
        403,
        "order_view does not allow POST orders"
    );
    let anonymous = check("GET", None).await.expect("check");
    assert_eq!(anonymous.status(), 401, "no token");

    for path in ["/readyz", "/healthz", "/no/such/route"] {
        app.client.get(app.url(path)).send().await.expect(path);
    }
}

/// Names `used` by `what` that the scrape does not expose, as problem lines.
fn unexposed(
    what: &str,
    used: &BTreeSet<String>,
    families: &BTreeMap<String, String>,
) -> Vec<String> {
    used.iter()
        .filter(|name| family_of(name, families).is_none())
        .map(|name| format!("{what} uses {name}, which /metrics does not expose"))
        .collect()
}

/// Whether some sample of `name` carries every label of `want`.
fn has_series(scrape: &str, name: &str, want: &[(&str, &str)]) -> bool {
    names::sample_labels(scrape, name).iter().any(|labels| {
        want.iter()
            .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
    })
}

#[actix_web::test]
async fn metrics_match_the_contract_the_dashboard_and_the_rules() {
    let app = spawn_app().await;
    exercise(&app).await;
    let text = app.scrape_metrics().await;
    let mut problems = Vec::new();

    // (a) promtool's own linter, on exactly what was scraped.
    let lint = promtool(&["check", "metrics"], Some(&text));
    if !lint.success {
        problems.push(format!("promtool check metrics failed:\n{}", lint.output));
    }

    // (b) the families, from the `# TYPE` lines.
    let families = names::scrape_families(&text);
    let scopegate: BTreeSet<String> = families
        .keys()
        .filter(|n| n.starts_with("scopegate_"))
        .cloned()
        .collect();
    assert!(
        scopegate.len() >= 20,
        "only {} scopegate families in the scrape:\n{text}",
        scopegate.len()
    );

    // (c) the contract and the scrape name the same scopegate families, with the same types.
    let contract = read_repo_file("docs/metrics.md");
    let documented = names::documented_names(&contract, "scopegate_");
    assert!(
        documented.len() >= 20,
        "only {} metrics found in docs/metrics.md",
        documented.len()
    );
    for name in documented.difference(&scopegate) {
        problems.push(format!(
            "docs/metrics.md documents {name}, which /metrics does not expose"
        ));
    }
    for name in scopegate.difference(&documented) {
        problems.push(format!(
            "/metrics exposes {name}, which docs/metrics.md does not document"
        ));
    }
    for line in contract.lines().filter(|l| l.starts_with("| `scopegate_")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (name, kind) = (cells[1].trim_matches('`'), cells[2]);
        if let Some(exposed) = families.get(name) {
            if exposed != kind {
                problems.push(format!(
                    "{name}: docs/metrics.md says {kind}, /metrics says {exposed}"
                ));
            }
        }
    }
    let process = names::documented_names(&contract, "process_");
    assert!(
        process.len() >= 4,
        "process metrics in the contract: {process:?}"
    );
    problems.extend(unexposed("docs/metrics.md", &process, &families));

    // (d) the dashboard reads only what a node exposes.
    let d = dashboard();
    let queries: Vec<String> = dashboard_exprs(&d)
        .into_iter()
        .chain(dashboard_variable_queries(&d))
        .collect();
    let mut used: BTreeSet<String> = queries
        .iter()
        .flat_map(|q| names::exposed_names(q))
        .collect();
    assert!(
        used.len() >= 25,
        "only {} metric names found in the dashboard: {used:?}",
        used.len()
    );
    assert!(
        used.remove("up"),
        "the dashboard shows no target health (up)"
    );
    problems.extend(unexposed("deploy/grafana/scopegate.json", &used, &families));

    // (e) so do the rules, apart from what they record themselves and Prometheus's `up`.
    let rules = rules();
    let recorded: BTreeSet<&str> = rules
        .iter()
        .filter(|r| r.kind == "record")
        .map(|r| r.name.as_str())
        .collect();
    let mut used: BTreeSet<String> = rules
        .iter()
        .filter_map(|r| r.expr())
        .flat_map(|e| names::exposed_names(&e))
        .filter(|n| !recorded.contains(n.as_str()))
        .collect();
    used.remove("up");
    assert!(
        used.len() >= 15,
        "only {} metric names found in the rules: {used:?}",
        used.len()
    );
    problems.extend(unexposed("deploy/prometheus/rules.yml", &used, &families));

    // The label values the rules match literally are the ones the node produces.
    let http = "scopegate_http_request_duration_seconds_count";
    for (name, labels) in [
        (http, &[("endpoint", "/authz/check"), ("code", "2xx")][..]),
        (http, &[("endpoint", "/authz/check"), ("code", "4xx")]),
        (http, &[("endpoint", "/oauth2/token"), ("code", "2xx")]),
        (http, &[("endpoint", "/readyz")]),
        (http, &[("endpoint", "unmatched")]),
        (
            "scopegate_token_requests_total",
            &[("grant", "password"), ("outcome", "issued")],
        ),
        (
            "scopegate_token_requests_total",
            &[("grant", "client_credentials"), ("outcome", "issued")],
        ),
        (
            "scopegate_token_requests_total",
            &[("grant", "refresh_token"), ("outcome", "invalid_grant")],
        ),
        (
            "scopegate_token_requests_total",
            &[("outcome", "temporarily_unavailable")],
        ),
        (
            "scopegate_token_requests_total",
            &[("outcome", "server_error")],
        ),
        (
            "scopegate_decisions_total",
            &[
                ("endpoint", "check"),
                ("result", "allow"),
                ("reason", "none"),
                ("api", "ShoppingCartAPI"),
            ],
        ),
        (
            "scopegate_decisions_total",
            &[
                ("endpoint", "check"),
                ("result", "deny"),
                ("reason", "insufficient_scope"),
            ],
        ),
        (
            "scopegate_decisions_total",
            &[("result", "deny"), ("reason", "missing_token")],
        ),
        ("scopegate_signing_keys", &[("status", "active")]),
        ("scopegate_build_info", &[]),
    ] {
        if !has_series(&text, name, labels) {
            problems.push(format!("/metrics has no {name} series with {labels:?}"));
        }
    }
    // Nothing user-, client- or token-specific becomes a label value.
    for secret in [
        "alex",
        "inventory-service",
        "shopping-app",
        "/shopping/1.0.0/orders",
    ] {
        if text.contains(secret) {
            problems.push(format!("/metrics contains {secret:?}"));
        }
    }

    assert!(
        problems.is_empty(),
        "{}\n\n--- scrape ---\n{text}",
        problems.join("\n")
    );
}
