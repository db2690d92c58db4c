//! `/api/v1/cluster/status`: this node's view of the cluster: its policy version, when it
//! published each recent version (and when that version was written, on whichever node), and
//! Redis reachability. The propagation benchmark reads it; so can an operator.

use actix_web::{HttpResponse, web};
use scopegate_policy_store::AppliedVersion;
use serde::Serialize;
use utoipa::ToSchema;

use super::AdminContext;
use crate::stores::NodeState;

/// One published policy version.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppliedView {
    /// The policy version.
    pub version: u64,
    /// When the writing node committed it, microseconds since the Unix epoch (absent when this
    /// node reached it by reloading the whole policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at_us: Option<u64>,
    /// When this node published it to its readers, microseconds since the Unix epoch.
    pub applied_at_us: u64,
    /// Whether another node wrote it.
    pub remote: bool,
}

impl From<AppliedVersion> for AppliedView {
    fn from(a: AppliedVersion) -> Self {
        Self {
            version: a.version,
            created_at_us: a.created_at_us,
            applied_at_us: a.applied_at_us,
            remote: a.remote,
        }
    }
}

/// The node's status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterStatus {
    /// This node's name.
    pub node_id: String,
    /// `cluster` (Redis) or `embedded`.
    pub mode: String,
    /// The policy version this node serves.
    pub policy_version: u64,
    /// Whether Redis answered last time (always true in embedded mode).
    pub redis_reachable: bool,
    /// Reconnections to Redis since start.
    pub redis_reconnects: u64,
    /// The last versions this node published (up to 4,096), oldest first.
    pub applied: Vec<AppliedView>,
}

/// This node's policy version, recent applied versions and Redis state.
#[utoipa::path(get, path = "/api/v1/cluster/status", tag = "cluster",
    responses((status = 200, description = "This node's view", body = ClusterStatus)))]
pub async fn status(ctx: web::Data<AdminContext>, node: web::Data<NodeState>) -> HttpResponse {
    let body = ClusterStatus {
        node_id: node.node_id.clone(),
        mode: if node.redis.is_some() {
            "cluster"
        } else {
            "embedded"
        }
        .to_owned(),
        policy_version: ctx.reader.version(),
        redis_reachable: node.redis.as_ref().is_none_or(|h| h.is_up()),
        redis_reconnects: node.redis.as_ref().map_or(0, |h| h.reconnects()),
        applied: ctx
            .store
            .applied()
            .into_iter()
            .map(AppliedView::from)
            .collect(),
    };
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(body)
}
