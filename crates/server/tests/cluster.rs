//! Cluster mode with real processes: a `redis-server` of the test's own on a free port and three
//! `scopegate` nodes sharing it. A change made through the admin API of one node is in force on
//! the others; Redis or a node dying loses nothing. Then the failures an operator meets, each
//! as it happens: Redis hung (`SIGSTOP`) or a link blackholed (a relay that stops forwarding),
//! a node restarted while Redis is down, Redis restarted empty and re-seeded.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::blocking::Response;
use serde_json::{Value, json};

mod common;

use common::Node;
use common::cluster::{TestCluster, admin_token, http, token, token_response};
use scopegate_cluster::testing::Relay;

fn password_token(node: &Node, user: &str, password: &str, scope: &str) -> Value {
    token(
        node,
        ("shopping-app", "shopping-secret"),
        &[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("scope", scope),
        ],
    )
}

fn admin(
    node: &Node,
    admin: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let mut req = http()
        .request(method, node.url(&format!("/api/v1{path}")))
        .bearer_auth(admin);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().expect("admin request")
}

fn check(node: &Node, token: &str, method: &str, uri: &str) -> Response {
    http()
        .get(node.url("/authz/check"))
        .bearer_auth(token)
        .header("X-Original-Method", method)
        .header("X-Original-URI", uri)
        .send()
        .expect("check request")
}

fn readyz(node: &Node) -> Value {
    http()
        .get(node.url("/readyz"))
        .send()
        .expect("readyz")
        .json()
        .expect("readyz json")
}

/// Polls `f` until it holds; changes propagate in milliseconds, the deadline is only a guard.
/// The value of the unlabelled series `name` in `node`'s `/metrics`.
fn metric(node: &Node, name: &str) -> f64 {
    let text = http()
        .get(node.url("/metrics"))
        .send()
        .expect("metrics")
        .text()
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} is not in /metrics"))
        .parse()
        .expect("a number")
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().expect("header");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("b64")).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

