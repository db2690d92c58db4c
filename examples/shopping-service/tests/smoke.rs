//! The `shopping-service` binary against a real JWKS endpoint: it prints its address, then
//! answers the seed scenarios as the scopegate server would.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use actix_web::{App, HttpResponse, HttpServer, web};
use scopegate_jwt::{AccessTokenClaims, Algorithm, Audience, Jwks, SigningKey, unix_now};

const ISSUER: &str = "http://scopegate.test";

/// Kills the service when the test ends, however it ends.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_jwks(jwks: Jwks) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let jwks = web::Data::new(jwks);
    let server = HttpServer::new(move || {
        App::new().app_data(jwks.clone()).route(
            "/oauth2/jwks",
            web::get()
                .to(|jwks: web::Data<Jwks>| async move { HttpResponse::Ok().json(jwks.get_ref()) }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}/oauth2/jwks")
}

async fn start_service(jwks_url: String) -> (Service, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shopping-service"))
        .args(["--issuer", ISSUER, "--jwks-url", &jwks_url])
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let service = Service(child);
    let line = actix_web::rt::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let url = line
        .trim()
        .strip_prefix("shopping-service listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (service, url)
}

fn token(key: &SigningKey, user: &str, scope: &str) -> String {
    let now = unix_now();
    key.sign(&AccessTokenClaims {
        iss: ISSUER.into(),
        sub: user.into(),
        aud: Audience::from("scopegate"),
        exp: now + 300,
        iat: now,
        nbf: now,
        jti: format!("{user}-{now}"),
        client_id: "shopping-app".into(),
        scope: scope.into(),
        username: Some(user.into()),
        sid: None,
    })
    .unwrap()
}

#[actix_web::test]
async fn the_seed_scenarios_over_the_binary() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let jwks_url = start_jwks(Jwks {
        keys: vec![key.verifying_key().to_jwk()],
    });
    let (_service, url) = start_service(jwks_url).await;
    let client = reqwest::Client::new();
    let paul = token(&key, "paul", "order_add order_view");
    let alex = token(&key, "alex", "item_view item_add order_view");

    let placed = client
        .post(format!("{url}/orders"))
        .bearer_auth(&paul)
        .json(&serde_json::json!({"item": "apples", "quantity": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    let order: serde_json::Value = placed.json().await.unwrap();
    assert_eq!(order["created_by"], "paul");
    assert_eq!(order["quantity"], 3);

    let refused = client
        .post(format!("{url}/orders"))
        .bearer_auth(&alex)
        .json(&serde_json::json!({"item": "pears"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("scope=\"order_add\""), "{challenge}");

    let listed = client
        .get(format!("{url}/orders"))
        .bearer_auth(&alex)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let orders: serde_json::Value = listed.json().await.unwrap();
    assert_eq!(orders.as_array().map(Vec::len), Some(1));

    let item = client
        .post(format!("{url}/items"))
        .bearer_auth(&alex)
        .json(&serde_json::json!({"name": "basket"}))
        .send()
        .await
        .unwrap();
    assert_eq!(item.status(), 201);

    let anonymous = client.get(format!("{url}/items")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let bad_body = client
        .post(format!("{url}/items"))
        .bearer_auth(&alex)
        .header("content-type", "application/json")
        .body("{\"nom\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_body.status(), 400);
    let body: serde_json::Value = bad_body.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}
