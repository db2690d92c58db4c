//! schemathesis (from the tools virtualenv) against `/api/v1/openapi.json` of a node of its own,
//! with the bootstrap administrator's token: every check, bounded in examples and time. Any
//! finding fails the test with schemathesis's report.
//!
//! One status is accepted for schema-valid data besides what schemathesis expects by default:
//! 422, the answer to a change that is well formed but would make the policy invalid in a way a
//! JSON Schema cannot say (a role or scope that must exist, a name that must be unique, an API
//! prefix another API has, a token that is no longer live). Everything a schema can say (lengths,
//! patterns, required fields) is in the document, so the fuzzer's valid data reaches that logic.

use std::process::Command;
use std::time::Duration;

use scopegate_tests::tools;

use super::{Admin, spawn_admin_app};

/// The whole run's time budget, seconds (schemathesis stops generating when it is spent).
const BUDGET_SECS: u64 = 150;

const CONFIG: &str = r#"
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "304", "401", "403", "404", "409", "422"]

# schemathesis 4.32's coverage phase offers `{"users": [{" \"\"": "00", …}]}` to the policy import
# as schema-valid, although UserRecord and RoleBody say `additionalProperties: false` (a JSON
# Schema validator agrees); the server is right to refuse the unknown field. Every other check
# still runs on this operation.
[[operations]]
include-path = "/api/v1/policy"
include-method = "PUT"
checks.positive_data_acceptance.enabled = false
"#;

#[actix_web::test]
async fn schemathesis_finds_nothing_in_the_admin_api() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let config = app.dir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).expect("write config");
    let schemathesis = tools::venv_bin("schemathesis");
    let url = app.url("/api/v1/openapi.json");
    let authorization = format!("Authorization: Bearer {}", admin.token);
    let dir = app.dir.path().to_owned();
    // schemathesis blocks; the node serves on this test's runtime meanwhile.
    let run = actix_web::rt::task::spawn_blocking(move || {
        Command::new(schemathesis)
            .arg("--config-file")
            .arg(&config)
            .args(["run", &url, "--header", &authorization])
            // Every check runs (the default), with the configuration above.
            .args(["--max-examples", "25", "--workers", "2"])
            .args(["--max-time", &BUDGET_SECS.to_string()])
            .args(["--request-timeout", "10", "--no-color"])
            .current_dir(dir)
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .expect("run schemathesis")
    });
    let out = tokio::time::timeout(Duration::from_secs(BUDGET_SECS + 120), run)
        .await
        .expect("schemathesis finished within its budget")
        .expect("joined");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}"
    );
}
