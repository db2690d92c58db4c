//! The middleware and the extractor through `actix_web::test::init_service` (the keys still
//! come from a real issuer): the principal handlers see, raw paths a client library would
//! normalise away, unknown routes, and a `Principal` asked for outside the middleware.

use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body_json};
use actix_web::{App, HttpResponse, web};
use scopegate_core::Method;
use scopegate_edge::{Gate, JwksCache, Principal, ScopeGate, ScopeRules, UnknownRoute};
use serde_json::{Value, json};

use crate::helpers::*;

async fn whoami(principal: Principal) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "subject": principal.subject,
        "client_id": principal.client_id,
        "username": principal.username,
        "scopes": principal.scopes,
        "jti": principal.claims.jti,
        "order_add": principal.has_scope("order_add"),
    }))
}

async fn maybe(principal: Option<Principal>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "anonymous": principal.is_none() }))
}

fn get(path: &str, token: &str) -> actix_web::test::TestRequest {
    TestRequest::get()
        .uri(path)
        .insert_header(("authorization", format!("Bearer {token}")))
}

#[actix_web::test]
async fn handlers_see_the_verified_principal() {
    let signing = key();
    let issuer = Issuer::start(&[&signing]).await;
    let keys = JwksCache::connect(issuer.config()).await.unwrap();
    let rules = ScopeRules::new().route(Method::Get, "/me", Vec::<String>::new());
    let app = init_service(
        App::new()
            .wrap(ScopeGate::new(Gate::new(keys, &rules).unwrap()))
            .route("/me", web::get().to(whoami)),
    )
    .await;
    let claims = claims("harry", "order_view order_add");
    let token = signing.sign(&claims).unwrap();
    let response = call_service(&app, get("/me", &token).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = read_body_json(response).await;
    assert_eq!(
        body,
        json!({
            "subject": "harry",
            "client_id": "shopping-app",
            "username": "harry",
            "scopes": ["order_view", "order_add"],
            "jti": claims.jti,
            "order_add": true,
        })
    );
}

#[actix_web::test]
async fn raw_paths_are_canonicalised_or_refused() {
    let signing = key();
    let issuer = Issuer::start(&[&signing]).await;
    let keys = JwksCache::connect(issuer.config()).await.unwrap();
    let gate = Gate::new(keys, &shopping_rules()).unwrap();
    let app = init_service(App::new().wrap(ScopeGate::new(gate)).configure(shop)).await;
    let rick = token(&signing, "rick", "order_view");

    for path in [
        "/items/../orders",
        "/items/%2e%2e/orders",
        "/items/./x",
        "/orders;x=1",
    ] {
        let response = call_service(&app, get(path, &rick).to_request()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let challenge = response.headers().get("www-authenticate").unwrap();
        let challenge = challenge.to_str().unwrap().to_owned();
        assert!(
            challenge.contains("error=\"invalid_request\""),
            "{challenge}"
        );
        let body: Value = read_body_json(response).await;
        assert_eq!(body["error"], "invalid_request", "{path}");
        assert_eq!(body["granted"], json!(["order_view"]), "{path}");
    }
    // An encoded letter is the same route; the request reaches the handler's router as sent.
    let response = call_service(&app, get("/%6Frders", &rick).to_request()).await;
    assert_ne!(response.status(), StatusCode::FORBIDDEN);
    // HEAD uses GET's scopes.
    let head = TestRequest::default()
        .method(actix_web::http::Method::HEAD)
        .uri("/orders")
        .insert_header(("authorization", format!("Bearer {rick}")));
    let response = call_service(&app, head.to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[actix_web::test]
async fn unknown_routes_are_denied_by_default_and_allowed_on_request() {
    let signing = key();
    let issuer = Issuer::start(&[&signing]).await;
    let keys = JwksCache::connect(issuer.config()).await.unwrap();
    let alex = token(&signing, "alex", "item_view");

    let strict = Gate::new(keys.clone(), &shopping_rules()).unwrap();
    let app = init_service(
        App::new()
            .wrap(ScopeGate::new(strict))
            .route("/stats", web::get().to(maybe)),
    )
    .await;
    let response = call_service(&app, get("/stats", &alex).to_request()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("www-authenticate").is_none());
    let body: Value = read_body_json(response).await;
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["required"], json!([]));
    assert_eq!(body["granted"], json!(["item_view"]));

    let relaxed = shopping_rules().on_unknown_route(UnknownRoute::Allow);
    let app = init_service(
        App::new()
            .wrap(ScopeGate::new(Gate::new(keys, &relaxed).unwrap()))
            .route("/stats", web::get().to(maybe)),
    )
    .await;
    let response = call_service(&app, get("/stats", &alex).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = read_body_json(response).await;
    assert_eq!(body, json!({"anonymous": false}));
    // Still authenticated: no token is still a 401.
    let request = TestRequest::get().uri("/stats").to_request();
    let response = call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_principal_outside_the_middleware_is_a_500_never_anonymous() {
    let app = init_service(
        App::new()
            .route("/me", web::get().to(whoami))
            .route("/maybe", web::get().to(maybe)),
    )
    .await;
    let response = call_service(&app, TestRequest::get().uri("/me").to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = read_body_json(response).await;
    assert_eq!(body["error"], "server_error");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains("not wrapped by the ScopeGate middleware"),
        "{description}"
    );

    let response = call_service(&app, TestRequest::get().uri("/maybe").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = read_body_json(response).await;
    assert_eq!(body, json!({"anonymous": true}));
}
