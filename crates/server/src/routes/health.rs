//! `/healthz` (the process answers), `/readyz` (it can serve: policy and keys loaded, in step
//! with the cluster), and the refusal a stale cluster node gives instead of a decision.

use actix_web::http::header::{self, HeaderValue};
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
/// policy version it serves and, in cluster mode, Redis: without it the node still validates
/// and issues from its snapshots, so it answers `"status": "degraded"` with 200 (503 when
/// `[cluster] fail_readiness_when_degraded` is set); likewise when Redis has lost the cluster's
/// data (`redis.data_lost`). A node started from its local snapshot answers `catching_up` with
/// 503 until it is in step with Redis (200 with `cluster.ready_before_catch_up`), and one past
/// `cluster.max_staleness_secs` without contact answers `stale` with 503.
pub async fn readyz(policy: web::Data<PolicyReader>, node: web::Data<NodeState>) -> HttpResponse {
    let Some(redis) = &node.redis else {
        return HttpResponse::Ok().json(json!({
            "status": "ready",
            "mode": "embedded",
            "node_id": node.node_id,
            "policy_version": policy.version(),
        }));
    };
    let readiness = node.readiness();
    let up = redis.is_up();
    let data_lost = redis.data_lost();
    let body = json!({
        "status": readiness.status,
        "mode": "cluster",
        "node_id": node.node_id,
        "policy_version": policy.version(),
        "redis": {
            "reachable": up,
            "reconnects": redis.reconnects(),
            "last_error": if up { None } else { redis.last_error() },
            "seconds_since_contact": redis.contact_age().map(|a| a.as_secs()),
            "data_lost": data_lost.is_some(),
            "data_lost_detail": data_lost,
            "caught_up": redis.is_caught_up(),
        },
    });
    let mut response = if readiness.ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(body)
}

/// The answer to a check, decision or introspection request on a node past
/// `cluster.max_staleness_secs` without contact with Redis (`None` otherwise): 503 with a JSON
/// body saying so, because a revocation made on another node since cannot have reached it.
/// Costs one atomic load when the node is not stale.
pub fn refuse_if_stale(node: &NodeState) -> Option<HttpResponse> {
    if !node.is_stale() {
        return None;
    }
    let since = node
        .redis
        .as_ref()
        .and_then(|h| h.contact_age())
        .map_or_else(
            || "since it started".to_owned(),
            |a| format!("for {} s", a.as_secs()),
        );
    Some(
        HttpResponse::ServiceUnavailable()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")))
            .json(json!({
                "error": "temporarily_unavailable",
                "error_description": format!(
                    "this node has lost contact with the cluster (no answer from Redis {since}, \
                     longer than cluster.max_staleness_secs = {}), so it cannot know of \
                     revocations made since; it refuses to decide until it is back in contact",
                    node.max_staleness_secs
                ),
            })),
    )
}