fn jwks_kids(node: &Node) -> Vec<String> {
    let jwks: Value = http()
        .get(node.url("/oauth2/jwks"))
        .send()
        .expect("jwks")
        .json()
        .expect("jwks json");
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

fn scopes_of(body: &Value) -> Vec<String> {
    body["scope"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_change_on_one_node_is_in_force_on_the_others() {
    let cluster = TestCluster::new();
    let a = cluster.node("a");
    let b = cluster.node("b");
    let c = cluster.node("c");
    for node in [&a, &b, &c] {
        let ready = readyz(node);
        assert_eq!(ready["status"], "ready", "{ready}");
        assert_eq!(ready["mode"], "cluster");
    }
    let versions: Vec<Value> = [&a, &b, &c]
        .iter()
        .map(|n| readyz(n)["policy_version"].clone())
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] == w[1]),
        "seeded once: {versions:?}"
    );
    let op = admin_token(&a);

    // A role change on A changes the scopes a token gets on B (Alex is not an agent yet).
    let before = password_token(&b, "alex", "alex123", "order_add order_view");
    assert_eq!(scopes_of(&before), ["order_view"]);
    let resp = admin(
        &a,
        &op,
        reqwest::Method::PUT,
        "/users/alex/roles",
        Some(json!({"roles": ["manager", "employee", "agent"]})),
    );
    assert!(resp.status().is_success(), "{:?}", resp.text());
    eventually("B grants Alex order_add", || {
        scopes_of(&password_token(&b, "alex", "alex123", "order_add")) == ["order_add"]
    });

    // A scope bound to a new resource on A is enforced by /authz/check on C.
    let paul = password_token(&c, "paul", "paul123", "order_view")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let resp = admin(
        &a,
        &op,
        reqwest::Method::PUT,
        "/scopes/report_view",
        Some(json!({"key": "report_view", "name": "View reports", "roles": ["manager"]})),
    );
    assert!(resp.status().is_success(), "{:?}", resp.text());
    let resp = admin(
        &a,
        &op,
        reqwest::Method::PUT,
        "/apis/ReportsAPI",
        Some(json!({
            "name": "ReportsAPI", "context": "/reports", "version": "1.0.0",
            "resources": [{"path": "/daily", "scopes": ["report_view"]}]
        })),
    );
    assert!(resp.status().is_success(), "{:?}", resp.text());
    eventually("C requires report_view on the new resource", || {
        let resp = check(&c, &paul, "GET", "/reports/1.0.0/daily");
        resp.status() == 403
            && resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("report_view"))
    });
    // Three changes made on A reached B and C through Redis: their propagation lag is
    // measured; A's own writes are not propagation.
    for node in [&b, &c] {
        eventually("the changes are counted as propagated", || {
            metric(node, "scopegate_policy_propagation_lag_seconds_count") >= 3.0
        });
        assert_eq!(metric(node, "scopegate_cluster_mode"), 1.0);
        assert_eq!(metric(node, "scopegate_redis_up"), 1.0);
        assert_eq!(
            metric(node, "scopegate_policy_version"),
            metric(&a, "scopegate_policy_version")
        );
    }
    assert_eq!(
        metric(&a, "scopegate_policy_propagation_lag_seconds_count"),
        0.0
    );
    assert_eq!(
        check(&c, &paul, "GET", "/shopping/1.0.0/orders").status(),
        200
    );

    // A token revoked on A is refused on B and C.
    assert_eq!(
        check(&b, &paul, "GET", "/shopping/1.0.0/orders").status(),
        200
    );
    let resp = admin(
        &a,
        &op,
        reqwest::Method::POST,
        "/revocations/tokens",
        Some(json!({"token": paul})),
    );
    assert!(resp.status().is_success(), "{:?}", resp.text());
    eventually("B and C refuse the revoked token", || {
        check(&b, &paul, "GET", "/shopping/1.0.0/orders").status() == 401
            && check(&c, &paul, "GET", "/shopping/1.0.0/orders").status() == 401
    });

    // Everything Harry was issued before now is refused everywhere; a new token works.
    let harry = password_token(&b, "harry", "harry123", "item_view")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        check(&c, &harry, "GET", "/shopping/1.0.0/items").status(),
        200
    );
    std::thread::sleep(Duration::from_millis(1100)); // `iat` has one-second resolution
    let resp = admin(
        &a,
        &op,
        reqwest::Method::POST,
        "/revocations/subjects",
        Some(json!({"subject": "harry"})),
    );
    assert!(resp.status().is_success(), "{:?}", resp.text());
    eventually("B and C refuse Harry's old token", || {
        check(&b, &harry, "GET", "/shopping/1.0.0/items").status() == 401
            && check(&c, &harry, "GET", "/shopping/1.0.0/items").status() == 401
    });
    std::thread::sleep(Duration::from_millis(1100));
    let fresh = password_token(&c, "harry", "harry123", "item_view")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        check(&a, &fresh, "GET", "/shopping/1.0.0/items").status(),
        200
    );

    // A key rotated on A: announced to B and C before anyone signs with it; afterwards tokens
    // signed with the new key validate on B and C, and old tokens still do.
    let old = password_token(&b, "rick", "rick123", "order_view")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let old_kid = kid_of(&old);
    let resp = admin(&a, &op, reqwest::Method::POST, "/keys/rotate", None);
    assert!(resp.status().is_success(), "{:?}", resp.text());
    let rotated: Value = resp.json().expect("rotate json");
    let new_kid = rotated["kid"].as_str().expect("kid").to_owned();
    assert_ne!(new_kid, old_kid);
    eventually("B and C publish the announced key", || {
        jwks_kids(&b).contains(&new_kid) && jwks_kids(&c).contains(&new_kid)
    });
    eventually("every node signs with the new key", || {
        [&a, &b, &c].iter().all(|n| {
            let t = password_token(n, "rick", "rick123", "order_view");
            kid_of(t["access_token"].as_str().expect("token")) == new_kid
        })
    });
    let new = password_token(&a, "rick", "rick123", "order_view")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    for node in [&b, &c] {
        assert_eq!(
            check(node, &new, "GET", "/shopping/1.0.0/orders").status(),
            200
        );
        assert_eq!(
            check(node, &old, "GET", "/shopping/1.0.0/orders").status(),
            200
        );
        assert!(
            jwks_kids(node).contains(&old_kid),
            "the retiring key stays in the JWKS"
        );
    }
}

