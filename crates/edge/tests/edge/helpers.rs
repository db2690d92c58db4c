//! A real JWKS issuer on `127.0.0.1:0` with a failure switch and a fetch counter, token minting
//! (honest and hand-crafted), and a protected shopping service on `127.0.0.1:0`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use scopegate_edge::{Gate, JwksCache, JwksConfig, Principal, ScopeGate, ScopeRules};
use scopegate_jwt::{AccessTokenClaims, Algorithm, Audience, Jwks, SigningKey, unix_now};

pub const ISSUER: &str = "http://scopegate.test";
pub const AUDIENCE: &str = "scopegate";

/// What the issuer answers on `GET /oauth2/jwks`.
#[derive(Clone)]
pub enum Answer {
    Keys(Jwks),
    Status(u16),
    Garbage,
}

struct IssuerState {
    answer: Mutex<Answer>,
    fetches: AtomicUsize,
}

/// A tiny real JWKS endpoint.
pub struct Issuer {
    /// `http://127.0.0.1:PORT/oauth2/jwks`.
    pub jwks_url: String,
    state: Arc<IssuerState>,
}

impl Issuer {
    pub async fn start(keys: &[&SigningKey]) -> Issuer {
        let state = Arc::new(IssuerState {
            answer: Mutex::new(Answer::Keys(jwks(keys))),
            fetches: AtomicUsize::new(0),
        });
        let data = web::Data::from(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/oauth2/jwks", web::get().to(serve_jwks))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Issuer {
            jwks_url: format!("http://127.0.0.1:{port}/oauth2/jwks"),
            state,
        }
    }

    pub fn answer(&self, answer: Answer) {
        *self.state.answer.lock().unwrap() = answer;
    }

    pub fn publish(&self, keys: &[&SigningKey]) {
        self.answer(Answer::Keys(jwks(keys)));
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// A config for this issuer with test-sized intervals: no background refresh to speak of,
    /// unknown-kid refetches at most every 200 ms.
    pub fn config(&self) -> JwksConfig {
        JwksConfig {
            jwks_url: self.jwks_url.clone(),
            refresh_interval: Duration::from_secs(3600),
            min_refetch_interval: Duration::from_millis(200),
            retry_interval: Duration::from_millis(50),
            fetch_timeout: Duration::from_secs(2),
            ..JwksConfig::new(ISSUER)
        }
    }
}

async fn serve_jwks(state: web::Data<IssuerState>) -> HttpResponse {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let answer = state.answer.lock().unwrap().clone();
    match answer {
        Answer::Keys(jwks) => HttpResponse::Ok()
            .content_type("application/jwk-set+json")
            .json(jwks),
        Answer::Status(status) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                .body("issuer trouble")
        }
        Answer::Garbage => HttpResponse::Ok()
            .content_type("application/json")
            .body("{\"keys\": \"<html>surprise</html>\""),
    }
}

pub fn jwks(keys: &[&SigningKey]) -> Jwks {
    Jwks {
        keys: keys.iter().map(|k| k.verifying_key().to_jwk()).collect(),
    }
}

pub fn key() -> SigningKey {
    SigningKey::generate(Algorithm::EdDSA).unwrap()
}

pub fn claims(user: &str, scope: &str) -> AccessTokenClaims {
    let now = unix_now();
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: user.into(),
        aud: Audience::from(AUDIENCE),
        exp: now + 300,
        iat: now,
        nbf: now,
        jti: format!("jti-{user}-{now}"),
        client_id: "shopping-app".into(),
        scope: scope.into(),
        username: Some(user.into()),
        sid: None,
    }
}

/// An honest token for `user` with `scope`, signed by `key`.
pub fn token(key: &SigningKey, user: &str, scope: &str) -> String {
    key.sign(&claims(user, scope)).unwrap()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header, signed by a foreign Ed25519 key the issuer never published.
pub fn forged(header: serde_json::Value, claims: &AccessTokenClaims) -> String {
    let foreign = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let input = format!(
        "{}.{}",
        b64(header.to_string()),
        b64(serde_json::to_vec(claims).unwrap())
    );
    let signature = foreign.sign(input.as_bytes());
    format!("{input}.{}", b64(signature.to_bytes()))
}

pub fn quickstart_policy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/policy.toml")
}

pub fn shopping_rules() -> ScopeRules {
    ScopeRules::from_policy_file(quickstart_policy(), "ShoppingCartAPI").unwrap()
}

/// The shopping routes, for real servers and `init_service` alike.
pub fn shop(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders", web::get().to(list))
        .route("/orders", web::head().to(list))
        .route("/orders", web::post().to(create_order))
        .route("/items", web::get().to(list))
        .route("/items", web::post().to(created))
        .route("/items", web::delete().to(list));
}

async fn list() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!([]))
}

async fn create_order(principal: Principal) -> HttpResponse {
    HttpResponse::Created().json(serde_json::json!({
        "id": 1,
        "created_by": principal.subject,
        "scopes": principal.scopes,
        "jti": principal.claims.jti,
    }))
}

async fn created() -> HttpResponse {
    HttpResponse::Created().json(serde_json::json!({"id": 1}))
}

/// The shopping service behind the middleware, on a real socket; returns its base URL.
pub async fn spawn_shop(gate: Gate) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(ScopeGate::new(gate.clone()))
            .configure(shop)
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// An issuer publishing `signing`, a connected cache, and the shop behind it.
pub async fn shop_with_issuer(signing: &SigningKey) -> (Issuer, JwksCache, String) {
    let issuer = Issuer::start(&[signing]).await;
    let keys = JwksCache::connect(issuer.config()).await.unwrap();
    let gate = Gate::new(keys.clone(), &shopping_rules()).unwrap();
    let url = spawn_shop(gate).await;
    (issuer, keys, url)
}

/// Polls `condition` every 20 ms for up to 10 s.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}
