//! `/healthz` (the process answers) and `/readyz` (it can serve: policy and keys loaded).

use actix_web::{HttpResponse, web};
use scopegate_policy_store::PolicyReader;
use serde_json::json;

/// Liveness: the process is up and its HTTP workers answer. Also the trivial baseline endpoint
/// the benchmarks compare other endpoints against.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Readiness: a policy snapshot is loaded. Reports the policy version it serves.
pub async fn readyz(policy: web::Data<PolicyReader>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ready",
        "policy_version": policy.version(),
    }))
}