/// A grant family revoked on one node (RFC 7009 revocation, or reuse detection) takes its access
/// tokens with it on every node; the sign-in throttle counts failures across nodes, and per
/// node while Redis is down.
#[test]
fn families_and_the_sign_in_throttle_are_the_clusters() {
    let mut cluster = TestCluster::new();
    let a = cluster.node("a");
    let b = cluster.node("b");
    let orders = |node: &Node, token: &str| check(node, token, "GET", "/shopping/1.0.0/orders");

    // Revoked on A, refused on B, where it was verified (and cached) before.
    let signed_in = password_token(&a, "harry", "harry123", "order_view");
    let access = signed_in["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let refresh = signed_in["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_eq!(orders(&b, &access).status(), 200);
    let resp = http()
        .post(a.url("/oauth2/revoke"))
        .basic_auth("shopping-app", Some("shopping-secret"))
        .form(&[("token", refresh.as_str())])
        .send()
        .expect("revoke");
    assert_eq!(resp.status(), 200);
    eventually("B refuses the revoked family's access token", || {
        orders(&b, &access).status() == 401
    });

    // Rotated on B, the old refresh token reused on A: both access tokens die everywhere.
    let signed_in = password_token(&a, "paul", "paul123", "order_view");
    let first = signed_in["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let r1 = signed_in["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let refresh_form = |token: &str| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", token.to_owned()),
        ]
    };
    let rotated = http()
        .post(b.url("/oauth2/token"))
        .basic_auth("shopping-app", Some("shopping-secret"))
        .form(&refresh_form(&r1))
        .send()
        .expect("refresh");
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().expect("json");
    let second = rotated["access_token"].as_str().expect("access").to_owned();
    for node in [&a, &b] {
        assert_eq!(orders(node, &second).status(), 200);
    }
    let reused = http()
        .post(a.url("/oauth2/token"))
        .basic_auth("shopping-app", Some("shopping-secret"))
        .form(&refresh_form(&r1))
        .send()
        .expect("reuse");
    assert_eq!(reused.status(), 400);
    for node in [&a, &b] {
        for token in [&first, &second] {
            eventually("the reused family's access tokens are refused", || {
                orders(node, token).status() == 401
            });
        }
    }

    // Five wrong passwords, alternating nodes: the cluster counts them together, so the right
    // password is refused on either node.
    for node in [&a, &b, &a, &b, &a] {
        let resp = token_response(
            node,
            ("shopping-app", "shopping-secret"),
            &[
                ("grant_type", "password"),
                ("username", "alex"),
                ("password", "guess"),
            ],
        );
        assert_eq!(resp.status(), 400);
    }
    for node in [&a, &b] {
        let resp = token_response(
            node,
            ("shopping-app", "shopping-secret"),
            &[
                ("grant_type", "password"),
                ("username", "alex"),
                ("password", "alex123"),
            ],
        );
        assert_eq!(resp.status(), 400, "alex is locked on every node");
        assert!(resp.headers().contains_key("retry-after"));
    }
    let op = admin_token(&b);
    let listed: Value = admin(&b, &op, reqwest::Method::GET, "/lockouts", None)
        .json()
        .expect("json");
    assert_eq!(listed["lockouts"][0]["username"], "alex");

    // Redis down: each node counts on its own. Rick locked on A only.
    cluster.redis.kill();
    for _ in 0..5 {
        token_response(
            &a,
            ("shopping-app", "shopping-secret"),
            &[
                ("grant_type", "password"),
                ("username", "rick"),
                ("password", "guess"),
            ],
        );
    }
    let right = |node: &Node| {
        token_response(
            node,
            ("shopping-app", "shopping-secret"),
            &[
                ("grant_type", "password"),
                ("username", "rick"),
                ("password", "rick123"),
            ],
        )
        .status()
    };
    assert_eq!(right(&a), 400, "locked on the node that counted");
    assert_eq!(right(&b), 200, "the other node counted nothing");
}

