//! The dashboard and the rules against a real Prometheus (Debian's `prometheus`, 2.42): it
//! scrapes an in-process node every second and evaluates `deploy/prometheus/rules.yml` every
//! second while the node serves a little traffic. Then every rule group is loaded and every rule
//! evaluates without error, no alert fires on the healthy node, every query of
//! `deploy/grafana/scopegate.json` runs with the variables Grafana would fill in, and every panel
//! and recording rule shows data, apart from the few listed below with the reason they are empty
//! on one node in embedded mode.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scopegate_tests::proxy::{self, Proxy};
use scopegate_tests::{spawn_app, tools};
use serde_json::Value;

use crate::rules::{RULES, dashboard, dashboard_exprs, dashboard_variable_queries, rules};
use crate::scrape::exercise;
use crate::{read_repo_file, repo_file};

/// The scrape job, as the dashboard's `$job` and the rules' `job` label see it.
const JOB: &str = "scopegate";
/// Successful scrapes before anything is checked: `rate()` needs two samples with traffic.
const SCRAPES: f64 = 3.0;
/// How long Prometheus may take to start, scrape and evaluate until every check passes.
const TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(500);
/// Prometheus's log, in its directory.
const LOG: &str = "prometheus.log";

/// What Grafana puts for `$__rate_interval`: at least four scrape intervals (1 s here), and the
/// 1m its default 15 s scrape interval gives.
const RATE_INTERVAL: &str = "1m";
/// What Grafana puts for `$__interval` (the step of a range query).
const INTERVAL: &str = "5s";

/// Panels that may show no data (no sample, or only NaN) on one node in embedded mode.
const PANELS_MAY_BE_EMPTY: &[(&str, &str)] = &[
    (
        "5xx ratio by endpoint",
        "the node answered no 5xx, and a code=\"5xx\" series exists only once it has",
    ),
    (
        "Propagation lag per node",
        "embedded mode: no policy change comes from another node, so the histogram stays empty \
         and every quantile of it is NaN",
    ),
];

/// Recording rules that may record nothing (or only NaN) on one node in embedded mode.
const RECORDS_MAY_BE_EMPTY: &[(&str, &str)] = &[
    (
        "job_endpoint:scopegate_http_errors:ratio_rate5m",
        "absent for an endpoint that answered no 5xx (as rules.yml says), and the node answered none",
    ),
    (
        "instance:scopegate_policy_propagation_lag_seconds:p99_5m",
        "embedded mode: nothing propagates, so the quantile of the empty histogram is NaN",
    ),
];

/// Alerts that may be pending (none may fire) on a healthy node under this test's load.
const ALERTS_MAY_BE_PENDING: &[(&str, &str)] = &[(
    "ScopegateLatencyHigh",
    "an unoptimised build on shared cores can answer a check in more than 50 ms",
)];

/// Starts Prometheus on a free port, scraping `target` as job [`JOB`] every second and
/// evaluating the repository's rule file every second. Blocks until it is ready.
fn start_prometheus(target: SocketAddr) -> Proxy {
    let binary = tools::system_bin("prometheus", &["/usr/bin/prometheus"], "prometheus");
    let rule_file = serde_json::to_string(&repo_file(RULES).display().to_string()).expect("path");
    // Nothing but the one target: no alertmanager, no remote storage, no service discovery.
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {rule_file}\n\
         scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [\"{target}\"]\n"
    );
    let spawn = |dir: &Path, listen: SocketAddr| -> Child {
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, &config).expect("write prometheus.yml");
        let log = File::create(dir.join(LOG)).expect("prometheus log");
        Command::new(&binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .arg("--log.level=warn")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("prometheus log"))
            .stderr(log)
            .spawn()
            .expect("start prometheus")
    };
    Proxy::start(
        "prometheus",
        LOG,
        Duration::from_secs(15),
        spawn,
        |address| proxy::probe(address, "/-/ready") == Some(200),
    )
}

/// Prometheus's HTTP API.
struct Api {
    base: String,
    client: reqwest::Client,
}

/// The samples of an instant query: labels and value (NaN stays NaN).
type Samples = Vec<(Value, f64)>;

impl Api {
    /// `GET path?params` and its JSON, whatever the status (errors come as JSON too).
    async fn get(&self, path: &str, params: &[(&str, &str)]) -> Value {
        self.client
            .get(format!("{}{path}", self.base))
            .query(params)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
    }

