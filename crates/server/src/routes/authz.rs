//! The check endpoints: `/authz/check` (nginx `auth_request`, Traefik ForwardAuth),
//! `/authz/envoy/{path}` (Envoy ext_authz HTTP service) and `POST /authz/v1/decide` (JSON).
//!
//! All of them call [`ScopeValidator::decide`], which runs on this thread from snapshots; the
//! answers are mapped to HTTP in [`crate::errors`].

use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_jwt::unix_now;
use scopegate_scope_validator::{Decision, Deny, ScopeValidator};
use serde::{Deserialize, Serialize};

use crate::errors::{ApiError, allow_response, deny_body, deny_response};
use crate::metrics::Metrics;
use crate::routes::health::refuse_if_stale;
use crate::stores::NodeState;

/// Most (method, path) pairs one batch decision may ask about.
pub const MAX_BATCH: usize = 100;

/// The bearer token of a request, if it carries one. `None` also for another scheme than
/// Bearer (no credentials, as far as this server is concerned: RFC 6750 §3.1).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The bearer token of a request, refusing two `Authorization` headers: which one a proxy or
/// the service behind it would believe is unknown, so neither is (RFC 6750 §3.1
/// `invalid_request`; never "first one wins").
pub fn single_bearer(headers: &HeaderMap) -> Result<Option<&str>, Deny> {
    if headers
        .get_all(actix_web::http::header::AUTHORIZATION)
        .nth(1)
        .is_some()
    {
        return Err(Deny::ambiguous_credentials(
            "the request has more than one Authorization header",
        ));
    }
    Ok(bearer(headers))
}

fn header<'a>(headers: &'a HeaderMap, names: [&str; 2]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
}

/// Forward auth: the original request is described by `X-Original-Method`/`X-Original-URI`
/// (nginx) or `X-Forwarded-Method`/`X-Forwarded-Uri` (Traefik).
pub async fn check(
    req: HttpRequest,
    validator: web::Data<ScopeValidator>,
    metrics: web::Data<Metrics>,
    node: web::Data<NodeState>,
) -> HttpResponse {
    if let Some(refusal) = refuse_if_stale(&node) {
        return refusal;
    }
    let headers = req.headers();
    let method = header(headers, ["x-original-method", "x-forwarded-method"]);
    let uri = header(headers, ["x-original-uri", "x-forwarded-uri"]);
    let (Some(method), Some(uri)) = (method, uri) else {
        return actix_web::ResponseError::error_response(&ApiError::BadRequest(
            "the original request is unknown: send X-Original-Method and X-Original-URI \
             (nginx auth_request) or X-Forwarded-Method and X-Forwarded-Uri (Traefik ForwardAuth)"
                .to_owned(),
        ));
    };
    let decision = match single_bearer(headers) {
        Ok(token) => validator.decide(token, method, uri, unix_now()),
        Err(deny) => Decision::Deny(deny),
    };
    metrics.decision("check", &decision);
    answer(decision)
}

/// Envoy ext_authz (HTTP service): Envoy sends the original method and appends the original
/// path to this endpoint's prefix.
pub async fn envoy(
    req: HttpRequest,
    validator: web::Data<ScopeValidator>,
    metrics: web::Data<Metrics>,
    node: web::Data<NodeState>,
) -> HttpResponse {
    if let Some(refusal) = refuse_if_stale(&node) {
        return refusal;
    }
    let path = req.path().strip_prefix("/authz/envoy").unwrap_or("/");
    let path = if path.is_empty() { "/" } else { path };
    let target = match req.query_string() {
        "" => path.to_owned(),
        q => format!("{path}?{q}"),
    };
    let decision = match single_bearer(req.headers()) {
        Ok(token) => validator.decide(token, req.method().as_str(), &target, unix_now()),
        Err(deny) => Decision::Deny(deny),
    };
    metrics.decision("envoy", &decision);
    answer(decision)
}

fn answer(decision: Decision) -> HttpResponse {
    match decision {
        Decision::Allow { principal, .. } => allow_response(&principal),
        Decision::Deny(deny) => deny_response(&deny),
    }
}

/// `POST /authz/v1/decide` body: one (method, path) or a batch, against one token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// The access token; when absent, the request's own `Authorization: Bearer` is used.
    #[serde(default)]
    token: Option<String>,
    /// The method of a single question.
    #[serde(default)]
    method: Option<String>,
    /// The path of a single question.
    #[serde(default)]
    path: Option<String>,
    /// Several questions at once.
    #[serde(default)]
    requests: Option<Vec<Question>>,
}

/// One (method, path) question.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    method: String,
    path: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Allow {
        allow: bool,
        subject: String,
        client_id: String,
        scopes: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        api: Option<String>,
    },
    Deny {
        allow: bool,
        status: u16,
        #[serde(flatten)]
        body: serde_json::Value,
    },
}

impl From<Decision> for Answer {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Allow { principal, api } => Answer::Allow {
                allow: true,
                subject: principal.subject,
                client_id: principal.client_id,
                scopes: principal.scopes,
                api,
            },
            Decision::Deny(deny) => Answer::Deny {
                allow: false,
                status: deny.status,
                body: deny_body(&deny),
            },
        }
    }
}

/// Decides one or several (method, path) pairs for a token; always 200 when the question was
/// well formed: the decision is in the body.
pub async fn decide(
    req: HttpRequest,
    body: super::json::Json<DecideRequest>,
    validator: web::Data<ScopeValidator>,
    metrics: web::Data<Metrics>,
    node: web::Data<NodeState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(refusal) = refuse_if_stale(&node) {
        return Ok(refusal);
    }
    let body = body.0;
    let token = match (body.token.as_deref(), single_bearer(req.headers())) {
        (_, Err(deny)) => Err(deny),
        (Some(_), Ok(Some(_))) => Err(Deny::ambiguous_credentials(
            "the token is in the body and in the Authorization header; send it once",
        )),
        (Some(token), Ok(None)) => Ok(Some(token)),
        (None, Ok(header)) => Ok(header),
    };
    let now = unix_now();
    let decide = |method: &str, path: &str| {
        let decision = match &token {
            Ok(token) => validator.decide(*token, method, path, now),
            Err(deny) => Decision::Deny(deny.clone()),
        };
        metrics.decision("decide", &decision);
        Answer::from(decision)
    };
    match (body.method, body.path, body.requests) {
        (Some(method), Some(path), None) => Ok(HttpResponse::Ok().json(decide(&method, &path))),
        (None, None, Some(questions)) => {
            if questions.is_empty() || questions.len() > MAX_BATCH {
                return Err(ApiError::BadRequest(format!(
                    "requests must hold between 1 and {MAX_BATCH} questions"
                )));
            }
            let results: Vec<Answer> = questions
                .iter()
                .map(|q| decide(&q.method, &q.path))
                .collect();
            Ok(HttpResponse::Ok().json(serde_json::json!({ "results": results })))
        }
        _ => Err(ApiError::BadRequest(
            "send either \"method\" and \"path\", or \"requests\": [{\"method\", \"path\"}, …]"
                .to_owned(),
        )),
    }
}