#[test]
fn nodes_ride_out_redis_and_node_failures_and_catch_up() {
    let mut cluster = TestCluster::new();
    let a = cluster.node("a");
    let b = cluster.node("b");
    let c = cluster.node("c");
    let op = admin_token(&a);
    let paul = password_token(&b, "paul", "paul123", "order_add")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let version_before = readyz(&a)["policy_version"].as_u64().expect("version");

    // Redis killed: B and C keep answering check and token requests; admin writes answer 503.
    cluster.redis.kill();
    for node in [&b, &c] {
        assert_eq!(
            check(node, &paul, "POST", "/shopping/1.0.0/orders").status(),
            200
        );
        let t = token_response(
            node,
            ("inventory-service", "inventory-secret"),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "order_view"),
            ],
        );
        assert_eq!(t.status(), 200);
        // A password grant still answers, without a refresh token (the refresh store is Redis).
        let login = password_token(node, "paul", "paul123", "order_view");
        assert!(login["access_token"].is_string(), "{login}");
        assert!(login.get("refresh_token").is_none(), "{login}");
    }
    let resp = admin(
        &a,
        &op,
        reqwest::Method::PUT,
        "/scopes/outage_scope",
        Some(json!({"key": "outage_scope", "roles": ["manager"]})),
    );
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let problem: Value = resp.json().expect("problem");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("unavailable"),
        "{problem}"
    );
    eventually("readyz says degraded", || {
        readyz(&b)["status"] == "degraded"
    });
    assert_eq!(metric(&b, "scopegate_redis_up"), 0.0);
    assert_eq!(metric(&b, "scopegate_ready"), 1.0, "degraded still serves");

    // Node B killed meanwhile; Redis restarted with its data: nodes resync; the refused write
    // is nowhere, never half applied.
    drop(b);
    cluster.redis.restart();
    eventually("A and C are ready again", || {
        readyz(&a)["status"] == "ready" && readyz(&c)["status"] == "ready"
    });
    for node in [&a, &c] {
        assert_eq!(metric(node, "scopegate_redis_up"), 1.0);
        assert!(metric(node, "scopegate_redis_reconnects_total") >= 1.0);
    }
    for node in [&a, &c] {
        assert_eq!(
            readyz(node)["policy_version"].as_u64(),
            Some(version_before)
        );
        let resp = admin(
            node,
            &op,
            reqwest::Method::GET,
            "/scopes/outage_scope",
            None,
        );
        assert_eq!(resp.status(), 404, "the refused write was not applied");
    }

    // Changes made on A while B is down …
    let resp = admin(
        &a,
        &op,
        reqwest::Method::PUT,
        "/users/rick/roles",
        Some(json!({"roles": ["customer", "agent"]})),
    );
    assert!(resp.status().is_success(), "{:?}", resp.text());
    let version_after = readyz(&a)["policy_version"].as_u64().expect("version");
    assert_eq!(version_after, version_before + 1);
    eventually("C applied the change", || {
        readyz(&c)["policy_version"].as_u64() == Some(version_after)
    });
    // … are served by B once it is back.
    let b = cluster.node("b");
    assert_eq!(readyz(&b)["policy_version"].as_u64(), Some(version_after));
    assert_eq!(
        scopes_of(&password_token(&b, "rick", "rick123", "order_add")),
        ["order_add"]
    );
    // And B still validates tokens issued before it went down.
    assert_eq!(
        check(&b, &paul, "POST", "/shopping/1.0.0/orders").status(),
        200
    );
}

/// `cluster.command_timeout_ms` of the failure tests below, and what a refusal may take beyond
/// it on a loaded machine. The bound is the feature under test (one budget per request); the
/// waits it replaces were two to three budgets.
const BUDGET: Duration = Duration::from_millis(1_000);
const SLACK: Duration = Duration::from_millis(600);

fn problem(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    (status, resp.json().expect("problem json"))
}