    /// An instant query, now.
    async fn query(&self, expr: &str) -> Result<Samples, String> {
        samples(&self.get("/api/v1/query", &[("query", expr)]).await)
    }

    /// Grafana's `label_values(…)` as its Prometheus data source asks it:
    /// `/api/v1/label/<label>/values?match[]=<selector>`.
    async fn label_values(&self, query: &str) -> Result<Vec<String>, String> {
        let (label, selector) = label_values_request(query)?;
        let path = format!("/api/v1/label/{label}/values");
        let answer = match &selector {
            Some(selector) => self.get(&path, &[("match[]", selector)]).await,
            None => self.get(&path, &[]).await,
        };
        success(&answer)?
            .as_array()
            .ok_or_else(|| format!("not a list: {answer}"))
            .map(|values| {
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
    }
}

/// The `data` of a successful API answer, or its error.
fn success(answer: &Value) -> Result<&Value, String> {
    if answer["status"] == "success" {
        Ok(&answer["data"])
    } else {
        Err(format!(
            "{}: {}",
            answer["errorType"].as_str().unwrap_or("?"),
            answer["error"].as_str().unwrap_or("no error message")
        ))
    }
}

/// The samples of an instant query's answer.
fn samples(answer: &Value) -> Result<Samples, String> {
    let data = success(answer)?;
    let value = |pair: &Value| {
        pair[1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    match data["resultType"].as_str() {
        Some("vector") => Ok(data["result"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|s| (s["metric"].clone(), value(&s["value"])))
            .collect()),
        Some("scalar") => Ok(vec![(Value::Null, value(&data["result"]))]),
        other => Err(format!(
            "result type {other:?}, not an instant vector or scalar"
        )),
    }
}

/// `label_values(selector, label)` or `label_values(label)` → (label, selector).
fn label_values_request(query: &str) -> Result<(String, Option<String>), String> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .ok_or_else(|| {
            format!("not a label_values(…) query, which this test cannot run: {query}")
        })?;
    let (label, selector) = match inner.rsplit_once(',') {
        Some((selector, label)) => (label.trim(), Some(selector.trim().to_owned())),
        None => (inner.trim(), None),
    };
    if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("no label name in {query}"));
    }
    Ok((label.to_owned(), selector))
}

/// `expr` with Grafana's variables (`$name`, `${name}`) replaced by `vars`; an error names a
/// variable `vars` does not have, or a `${name:format}` (formats are not emulated).
fn interpolate(expr: &str, vars: &BTreeMap<&str, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = match after.strip_prefix('{') {
            Some(braced) => {
                let end = braced
                    .find('}')
                    .ok_or_else(|| format!("unclosed ${{ in {expr}"))?;
                (&braced[..end], end + 2)
            }
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        if name.is_empty() {
            // A `$` of the query itself (a regex anchor).
            out.push('$');
            rest = after;
            continue;
        }
        if name.contains(':') {
            return Err(format!("${{{name}}}: variable formats are not emulated"));
        }
        let value = vars
            .get(name)
            .ok_or_else(|| format!("${name}: not a variable this test knows how Grafana fills"))?;
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What Grafana's Prometheus data source makes of a value of a multi-value or include-all
/// variable used in a query: regex metacharacters escaped for a PromQL string (`.` → `\\.`).
fn grafana_regex_escape(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\\\"),
            '$' | '^' | '*' | '{' | '}' | '[' | ']' | '\'' | '+' | '?' | '.' | '(' | ')' | '|' => {
                out.push_str(r"\\");
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A panel query: the panel's title, the target's refId and its expression.
struct Target {
    panel: String,
    ref_id: String,
    expr: String,
}

/// Every target of every panel (rows' nested panels included).
fn panel_targets(dashboard: &Value) -> Vec<Target> {
    fn walk(panels: &Value, out: &mut Vec<Target>) {
        for panel in panels.as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push(Target {
                        panel: panel["title"].as_str().unwrap_or("?").to_owned(),
                        ref_id: target["refId"].as_str().unwrap_or("?").to_owned(),
                        expr: expr.to_owned(),
                    });
                }
            }
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// The outcome of one check.
#[derive(Debug, PartialEq)]
enum Verdict {
    Ok,
    /// Empty, and allowed to be, for this reason.
    Allowed(&'static str),
    /// Not (yet) as it should be: no data, a rule not evaluated, an alert active. Retried until
    /// the deadline.
    Missing,
    /// Wrong for good: a query Prometheus refuses, a rule that fails, a rule not loaded.
    Error,
}

struct Line {
    verdict: Verdict,
    what: String,
    detail: String,
}

/// One round of checks, printable as a per-check summary.
#[derive(Default)]
struct Report(Vec<Line>);

impl Report {
    fn push(&mut self, verdict: Verdict, what: impl Into<String>, detail: impl Into<String>) {
        self.0.push(Line {
            verdict,
            what: what.into(),
            detail: detail.into(),
        });
    }

    /// Records a query's answer: data, allowed to be empty, empty, or an error.
    fn answer(
        &mut self,
        what: String,
        expr: &str,
        answer: &Result<Samples, String>,
        may_be_empty: Option<&'static str>,
    ) {
        let (verdict, detail) = classify(answer, may_be_empty);
        self.push(verdict, what, format!("{detail}\n        {expr}"));
    }

    fn has(&self, verdict: &Verdict) -> bool {
        self.0.iter().any(|l| &l.verdict == verdict)
    }

    fn passes(&self) -> bool {
        !self.has(&Verdict::Error) && !self.has(&Verdict::Missing)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.0 {
            let tag = match line.verdict {
                Verdict::Ok => "ok",
                Verdict::Allowed(_) => "allowed",
                Verdict::Missing => "MISSING",
                Verdict::Error => "ERROR",
            };
            writeln!(f, "{tag:8}{}: {}", line.what, line.detail)?;
        }
        Ok(())
    }
}

/// What an answer shows: data (a finite value), nothing (no sample, or only NaN/±Inf, which a
/// panel cannot draw), or an error.
fn classify(
    answer: &Result<Samples, String>,
    may_be_empty: Option<&'static str>,
) -> (Verdict, String) {
    match answer {
        Err(error) => (Verdict::Error, error.clone()),
        Ok(samples) => {
            let finite = samples.iter().filter(|(_, v)| v.is_finite()).count();
            let detail = format!("{} series, {finite} with a finite value", samples.len());
            match (finite, may_be_empty) {
                (0, Some(reason)) => (Verdict::Allowed(reason), format!("{detail} ({reason})")),
                (0, None) => (Verdict::Missing, detail),
                _ => (Verdict::Ok, detail),
            }
        }
    }
}

/// The rule groups of the rule file, by the `- name:` lines of its `groups:` list.
fn rule_groups(yaml: &str) -> BTreeSet<String> {
    yaml.lines()
        .filter_map(|line| line.trim_start().strip_prefix("- name:"))
        .map(|name| name.trim().trim_matches('"').to_owned())
        .collect()
}

/// The rules as Prometheus loaded and evaluated them, against the rule file.
async fn check_rules(api: &Api, report: &mut Report) {
    let want_groups = rule_groups(&read_repo_file(RULES));
    let want_rules: BTreeSet<(String, String)> = rules()
        .iter()
        .map(|r| {
            let kind = if r.kind == "record" {
                "recording"
            } else {
                "alerting"
            };
            (kind.to_owned(), r.name.clone())
        })
        .collect();
    let file = repo_file(RULES).display().to_string();

    let answer = api.get("/api/v1/rules", &[]).await;
    let data = match success(&answer) {
        Ok(data) => data,
        Err(e) => return report.push(Verdict::Error, "GET /api/v1/rules", e),
    };
    let groups = data["groups"].as_array().map_or(&[][..], Vec::as_slice);
    let mut got_groups = BTreeSet::new();
    let mut got_rules = BTreeSet::new();
    let mut count = 0;
    for group in groups {
        let name = group["name"].as_str().unwrap_or("?").to_owned();
        if group["file"] != file.as_str() {
            report.push(
                Verdict::Error,
                format!("group {name}"),
                format!("from {}", group["file"]),
            );
        }
        got_groups.insert(name);
        for rule in group["rules"].as_array().into_iter().flatten() {
            count += 1;
            let name = rule["name"].as_str().unwrap_or("?");
            let kind = rule["type"].as_str().unwrap_or("?");
            got_rules.insert((kind.to_owned(), name.to_owned()));
            let what = format!("{kind} rule {name}");
            match rule["health"].as_str() {
                Some("ok") => {}
                Some("unknown") => {
                    report.push(Verdict::Missing, what, "not evaluated yet");
                    continue;
                }
                other => {
                    let error = rule["lastError"].as_str().unwrap_or("");
                    report.push(Verdict::Error, what, format!("health {other:?}: {error}"));
                    continue;
                }
            }
            if kind == "alerting" {
                let state = rule["state"].as_str().unwrap_or("?");
                let may_be_pending = ALERTS_MAY_BE_PENDING.iter().find(|(a, _)| *a == name);
                match (state, may_be_pending) {
                    ("inactive", _) => report.push(Verdict::Ok, what, "healthy, inactive"),
                    ("pending", Some((_, reason))) => {
                        let reason: &'static str = reason;
                        report.push(
                            Verdict::Allowed(reason),
                            what,
                            format!("pending ({reason})"),
                        )
                    }
                    _ => report.push(
                        Verdict::Missing,
                        what,
                        format!("{state} on a healthy node: {}", rule["alerts"]),
                    ),
                }
            } else {
                report.push(Verdict::Ok, what, "healthy");
            }
        }
    }
    if got_groups != want_groups {
        report.push(
            Verdict::Error,
            "rule groups",
            format!("Prometheus loaded {got_groups:?}, {RULES} has {want_groups:?}"),
        );
    }
    if count != want_rules.len() || got_rules != want_rules {
        let missing: Vec<_> = want_rules.difference(&got_rules).collect();
        let extra: Vec<_> = got_rules.difference(&want_rules).collect();
        report.push(
            Verdict::Error,
            "rules",
            format!(
                "Prometheus loaded {count}, {RULES} has {}; not loaded: {missing:?}; unexpected: {extra:?}",
                want_rules.len()
            ),
        );
    }
    for (alert, _) in ALERTS_MAY_BE_PENDING {
        if !want_rules.contains(&("alerting".to_owned(), (*alert).to_owned())) {
            report.push(
                Verdict::Error,
                *alert,
                "listed as allowed pending, but no such alert",
            );
        }
    }
}

/// Every recording rule records data, apart from [`RECORDS_MAY_BE_EMPTY`].
async fn check_records(api: &Api, report: &mut Report) {
    let records: Vec<String> = rules()
        .into_iter()
        .filter(|r| r.kind == "record")
        .map(|r| r.name)
        .collect();
    for (name, _) in RECORDS_MAY_BE_EMPTY {
        if !records.iter().any(|r| r == name) {
            report.push(
                Verdict::Error,
                *name,
                "listed as allowed empty, but no such recording rule",
            );
        }
    }
    for name in records {
        let expr = format!("{name}{{job=\"{JOB}\"}}");
        let allowed = RECORDS_MAY_BE_EMPTY
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, reason)| *reason);
        let answer = api.query(&expr).await;
        report.answer(format!("recorded {name}"), &expr, &answer, allowed);
    }
}

/// The dashboard's variables give the node's job and instance; its panels' queries run, with
/// `$instance` as Grafana fills it for "All" and for the node alone, and show data.
async fn check_dashboard(api: &Api, instance: &str, report: &mut Report) {
    let d = dashboard();
    let vars: BTreeMap<&str, String> = [
        ("job", JOB.to_owned()),
        ("__rate_interval", RATE_INTERVAL.to_owned()),
        ("__interval", INTERVAL.to_owned()),
    ]
    .into_iter()
    .collect();

    for query in dashboard_variable_queries(&d) {
        let what = format!("variable query {query}");
        let values = match interpolate(&query, &vars) {
            Ok(q) => api.label_values(&q).await,
            Err(e) => Err(e),
        };
        match values {
            Err(e) => report.push(Verdict::Error, what, e),
            Ok(values) => {
                let label = label_values_request(&query)
                    .map(|(l, _)| l)
                    .unwrap_or_default();
                let want = match label.as_str() {
                    "job" => Some(JOB),
                    "instance" => Some(instance),
                    _ => None,
                };
                let found = match want {
                    Some(want) => values.iter().any(|v| v == want),
                    None => !values.is_empty(),
                };
                let verdict = if found { Verdict::Ok } else { Verdict::Missing };
                report.push(verdict, what, format!("{values:?}, want {want:?}"));
            }
        }
    }

    // `$instance`: "All" (the variable's allValue, else every value) or the node picked alone.
    let all = d["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == "instance")
        .and_then(|v| v["allValue"].as_str())
        .map_or_else(|| grafana_regex_escape(instance), str::to_owned);
    let choices = [("All", all), (instance, grafana_regex_escape(instance))];

    let targets = panel_targets(&d);
    let titles: BTreeSet<&str> = targets.iter().map(|t| t.panel.as_str()).collect();
    for (panel, _) in PANELS_MAY_BE_EMPTY {
        if !titles.contains(panel) {
            report.push(
                Verdict::Error,
                *panel,
                "listed as allowed empty, but no such panel",
            );
        }
    }
    let exprs = dashboard_exprs(&d).len();
    if targets.len() != exprs {
        report.push(
            Verdict::Error,
            "dashboard",
            format!("{} panel targets found, but {exprs} exprs", targets.len()),
        );
    }
    for (choice, value) in &choices {
        let mut vars = vars.clone();
        vars.insert("instance", value.clone());
        for target in &targets {
            let what = format!("{} / {} [instance={choice}]", target.panel, target.ref_id);
            let allowed = PANELS_MAY_BE_EMPTY
                .iter()
                .find(|(p, _)| *p == target.panel)
                .map(|(_, reason)| *reason);
            match interpolate(&target.expr, &vars) {
                Ok(expr) => {
                    let answer = api.query(&expr).await;
                    report.answer(what, &expr, &answer, allowed);
                }
                Err(e) => report.push(
                    Verdict::Error,
                    what,
                    format!("{e}\n        {}", target.expr),
                ),
            }
        }
    }
}

/// Whether Prometheus has scraped the node [`SCRAPES`] times and evaluated every rule once
/// (a rate-based record included), and if not, what it still lacks.
async fn warmed_up(api: &Api, instance: &str) -> Result<(), String> {
    let up = format!("up{{job=\"{JOB}\", instance=\"{instance}\"}}");
    let scrapes = format!("sum_over_time({up}[1m])");
    let scraped = api.query(&scrapes).await?.first().map_or(0.0, |(_, v)| *v);
    if scraped < SCRAPES {
        return Err(format!("{scraped} successful scrapes ({scrapes})"));
    }
    if api.query(&format!("{up} == 1")).await?.is_empty() {
        return Err(format!("{up} is not 1"));
    }
    let answer = api.get("/api/v1/rules", &[]).await;
    let unevaluated: Vec<&str> = success(&answer)?["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .filter(|r| r["health"] == "unknown")
        .filter_map(|r| r["name"].as_str())
        .collect();
    if !unevaluated.is_empty() {
        return Err(format!("rules not evaluated yet: {unevaluated:?}"));
    }
    let record = format!(
        "job_endpoint:scopegate_http_requests:rate5m{{job=\"{JOB}\", endpoint=\"/authz/check\"}}"
    );
    if api
        .query(&record)
        .await?
        .iter()
        .all(|(_, v)| !v.is_finite())
    {
        return Err(format!("no {record} recorded yet"));
    }
    Ok(())
}

#[actix_web::test]
async fn dashboard_and_rules_work_against_a_real_prometheus() {
    let started = Instant::now();
    let app = spawn_app().await;
    exercise(&app).await;
    let instance = app.address.to_string();
    let target = app.address;
    // Off the test's thread, so the node keeps serving while Prometheus starts.
    let prometheus = tokio::task::spawn_blocking(move || start_prometheus(target))
        .await
        .expect("start prometheus");
    let api = Api {
        base: prometheus.url(""),
        client: reqwest::Client::new(),
    };
    let deadline = Instant::now() + TIMEOUT;

    // The checks below can fail: a query Prometheus refuses is an error, one that matches
    // nothing is missing data.
    let broken = "sum(rate(scopegate_decisions_total[1m])";
    let wrong = format!("scopegate_no_such_metric_total{{job=\"{JOB}\"}}");
    assert_eq!(
        classify(&api.query(broken).await, None).0,
        Verdict::Error,
        "{broken}"
    );
    assert_eq!(
        classify(&api.query(&wrong).await, None).0,
        Verdict::Missing,
        "{wrong}"
    );

    // Traffic between the polls, so every rate has something to see.
    loop {
        exercise(&app).await;
        match warmed_up(&api, &instance).await {
            Ok(()) => break,
            Err(state) => assert!(
                Instant::now() < deadline,
                "Prometheus did not scrape {instance} and evaluate the rules within {TIMEOUT:?}: \
                 {state}\n--- {LOG} ---\n{}",
                prometheus.log()
            ),
        }
        actix_web::rt::time::sleep(POLL).await;
    }
    let warm = started.elapsed();

    let mut rounds = 0;
    let report = loop {
        rounds += 1;
        exercise(&app).await;
        let mut report = Report::default();
        check_rules(&api, &mut report).await;
        check_records(&api, &mut report).await;
        check_dashboard(&api, &instance, &mut report).await;
        if report.passes() {
            break report;
        }
        assert!(
            !report.has(&Verdict::Error) && Instant::now() < deadline,
            "the dashboard or the rules do not work against Prometheus (round {rounds}, after \
             {:?}):\n{report}\n--- {LOG} ---\n{}",
            started.elapsed(),
            prometheus.log()
        );
        actix_web::rt::time::sleep(POLL).await;
    };
    let checked = report.0.len();
    let allowed = report
        .0
        .iter()
        .filter(|l| matches!(l.verdict, Verdict::Allowed(_)))
        .count();
    println!(
        "{checked} checks passed ({allowed} allowed empty or pending) in round {rounds}; \
         Prometheus warm after {warm:?}, done after {:?}\n{report}",
        started.elapsed()
    );
}

#[test]
fn grafana_variables_are_filled_as_grafana_does() {
    let vars: BTreeMap<&str, String> = [
        ("job", "scopegate".to_owned()),
        ("instance", grafana_regex_escape("127.0.0.1:8080")),
        ("__rate_interval", "1m".to_owned()),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        interpolate(
            r#"rate(x{job=~"$job", instance=~"${instance}"}[$__rate_interval]) and y{a=~"b$"}"#,
            &vars
        )
        .unwrap(),
        r#"rate(x{job=~"scopegate", instance=~"127\\.0\\.0\\.1:8080"}[1m]) and y{a=~"b$"}"#
    );
    assert!(
        interpolate("x[$__range]", &vars)
            .unwrap_err()
            .contains("$__range")
    );
    assert!(interpolate("x{a=\"${job:regex}\"}", &vars).is_err());
    assert_eq!(grafana_regex_escape(r"a|b\c"), r"a\\|b\\\\c");

    assert_eq!(
        label_values_request(r#"label_values(scopegate_build_info{job=~"x", a="b"}, instance)"#),
        Ok((
            "instance".to_owned(),
            Some(r#"scopegate_build_info{job=~"x", a="b"}"#.to_owned())
        ))
    );
    assert_eq!(
        label_values_request("label_values(job)"),
        Ok(("job".to_owned(), None))
    );
    assert!(label_values_request("query_result(up)").is_err());
}

#[test]
fn answers_are_classified_as_data_nothing_or_errors() {
    let answer = |result: &str| -> Value {
        serde_json::from_str(&format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":{result}}}}}"#
        ))
        .unwrap()
    };
    let data = answer(r#"[{"metric":{"a":"b"},"value":[1,"NaN"]},{"metric":{},"value":[1,"0"]}]"#);
    assert_eq!(classify(&samples(&data), None).0, Verdict::Ok);
    let nan = answer(r#"[{"metric":{},"value":[1,"NaN"]},{"metric":{},"value":[1,"+Inf"]}]"#);
    assert_eq!(classify(&samples(&nan), None).0, Verdict::Missing);
    assert_eq!(
        classify(&samples(&nan), Some("why")).0,
        Verdict::Allowed("why")
    );
    assert_eq!(classify(&samples(&answer("[]")), None).0, Verdict::Missing);
    let error: Value =
        serde_json::from_str(r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#)
            .unwrap();
    assert_eq!(classify(&samples(&error), Some("why")).0, Verdict::Error);
    let scalar: Value = serde_json::from_str(
        r#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#,
    )
    .unwrap();
    assert_eq!(classify(&samples(&scalar), None).0, Verdict::Ok);

    let groups = rule_groups("groups:\n  - name: a.rules\n    rules:\n  - name: \"b\"\n");
    assert_eq!(
        groups,
        ["a.rules", "b"].map(str::to_owned).into_iter().collect()
    );
}
