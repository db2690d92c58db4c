//! End to end through real Envoy (ext_authz HTTP service to `/authz/envoy/…`, the shipped
//! `deploy/edge/envoy` recipe) and real Traefik (ForwardAuth to `/authz/check`, the shipped
//! `deploy/edge/traefik` recipe), each in front of the example ShoppingCartAPI service: the
//! matrix of the nginx test, plus what the upstream receives. Between the proxy and the service
//! sits a recording relay, so the tests see which requests got through and with which principal
//! headers.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use scopegate_tests::envoy::Envoy;
use scopegate_tests::traefik::Traefik;
use scopegate_tests::{TestApp, spawn_app};
use serde_json::{Value, json};

use crate::edge::{access_token, bad_tokens, call, shopping_matrix, start_shopping};

/// One request as the upstream received it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: String,
    path: String,
    /// Every `X-Scopegate-Subject` value it carried.
    subject: Vec<String>,
    client_id: Vec<String>,
    scopes: Vec<String>,
    /// Headers whose names alias a principal header (`X_Scopegate_Subject`,
    /// `X.Scopegate.Subject`): backends that map `_` and `.` to `-` would read them as one.
    aliases: Vec<String>,
}

/// The recording relay in front of the shopping service: every request it receives is recorded;
/// `/orders` and `/items` are relayed to the service, anything else (the other APIs behind
/// Traefik's catch-all) is answered `200 ok`.
#[derive(Clone)]
struct Upstream {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn count(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn last(&self) -> Seen {
        self.seen().pop().expect("the upstream received a request")
    }
}

struct Relay {
    shopping: SocketAddr,
    client: reqwest::Client,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn values(req: &HttpRequest, name: &str) -> Vec<String> {
    req.headers()
        .get_all(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

fn aliases(req: &HttpRequest) -> Vec<String> {
    const PRINCIPAL: [&str; 3] = [
        "x-scopegate-subject",
        "x-scopegate-client-id",
        "x-scopegate-scopes",
    ];
    req.headers()
        .keys()
        .map(|name| name.as_str().to_ascii_lowercase())
        .filter(|name| {
            let dashed: String = name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            !PRINCIPAL.contains(&name.as_str()) && PRINCIPAL.contains(&dashed.as_str())
        })
        .collect()
}

async fn relay(req: HttpRequest, body: web::Bytes, relay: web::Data<Relay>) -> HttpResponse {
    let seen = Seen {
        method: req.method().to_string(),
        path: req.uri().to_string(),
        subject: values(&req, "x-scopegate-subject"),
        client_id: values(&req, "x-scopegate-client-id"),
        scopes: values(&req, "x-scopegate-scopes"),
        aliases: aliases(&req),
    };
    relay
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(seen);
    if !(req.path().starts_with("/orders") || req.path().starts_with("/items")) {
        return HttpResponse::Ok().content_type("text/plain").body("ok\n");
    }
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).expect("method");
    let mut forward = relay
        .client
        .request(method, format!("http://{}{}", relay.shopping, req.uri()))
        .body(body.to_vec());
    for name in ["authorization", "content-type"] {
        if let Some(value) = req.headers().get(name) {
            forward = forward.header(name, value.as_bytes());
        }
    }
    let answer = forward.send().await.expect("relay to the shopping service");
    let mut response = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(answer.status().as_u16()).expect("status"),
    );
    for name in ["content-type", "www-authenticate"] {
        if let Some(value) = answer.headers().get(name) {
            response.insert_header((name, value.as_bytes()));
        }
    }
    response.body(answer.bytes().await.expect("body"))
}

/// Starts the recording relay in front of `shopping`.
fn start_upstream(shopping: SocketAddr) -> Upstream {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let data = web::Data::new(Relay {
        shopping,
        client: reqwest::Client::new(),
        seen: seen.clone(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(relay))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    Upstream { address, seen }
}

/// Where the other APIs' answers (NewsAPI, ChallengeAPI) come from behind each proxy.
#[derive(Clone, Copy, PartialEq)]
enum Proxy {
    /// Envoy: a static `direct_response` carrying `X-Scopegate-Subject` back.
    Envoy,
    /// Traefik: the catch-all router to the relay, which records the request.
    Traefik,
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// GETs `url` with `token` and the extra `headers`.
async fn get_with(url: String, token: Option<&str>, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.expect("request")
}

/// The whole matrix through a proxy whose `/shopping/1.0.0/` leads to `upstream`.
async fn proxy_matrix(app: &TestApp, proxy: Proxy, address: SocketAddr, up: &Upstream) {
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{address}{path}");
    let base = url("/shopping/1.0.0");

    // The nginx matrix: allow, 403 insufficient_scope naming the scope, 401 for every bad token.
    shopping_matrix(app, &base).await;
    // Exactly the allowed requests got through, each with the caller as subject.
    let through: Vec<(String, String, Vec<String>)> = up
        .seen()
        .into_iter()
        .map(|s| (s.method, s.path, s.subject))
        .collect();
    let expected = [
        ("POST", "/orders", "paul"),
        ("GET", "/orders", "paul"),
        ("GET", "/items", "harry"),
    ]
    .map(|(m, p, s)| (m.to_owned(), p.to_owned(), vec![s.to_owned()]));
    assert_eq!(through, expected, "what the upstream received");

    // Allowed: the service's own answer, and the principal headers upstream.
    let paul = access_token(app, "paul", "order_view").await;
    let resp = call(&client, "GET", format!("{base}/orders?page=1"), Some(&paul)).await;
    assert_eq!(resp.status(), 200);
    let orders: Value = resp.json().await.expect("json from the service");
    assert_eq!(orders[0]["created_by"], "paul", "{orders}");
    let seen = up.last();
    assert_eq!(seen.path, "/orders?page=1", "prefix stripped, query kept");
    assert_eq!(seen.subject, ["paul"]);
    assert_eq!(seen.client_id, ["shopping-app"]);
    assert_eq!(seen.scopes, ["order_view"]);

    // Principal headers sent by the client are replaced by scopegate's.
    let forged = [
        ("X-Scopegate-Subject", "ops"),
        ("X-Scopegate-Client-Id", "admin-console"),
        ("X-Scopegate-Scopes", "order_add item_add"),
        ("X_Scopegate_Subject", "ops"),
        ("X.Scopegate.Subject", "ops"),
        ("X~Scopegate~Client~Id", "admin-console"),
    ];
    let resp = get_with(format!("{base}/orders"), Some(&paul), &forged).await;
    assert_eq!(resp.status(), 200);
    let seen = up.last();
    assert_eq!(
        seen.subject,
        ["paul"],
        "a forged subject reached the upstream"
    );
    assert_eq!(seen.client_id, ["shopping-app"]);
    assert_eq!(seen.scopes, ["order_view"]);
    assert_eq!(
        seen.aliases,
        Vec::<String>::new(),
        "aliases reached the upstream"
    );
    // ... and are no way in without a token.
    let before = up.count();
    let resp = get_with(
        format!("{base}/orders"),
        None,
        &[("X-Scopegate-Subject", "paul")],
    )
    .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(up.count(), before, "a request without a token got through");

    // The client cannot describe another request to scopegate: the proxy says what was asked.
    let rick = access_token(app, "rick", "order_view").await;
    let resp = client
        .post(format!("{base}/orders"))
        .bearer_auth(&rick)
        .header("X-Original-Method", "GET")
        .header("X-Original-URI", "/shopping/1.0.0/orders")
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Uri", "/shopping/1.0.0/orders")
        .json(&json!({"item": "widget"}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 403, "forged original-request headers");
    assert!(header(&resp, "www-authenticate").contains("scope=\"order_add\""));
    assert_eq!(up.count(), before, "a forged method got through");

    // 401: scopegate's challenge and body reach the client, nothing reaches the upstream.
    for (what, token) in bad_tokens(app).await {
        let resp = call(&client, "GET", format!("{base}/orders"), token.as_deref()).await;
        assert_eq!(resp.status(), 401, "{what}");
        let www = header(&resp, "www-authenticate");
        if token.is_none() {
            // RFC 6750 §3.1: no credentials, no error code.
            assert_eq!(www, "Bearer realm=\"scopegate\"", "{what}");
        } else {
            assert!(
                www.starts_with("Bearer realm=\"scopegate\"")
                    && www.contains("error=\"invalid_token\""),
                "{what}: {www}"
            );
        }
        let body: Value = resp.json().await.expect("scopegate's JSON body");
        assert_eq!(body["error"], "invalid_token", "{what}");
    }
    assert_eq!(up.count(), before, "a bad token got through");

    // 403: the challenge names the missing scope; the body says what was granted.
    let alex = access_token(app, "alex", "item_view order_view").await;
    let resp = call(&client, "POST", format!("{base}/orders"), Some(&alex)).await;
    assert_eq!(resp.status(), 403);
    let www = header(&resp, "www-authenticate");
    assert!(
        www.starts_with("Bearer realm=\"scopegate\"")
            && www.contains("error=\"insufficient_scope\"")
            && www.contains("scope=\"order_add\""),
        "{www}"
    );
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["required"], json!(["order_add"]));
    assert_eq!(body["granted"], json!(["item_view", "order_view"]));
    assert_eq!(up.count(), before, "a 403 got through");

    // Dot segments and encoded slashes (sent as they are: an HTTP client would resolve them)
    // never reach orders with an items token.
    let harry = access_token(app, "harry", "item_view").await;
    for path in [
        "/items/%2e%2e/orders",
        "/items/../orders",
        "/items/%2E./orders",
        "/items%2F..%2Forders",
        "/items/..%2Forders",
    ] {
        let status = raw_get(address, &format!("/shopping/1.0.0{path}"), &harry).await;
        assert!(status == 400 || status == 403, "{path}: {status}");
    }
    assert_eq!(up.count(), before, "a dot segment got through");

    // The other APIs scopegate knows go through the catch-all, asked about all the same.
    let chris = access_token(app, "chris", "news_read news_write").await;
    let resp = call(&client, "GET", url("/news/"), Some(&chris)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.expect("body"), "ok\n");
    assert_eq!(
        call(&client, "POST", url("/news/"), Some(&chris))
            .await
            .status(),
        403
    );
    let bob = access_token(app, "bob", "internal_identity_mgt_view").await;
    let resp = call(
        &client,
        "GET",
        url("/api/users/v1/u-42/challenges"),
        Some(&bob),
    )
    .await;
    assert_eq!(resp.status(), 200);
    match proxy {
        Proxy::Envoy => assert_eq!(header(&resp, "x-scopegate-subject"), "bob"),
        Proxy::Traefik => {
            let seen = up.last();
            assert_eq!(seen.path, "/api/users/v1/u-42/challenges");
            assert_eq!(seen.subject, ["bob"]);
        }
    }
    let count = up.count();
    assert_eq!(
        call(
            &client,
            "GET",
            url("/api/users/v1/u-42/challenges"),
            Some(&paul)
        )
        .await
        .status(),
        403
    );
    // A path no API claims is refused (access_denied, no challenge).
    let resp = call(&client, "GET", url("/nowhere"), Some(&paul)).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "access_denied");
    assert_eq!(up.count(), count, "a refused request got through");
}

/// GETs `path` exactly as written (no client-side resolution of dot segments); the status.
async fn raw_get(address: SocketAddr, path: &str, token: &str) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    answer
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"))
}

/// An address nothing listens on.
fn dead_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

#[actix_web::test]
async fn envoy_ext_authz_in_front_of_the_shopping_service() {
    let app = spawn_app().await;
    let shopping = start_shopping(&app).await;
    let upstream = start_upstream(shopping);
    let envoy = Envoy::start(app.address, upstream.address);
    proxy_matrix(&app, Proxy::Envoy, envoy.address, &upstream).await;
}

#[actix_web::test]
async fn traefik_forward_auth_in_front_of_the_shopping_service() {
    let app = spawn_app().await;
    let shopping = start_shopping(&app).await;
    let upstream = start_upstream(shopping);
    let traefik = Traefik::start(app.address, upstream.address, upstream.address);
    proxy_matrix(&app, Proxy::Traefik, traefik.address, &upstream).await;
}

/// scopegate unreachable: both proxies refuse the request rather than let it through.
#[actix_web::test]
async fn both_proxies_fail_closed_when_scopegate_is_unreachable() {
    let app = spawn_app().await;
    let shopping = start_shopping(&app).await;
    let upstream = start_upstream(shopping);
    let paul = access_token(&app, "paul", "order_view").await;
    let dead = dead_address();
    let envoy = Envoy::start(dead, upstream.address);
    let traefik = Traefik::start(dead, upstream.address, upstream.address);
    let client = reqwest::Client::new();
    let envoy_answer = call(
        &client,
        "GET",
        envoy.url("/shopping/1.0.0/orders"),
        Some(&paul),
    )
    .await;
    assert_eq!(envoy_answer.status(), 503, "{}", envoy.log());
    let traefik_answer = call(
        &client,
        "GET",
        traefik.url("/shopping/1.0.0/orders"),
        Some(&paul),
    )
    .await;
    assert_eq!(traefik_answer.status(), 500, "{}", traefik.log());
    assert_eq!(upstream.count(), 0, "{:?}", upstream.seen());
}