fn put_scope(node: &Node, op: &str, key: &str) -> Response {
    admin(
        node,
        op,
        reqwest::Method::PUT,
        &format!("/scopes/{key}"),
        Some(json!({"key": key, "roles": ["manager"]})),
    )
}

fn scope_exists(node: &Node, op: &str, key: &str) -> bool {
    let status = admin(
        node,
        op,
        reqwest::Method::GET,
        &format!("/scopes/{key}"),
        None,
    )
    .status();
    assert!(status == 200 || status == 404, "{status}");
    status == 200
}

fn access_token(node: &Node, user: &str, scope: &str) -> String {
    password_token(node, user, &format!("{user}123"), scope)["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

fn revoke(node: &Node, op: &str, token: &str) {
    let resp = admin(
        node,
        op,
        reqwest::Method::POST,
        "/revocations/tokens",
        Some(json!({"token": token})),
    );
    assert!(resp.status().is_success(), "{:?}", resp.text());
}

fn readyz_status(node: &Node) -> (u16, Value) {
    let resp = http().get(node.url("/readyz")).send().expect("readyz");
    (resp.status().as_u16(), resp.json().expect("readyz json"))
}

#[test]
fn a_write_redis_never_got_is_refused_within_the_budget_and_one_without_an_answer_says_so() {
    let cluster = TestCluster::new();
    let relay = Relay::start(cluster.redis.port());
    let budget = BUDGET.as_millis().to_string();
    // A slow monitor, so that the writes themselves meet the failures.
    let settings = [
        ("SCOPEGATE__CLUSTER__PING_INTERVAL_MS", "60000"),
        ("SCOPEGATE__CLUSTER__COMMAND_TIMEOUT_MS", budget.as_str()),
    ];
    let a = cluster.node_with("a", &settings);
    let relayed = relay.url();
    let mut via_relay = settings.to_vec();
    via_relay.push(("SCOPEGATE__CLUSTER__REDIS_URL", relayed.as_str()));
    let b = cluster.node_with("b", &via_relay);
    let op = admin_token(&a);
    assert!(put_scope(&a, &op, "before").status().is_success());

    // Redis hung: the write is not sent, the answer says so within the budget, and it is not
    // applied when Redis resumes (it used to be, after a 503 saying it was not).
    cluster.redis.pause();
    let started = Instant::now();
    let (status, body) = problem(put_scope(&a, &op, "while_hung"));
    let waited = started.elapsed();
    cluster.redis.resume();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["type"], "urn:scopegate:problem:unavailable");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not applied"),
        "{body}"
    );
    assert!(waited < BUDGET + SLACK, "waited {waited:?}");
    let mut wrote = false;
    eventually("a write works again", || {
        wrote = wrote || put_scope(&a, &op, "after").status().is_success();
        wrote
    });
    eventually("b has the write made after the hang", || {
        scope_exists(&b, &op, "after")
    });
    assert!(!scope_exists(&a, &op, "while_hung") && !scope_exists(&b, &op, "while_hung"));

    // The link breaks just after b's write went out: Redis applies it, b cannot know.
    relay.lose_replies_after_request(500);
    let started = Instant::now();
    let (status, body) = problem(put_scope(&b, &op, "unanswered"));
    let waited = started.elapsed();
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["type"], "urn:scopegate:problem:outcome-unknown");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("may or may not") && detail.contains("Read the resource back"),
        "{body}"
    );
    assert!(waited < BUDGET + SLACK, "waited {waited:?}");
    eventually("the unanswered write is in force on a", || {
        scope_exists(&a, &op, "unanswered")
    });
    relay.restore();
    eventually("and on b, once its link works", || {
        scope_exists(&b, &op, "unanswered")
    });
}

