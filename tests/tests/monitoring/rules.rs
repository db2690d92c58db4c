//! The rule file and the dashboard on their own: promtool's checks and unit tests, the shape
//! of every alert, and a dashboard Grafana can import as it is.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::names::{self, Rule};
use crate::{arg, assert_promtool_ok, promtool, read_repo_file, repo_file};

pub const RULES: &str = "deploy/prometheus/rules.yml";
pub const RULES_TEST: &str = "deploy/prometheus/rules_test.yml";
pub const DASHBOARD: &str = "deploy/grafana/scopegate.json";

/// The alerts operators are promised (docs/operations.md#alerts).
const REQUIRED_ALERTS: [&str; 17] = [
    "ScopegateDown",
    "ScopegateNotReady",
    "ScopegatePolicyStale",
    "ScopegateRedisDown",
    "ScopegateRedisDataLost",
    "ScopegateNodeStale",
    "ScopegateRedisFlapping",
    "ScopegatePropagationLagHigh",
    "ScopegateHighErrorRate",
    "ScopegateTokenErrors",
    "ScopegateLatencyHigh",
    "ScopegateDenyRateSpike",
    "ScopegateInvalidTokenSpike",
    "ScopegatePasswordPoolSaturated",
    "ScopegatePasswordPoolRejecting",
    "ScopegateSigningKeyRotationDue",
    "ScopegateSigningKeyRotationOverdue",
];

/// The rules of `deploy/prometheus/rules.yml`.
pub fn rules() -> Vec<Rule> {
    names::parse_rules(&read_repo_file(RULES))
}

/// The dashboard's JSON.
pub fn dashboard() -> Value {
    serde_json::from_str(&read_repo_file(DASHBOARD)).expect("the dashboard is JSON")
}

