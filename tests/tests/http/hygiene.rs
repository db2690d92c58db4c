//! HTTP hygiene on the wire: stalled heads and bodies (408), requests that declare their body
//! twice (400, RFC 9112 §6.1), too many header fields (431). Each test speaks raw bytes over a
//! TCP connection and reads everything the server sends until it closes the connection, so an
//! extra response or a connection left open shows.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use scopegate_server::{Application, Settings};
use scopegate_tests::{TestApp, basic, quickstart_policy, spawn_app};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::admin::{Admin, admin_config};

/// Longest a test waits for the server to answer and close; far above any configured timeout
/// here, far below what a stalled connection was held before.
const PATIENCE: Duration = Duration::from_secs(20);

/// Everything the server sent on one connection, and whether it closed the connection.
struct Wire {
    bytes: Vec<u8>,
    closed: bool,
}

impl Wire {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The status of every response on the connection.
    fn statuses(&self) -> Vec<u16> {
        let text = self.text();
        text.match_indices("HTTP/1.")
            .filter_map(|(i, _)| text[i..].split(' ').nth(1)?.parse().ok())
            .collect()
    }

    /// The JSON body of the only response.
    fn json(&self) -> Value {
        let text = self.text();
        let (_, body) = text.split_once("\r\n\r\n").expect("a response head");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: not JSON: {text:?}"))
    }

    fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let (head, _) = text.split_once("\r\n\r\n")?;
        head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Writes `chunks` (the connection stays open for writing: the server must close it by itself)
/// and reads until the server closes it or [`PATIENCE`] runs out.
async fn exchange(address: SocketAddr, chunks: &[&[u8]]) -> Wire {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    for chunk in chunks {
        // The server may answer and close before everything is written; that is read below.
        if stream.write_all(chunk).await.is_err() {
            break;
        }
    }
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    Wire {
        closed: read.unwrap_or(false),
        bytes,
    }
}

fn assert_refusal(wire: &Wire, status: u16, description: &str) {
    let text = wire.text();
    assert!(wire.closed, "the connection stays open: {text:?}");
    assert_eq!(wire.statuses(), [status], "{text:?}");
    assert_eq!(
        wire.header("connection").as_deref(),
        Some("close"),
        "{text:?}"
    );
    assert!(
        wire.header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{text:?}"
    );
    let body = wire.json();
    assert_eq!(body["error"], "invalid_request", "{text:?}");
    let said = body["error_description"].as_str().unwrap_or("");
    assert!(said.contains(description), "{said:?} lacks {description:?}");
}

/// A quickstart node whose heads and bodies must arrive within half a second.
async fn timed_app() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("scopegate.toml");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\nheader_read_timeout_ms = 500\n\
         body_read_timeout_ms = 500\n[storage]\npolicy_file = {:?}\n{}",
        quickstart_policy().display().to_string(),
        admin_config()
    );
    std::fs::write(&file, text).expect("write config");
    let settings = Settings::load(Some(&file), HashMap::new(), dir.path()).expect("settings");
    let app = Application::build(settings).await.expect("build app");
    let address = app.address();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        dir,
    }
}

#[actix_web::test]
async fn a_stalled_request_head_gets_408_and_is_closed() {
    let app = timed_app().await;
    let wire = exchange(
        app.address,
        &[b"POST /oauth2/token HTTP/1.1\r\nhost: x\r\n"],
    )
    .await;
    assert_refusal(&wire, 408, "request head");
}

#[actix_web::test]
async fn a_stalled_form_body_gets_408_and_is_closed() {
    let app = timed_app().await;
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\n",
        basic("shopping-app", "shopping-secret")
    );
    let wire = exchange(app.address, &[head.as_bytes(), b"grant_type=client_"]).await;
    assert_refusal(&wire, 408, "request body");
}