#[test]
fn a_partitioned_node_notices_within_an_interval_and_fails_closed_past_max_staleness() {
    let cluster = TestCluster::new();
    let relay = Relay::start(cluster.redis.port());
    let a = cluster.node("a");
    let relayed = relay.url();
    let b = cluster.node_with(
        "b",
        &[
            ("SCOPEGATE__CLUSTER__REDIS_URL", relayed.as_str()),
            ("SCOPEGATE__CLUSTER__PING_INTERVAL_MS", "200"),
            ("SCOPEGATE__CLUSTER__MAX_STALENESS_SECS", "2"),
        ],
    );
    let op = admin_token(&a);
    let paul = access_token(&a, "paul", "order_view");
    assert_eq!(
        check(&b, &paul, "GET", "/shopping/1.0.0/orders").status(),
        200
    );
    assert_eq!(readyz(&b)["status"], "ready");

    // b is cut off and writes nothing: it notices within about one ping interval.
    relay.blackhole();
    let started = Instant::now();
    eventually("b reports it lost Redis", || {
        readyz_status(&b).1["status"] == "degraded"
    });
    let noticed = started.elapsed();
    assert!(
        noticed < Duration::from_millis(1_500),
        "noticed after {noticed:?}"
    );

    // Paul's token is revoked meanwhile on a. Past max_staleness b no longer decides.
    revoke(&a, &op, &paul);
    eventually("b refuses to decide", || {
        check(&b, &paul, "GET", "/shopping/1.0.0/orders").status() == 503
    });
    let resp = check(&b, &paul, "GET", "/shopping/1.0.0/orders");
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().expect("json");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("lost contact with the cluster"),
        "{body}"
    );
    let envoy = http()
        .get(b.url("/authz/envoy/shopping/1.0.0/orders"))
        .bearer_auth(&paul)
        .send()
        .expect("envoy");
    assert_eq!(envoy.status(), 503);
    let decide = http()
        .post(b.url("/authz/v1/decide"))
        .json(&json!({"token": paul, "method": "GET", "path": "/shopping/1.0.0/orders"}))
        .send()
        .expect("decide");
    assert_eq!(decide.status(), 503);
    let introspect = http()
        .post(b.url("/oauth2/introspect"))
        .basic_auth("shopping-app", Some("shopping-secret"))
        .form(&[("token", paul.as_str())])
        .send()
        .expect("introspect");
    assert_eq!(introspect.status(), 503);
    let (status, ready) = readyz_status(&b);
    assert_eq!(
        (status, ready["status"].as_str()),
        (503, Some("stale")),
        "{ready}"
    );
    assert_eq!(metric(&b, "scopegate_cluster_stale"), 1.0);
    assert!(metric(&b, "scopegate_cluster_contact_age_seconds") >= 2.0);
    // a, in contact, decides as always.
    assert_eq!(metric(&a, "scopegate_cluster_stale"), 0.0);

    // Back in contact: b catches up and refuses the revoked token.
    relay.restore();
    eventually("b refuses the revoked token", || {
        check(&b, &paul, "GET", "/shopping/1.0.0/orders").status() == 401
    });
    assert_eq!(readyz_status(&b).0, 200);
}

#[test]
fn a_node_restarted_while_redis_is_down_starts_from_its_snapshot() {
    let mut cluster = TestCluster::new();
    let a = cluster.node("a");
    let b = cluster.node("b");
    let op = admin_token(&a);
    assert!(put_scope(&a, &op, "report_view").status().is_success());
    let rick = access_token(&a, "rick", "order_view");
    revoke(&a, &op, &rick);
    let paul = access_token(&a, "paul", "order_view");
    let version = readyz(&a)["policy_version"].as_u64().expect("version");
    eventually("b applied everything", || {
        readyz(&b)["policy_version"].as_u64() == Some(version)
            && check(&b, &rick, "GET", "/shopping/1.0.0/orders").status() == 401
    });

    // Both nodes die with Redis, and come back while Redis is still down (a rescheduled pod
    // used to crash-loop until Redis returned).
    drop(a);
    drop(b);
    cluster.redis.kill();
    let a = cluster.node("a");
    let b = cluster.node_with(
        "b",
        &[("SCOPEGATE__CLUSTER__READY_BEFORE_CATCH_UP", "true")],
    );
    for node in [&a, &b] {
        assert_eq!(readyz(node)["policy_version"].as_u64(), Some(version));
        assert_eq!(
            check(node, &paul, "GET", "/shopping/1.0.0/orders").status(),
            200
        );
        assert_eq!(
            check(node, &rick, "GET", "/shopping/1.0.0/orders").status(),
            401,
            "the revocation is remembered across the restart"
        );
        assert!(scope_exists(node, &op, "report_view"));
    }
    let (status, ready) = readyz_status(&a);
    assert_eq!(
        (status, ready["status"].as_str()),
        (503, Some("catching_up")),
        "{ready}"
    );
    let (status, ready) = readyz_status(&b);
    assert_eq!(
        (status, ready["status"].as_str()),
        (200, Some("catching_up")),
        "{ready}"
    );
    let (status, body) = problem(put_scope(&a, &op, "while_down"));
    assert_eq!(status, 503, "{body}");

    // Redis back: the nodes catch up in the background and become ready.
    cluster.redis.restart();
    eventually("a is ready", || readyz_status(&a).0 == 200);
    assert_eq!(readyz(&a)["status"], "ready");
    eventually("b is ready", || readyz(&b)["status"] == "ready");
    let mut wrote = false;
    eventually("a write works", || {
        wrote = wrote || put_scope(&a, &op, "after_outage").status().is_success();
        wrote
    });
    eventually("b has it", || scope_exists(&b, &op, "after_outage"));
}

