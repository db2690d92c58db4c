//! `/api/v1/cluster/status` and `/readyz` of an embedded (single-node) deployment: mode
//! `embedded`, the policy version served, and no Redis.

use serde_json::{Value, json};

use super::{Admin, etag, problem, spawn_admin_app, user_token};

#[actix_web::test]
async fn an_embedded_node_reports_its_mode_and_policy_version() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let ready: Value = app.get_json("/readyz").await;
    let status = admin.get_ok("/cluster/status").await;
    assert_eq!(status["mode"], "embedded");
    assert_eq!(status["redis_reachable"], true);
    assert_eq!(status["redis_reconnects"], 0);
    assert_eq!(status["node_id"], ready["node_id"]);
    assert!(status["node_id"].as_str().is_some_and(|n| !n.is_empty()));
    assert_eq!(status["policy_version"], ready["policy_version"]);

    let scope = json!({"name": "Read reports", "roles": ["manager"]});
    let resp = admin.put("/scopes/report_view", scope).await;
    assert_eq!(resp.status(), 201);
    let version = etag(&resp);
    let status = admin.get_ok("/cluster/status").await;
    assert_eq!(status["policy_version"], version);
    let applied = status["applied"].as_array().expect("applied");
    let last = applied.last().expect("the write is listed");
    assert_eq!(last["version"], version);
    assert!(last["created_at_us"].as_u64().is_some(), "{last}");
    assert!(last["applied_at_us"].as_u64() >= last["created_at_us"].as_u64());

    let ready: Value = app.get_json("/readyz").await;
    assert_eq!(
        ready,
        json!({
            "status": "ready",
            "mode": "embedded",
            "node_id": status["node_id"],
            "policy_version": version,
        })
    );

    // A viewer may read it; a shop token may not.
    let viewer = Admin::with_scope(&app, "internal_scope_view").await;
    viewer.get_ok("/cluster/status").await;
    let alex = Admin {
        app: &app,
        token: user_token(&app, "alex", "item_view").await,
    };
    problem(alex.get("/cluster/status").await, 403).await;
}
