//! `/healthz` (the process answers) and `/readyz` (it can serve: policy and keys loaded).

use actix_web::{HttpResponse, web};
use scopegate_policy_store::PolicyReader;
use serde_json::json;

use crate::stores::NodeState;

/// Liveness: the process is up and its HTTP workers answer. Also the trivial baseline endpoint
/// the benchmarks compare other endpoints against.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Readiness: a policy snapshot is loaded (always true once the server listens). Reports the
/// policy version it serves and, in cluster mode, whether Redis is reachable: without it the
/// node still validates and issues from its snapshots, so it answers `"status": "degraded"`
/// with 200, or 503 when `[cluster] fail_readiness_when_degraded` is set.
pub async fn readyz(policy: web::Data<PolicyReader>, node: web::Data<NodeState>) -> HttpResponse {
    let Some(redis) = &node.redis else {
        return HttpResponse::Ok().json(json!({
            "status": "ready",
            "mode": "embedded",
            "node_id": node.node_id,
            "policy_version": policy.version(),
        }));
    };
    let up = redis.is_up();
    let body = json!({
        "status": if up { "ready" } else { "degraded" },
        "mode": "cluster",
        "node_id": node.node_id,
        "policy_version": policy.version(),
        "redis": {
            "reachable": up,
            "reconnects": redis.reconnects(),
            "last_error": if up { None } else { redis.last_error() },
        },
    });
    if !up && node.fail_readiness_when_degraded {
        HttpResponse::ServiceUnavailable().json(body)
    } else {
        HttpResponse::Ok().json(body)
    }
}