/// Every `expr` string anywhere in the dashboard (panel targets, rows' nested panels).
pub fn dashboard_exprs(dashboard: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("expr", Value::String(s)) => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// The queries of the dashboard's query variables (`query` as a string or `{query: …}`).
pub fn dashboard_variable_queries(dashboard: &Value) -> Vec<String> {
    dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .filter(|v| v["type"] == "query")
        .filter_map(|v| match &v["query"] {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("query").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// A dashboard expression with Grafana's variables replaced, so promtool can parse it.
fn instantiate(expr: &str) -> String {
    expr.replace("$__rate_interval", "5m")
        .replace("${job}", ".*")
        .replace("$job", ".*")
        .replace("${instance}", ".*")
        .replace("$instance", ".*")
}

#[test]
fn promtool_checks_the_rule_file() {
    let run = promtool(&["check", "rules", RULES], None);
    assert_promtool_ok("check rules", &run);
    // promtool counts the rules it read; the parser the other checks rely on must see as many.
    let parsed = rules().len();
    assert!(
        run.output
            .contains(&format!("SUCCESS: {parsed} rules found")),
        "promtool and the test's parser disagree on the number of rules ({parsed} parsed):\n{}",
        run.output
    );
}

#[test]
fn promtool_unit_tests_pass() {
    let run = promtool(&["test", "rules", RULES_TEST], None);
    assert_promtool_ok("test rules", &run);
    assert!(run.output.contains("SUCCESS"), "{}", run.output);
}

#[test]
fn every_alert_has_severity_annotations_and_a_runbook() {
    let rules = rules();
    let alerts: Vec<&Rule> = rules.iter().filter(|r| r.kind == "alert").collect();
    let records: BTreeSet<&str> = rules
        .iter()
        .filter(|r| r.kind == "record")
        .map(|r| r.name.as_str())
        .collect();
    assert!(
        records.len() >= 10,
        "only {} recording rules",
        records.len()
    );
    let names: BTreeSet<&str> = alerts.iter().map(|r| r.name.as_str()).collect();
    for required in REQUIRED_ALERTS {
        assert!(names.contains(required), "no alert {required} in {RULES}");
    }

    let anchors = names::heading_anchors(&read_repo_file("docs/operations.md"));
    let mut problems = Vec::new();
    for alert in &alerts {
        let name = &alert.name;
        match alert.field("severity").as_deref() {
            Some("critical" | "warning") => {}
            other => problems.push(format!("{name}: severity {other:?}")),
        }
        for key in ["summary", "description"] {
            if alert.field(key).is_none_or(|v| v.trim().is_empty()) {
                problems.push(format!("{name}: no {key} annotation"));
            }
        }
        match alert.field("runbook_url") {
            Some(url) => match url.strip_prefix("docs/operations.md#") {
                Some(anchor) if anchors.contains(anchor) => {}
                _ => problems.push(format!(
                    "{name}: runbook_url {url} is not a heading of docs/operations.md"
                )),
            },
            None => problems.push(format!("{name}: no runbook_url annotation")),
        }
    }
    for rule in &rules {
        let Some(expr) = rule.expr() else {
            problems.push(format!("{}: no expr", rule.name));
            continue;
        };
        for used in names::recorded_names(&expr) {
            if !records.contains(used.as_str()) {
                problems.push(format!(
                    "{}: reads {used}, which no recording rule defines",
                    rule.name
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_rule_is_unit_tested() {
    let rules = rules();
    let tests = read_repo_file(RULES_TEST);
    // For each alertname of an alert_rule_test: was it expected silent, and expected firing?
    let mut silent = BTreeSet::new();
    let mut firing = BTreeSet::new();
    let mut current: Option<String> = None;
    for line in tests.lines() {
        let trimmed = line.trim_start().trim_start_matches("- ");
        if let Some(name) = trimmed.strip_prefix("alertname:") {
            current = Some(name.trim().to_owned());
        } else if let Some(value) = trimmed.strip_prefix("exp_alerts:") {
            let name = current.take().expect("exp_alerts after an alertname");
            if value.trim() == "[]" {
                silent.insert(name);
            } else {
                firing.insert(name);
            }
        }
    }
    let promql_tests: String = tests
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .trim_start_matches("- ")
                .strip_prefix("expr:")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut problems = Vec::new();
    for rule in &rules {
        let name = &rule.name;
        if rule.kind == "alert" {
            if !firing.contains(name) {
                problems.push(format!("{name}: no test expects it to fire"));
            }
            if !silent.contains(name) {
                problems.push(format!("{name}: no test expects it silent"));
            }
        } else if !names::recorded_names(&promql_tests).contains(name) {
            problems.push(format!("{name}: no promql_expr_test reads it"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn dashboard_is_importable_as_it_is() {
    let d = dashboard();
    assert_eq!(d["uid"], "scopegate");
    assert_eq!(d["title"], "scopegate");
    let schema = d["schemaVersion"].as_i64().expect("schemaVersion");
    assert!((36..=41).contains(&schema), "schemaVersion {schema}");
    assert!(
        d.get("id").is_none_or(Value::is_null),
        "an id ties it to one Grafana"
    );

    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no {name} variable"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    for name in ["job", "instance"] {
        assert_eq!(var(name)["type"], "query", "{name}");
        assert_eq!(var(name)["datasource"]["uid"], "${datasource}", "{name}");
    }

    // Every panel and target uses the datasource variable; ids are unique; rows hold panels.
    let mut ids = BTreeSet::new();
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mut panels = Vec::new();
    fn flatten<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            flatten(&p["panels"], out);
        }
    }
    let mut all = Vec::new();
    flatten(&d["panels"], &mut all);
    for p in all {
        let title = p["title"].as_str().unwrap_or("?");
        if !ids.insert(p["id"].as_i64().expect("panel id")) {
            problems.push(format!("{title}: duplicate id"));
        }
        if p["type"] == "row" {
            rows.push(title.to_owned());
            continue;
        }
        panels.push(title.to_owned());
        if p["datasource"]["uid"] != "${datasource}" {
            problems.push(format!("{title}: datasource {}", p["datasource"]));
        }
        let targets = p["targets"].as_array().map_or(&[][..], Vec::as_slice);
        if targets.is_empty() {
            problems.push(format!("{title}: no targets"));
        }
        for t in targets {
            if t["datasource"]["uid"] != "${datasource}" {
                problems.push(format!("{title}: target datasource {}", t["datasource"]));
            }
            if t["expr"].as_str().is_none_or(|e| !e.contains("$job")) {
                problems.push(format!("{title}: a query ignores $job: {}", t["expr"]));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(rows.len() >= 8, "rows: {rows:?}");
    assert!(panels.len() >= 30, "panels: {panels:?}");
}

#[test]
fn dashboard_queries_parse() {
    let d = dashboard();
    let exprs = dashboard_exprs(&d);
    assert!(exprs.len() >= 40, "only {} queries found", exprs.len());
    // promtool parses a rule file's expressions: one recording rule per query.
    let mut file = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        let expr = serde_json::to_string(&instantiate(expr)).expect("json string");
        file.push_str(&format!(
            "      - record: dashboard_query_{i}\n        expr: {expr}\n"
        ));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dashboard-queries.yml");
    std::fs::write(&path, file).expect("write queries");
    let run = promtool(&["check".to_owned(), "rules".to_owned(), arg(&path)], None);
    assert_promtool_ok("check rules (dashboard queries)", &run);
    assert!(
        run.output
            .contains(&format!("SUCCESS: {} rules found", exprs.len())),
        "{}",
        run.output
    );
    assert!(repo_file(DASHBOARD).exists());
}