#[test]
fn a_redis_restarted_empty_is_reported_and_reseeded_from_a_nodes_snapshot() {
    let mut cluster = TestCluster::new();
    let a = cluster.node("a");
    let b = cluster.node("b");
    let op = admin_token(&a);
    assert!(put_scope(&a, &op, "report_view").status().is_success());
    let rick = access_token(&a, "rick", "order_view");
    revoke(&a, &op, &rick);
    let paul = access_token(&b, "paul", "order_view");
    let version = readyz(&a)["policy_version"].as_u64().expect("version");
    eventually("b applied everything", || {
        readyz(&b)["policy_version"].as_u64() == Some(version)
    });

    cluster.redis.restart_empty();
    eventually("a reports the lost data", || {
        readyz(&a)["redis"]["data_lost"] == true
    });
    let ready = readyz(&a);
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert!(
        ready["redis"]["data_lost_detail"]
            .as_str()
            .unwrap_or_default()
            .contains("no policy"),
        "{ready}"
    );
    assert_eq!(metric(&a, "scopegate_redis_data_lost"), 1.0);
    // Writes are refused, saying why and what to do; decisions go on from the snapshots.
    let (status, body) = problem(put_scope(&a, &op, "lost"));
    assert_eq!(status, 503, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("lost data") && detail.contains("scopegate cluster reseed"),
        "{body}"
    );
    for node in [&a, &b] {
        assert_eq!(
            check(node, &rick, "GET", "/shopping/1.0.0/orders").status(),
            401
        );
        assert_eq!(
            check(node, &paul, "GET", "/shopping/1.0.0/orders").status(),
            200
        );
    }

    // Re-seeded from a's snapshot: the cluster takes writes again, with its keys and
    // revocations.
    let output = cluster.reseed_from("a");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("policy version {version}")),
        "{stdout}"
    );
    eventually("both nodes are ready again", || {
        readyz(&a)["status"] == "ready" && readyz(&b)["status"] == "ready"
    });
    assert_eq!(metric(&b, "scopegate_redis_data_lost"), 0.0);
    let mut wrote = false;
    eventually("a write works", || {
        wrote = wrote || put_scope(&a, &op, "after_reseed").status().is_success();
        wrote
    });
    eventually("b has it", || scope_exists(&b, &op, "after_reseed"));
    let c = cluster.node("c");
    assert_eq!(
        check(&c, &rick, "GET", "/shopping/1.0.0/orders").status(),
        401,
        "a node that never saw the revocation gets it from the re-seeded Redis"
    );
    assert_eq!(
        check(&c, &paul, "GET", "/shopping/1.0.0/orders").status(),
        200,
        "and the signing keys"
    );
    // Re-seeding twice changes nothing.
    let again = cluster.reseed_from("a");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("nothing to re-seed"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