#[actix_web::test]
async fn a_stalled_json_body_gets_408_and_is_closed() {
    let app = timed_app().await;
    let token = Admin::bootstrap(&app).await.token;
    for path in ["/authz/v1/decide", "/api/v1/roles/x"] {
        let method = if path.starts_with("/api") {
            "PUT"
        } else {
            "POST"
        };
        // Chunked this time: no declared length, and still bounded in time.
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
             authorization: Bearer {token}\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let wire = exchange(app.address, &[head.as_bytes(), b"5\r\n{\"met\r\n"]).await;
        let text = wire.text();
        assert!(wire.closed, "{path}: the connection stays open: {text:?}");
        assert_eq!(wire.statuses(), [408], "{path}: {text:?}");
        assert_eq!(
            wire.header("connection").as_deref(),
            Some("close"),
            "{text:?}"
        );
    }
}

#[actix_web::test]
async fn a_stalled_head_on_a_kept_alive_connection_gets_408_and_is_closed() {
    let app = timed_app().await;
    let mut stream = TcpStream::connect(app.address).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // The next head starts, and stalls (actix-http bounds only a connection's first head).
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .expect("write");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest)).await;
    let wire = Wire {
        closed: closed.is_ok(),
        bytes: rest,
    };
    assert_refusal(&wire, 408, "request head");
}

#[actix_web::test]
async fn the_read_timeouts_leave_slow_but_steady_clients_alone() {
    let app = timed_app().await;
    // A whole request sent in one go is answered, and the connection is kept alive.
    let mut stream = TcpStream::connect(app.address).await.expect("connect");
    for _ in 0..2 {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.expect("read");
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    }
}

#[actix_web::test]
async fn content_length_with_transfer_encoding_is_refused_and_closed() {
    let app = spawn_app().await;
    // The classic smuggling shape: a front end that honours Content-Length forwards the whole
    // thing as one request; honouring Transfer-Encoding makes the tail a second request.
    let smuggled = "0\r\n\r\nGET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    for path in ["/oauth2/token", "/authz/v1/decide", "/healthz"] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n\
             content-length: {}\r\ntransfer-encoding: chunked\r\n\r\n{smuggled}",
            smuggled.len()
        );
        let wire = exchange(app.address, &[request.as_bytes()]).await;
        assert_refusal(&wire, 400, "Transfer-Encoding");
    }
    // The same, with the second request sent after the refusal was read: still one answer.
    let wire = exchange(
        app.address,
        &[
            b"POST /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\
            transfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        ],
    )
    .await;
    assert_refusal(&wire, 400, "Transfer-Encoding");
}

fn head_with_fields(count: usize) -> String {
    // `host` is one of the fields.
    let mut head = String::from("GET /healthz HTTP/1.1\r\nhost: x\r\n");
    for i in 1..count {
        head.push_str(&format!("x-field-{i}: {i}\r\n"));
    }
    head.push_str("\r\n");
    head
}

#[actix_web::test]
async fn more_than_96_header_fields_get_431_with_a_json_body() {
    let app = spawn_app().await;
    let wire = exchange(app.address, &[head_with_fields(96).as_bytes()]).await;
    assert!(wire.text().starts_with("HTTP/1.1 200"), "{}", wire.text());
    let wire = exchange(app.address, &[head_with_fields(97).as_bytes()]).await;
    assert_refusal(&wire, 431, "96 header fields");
    // A head beyond what the server buffers at all gets the same answer.
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let wire = exchange(app.address, &[huge.as_bytes()]).await;
    assert_refusal(&wire, 431, "96 header fields");
}

#[actix_web::test]
async fn a_malformed_request_head_gets_400_with_a_json_body() {
    let app = spawn_app().await;
    let wire = exchange(app.address, &[b"GET /healthz HTTP/1.1\r\nhost x\r\n\r\n"]).await;
    assert_refusal(&wire, 400, "malformed");
}

#[actix_web::test]
async fn an_answer_given_before_the_body_was_read_closes_the_connection() {
    let app = spawn_app().await;
    // 413 from the declared length: the body is never read, so the connection cannot carry
    // another request, and the answer says so.
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nhost: x\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n",
        4 * 1024 * 1024
    );
    let wire = exchange(app.address, &[head.as_bytes(), b"grant_type="]).await;
    assert!(wire.closed, "{}", wire.text());
    assert_eq!(wire.statuses(), [413], "{}", wire.text());
    assert_eq!(wire.header("connection").as_deref(), Some("close"));
}
