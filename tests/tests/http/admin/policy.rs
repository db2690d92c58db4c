//! Optimistic concurrency, bad bodies, and policy export/import.

use reqwest::Method;
use scopegate_tests::quickstart_policy;
use serde_json::{Value, json};

use super::{Admin, etag, fields, problem, spawn_admin_app};

#[actix_web::test]
async fn writes_honour_if_match_and_answer_the_new_etag() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let resp = admin.get("/scopes/item_view").await;
    let v = etag(&resp);
    let scope: Value = resp.json().await.expect("json");

    let put = |tag: String, scope: Value| {
        let admin = &admin;
        async move {
            admin
                .request(Method::PUT, "/scopes/item_view")
                .header("if-match", tag)
                .json(&scope)
                .send()
                .await
                .expect("put")
        }
    };
    let tag = format!("\"{v}\"");
    let resp = put(tag.clone(), scope.clone()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(etag(&resp), v + 1);

    // Another admin's change in between: the stale tag is refused with the current version.
    let resp = put(tag.clone(), scope.clone()).await;
    assert_eq!(resp.headers()["etag"], format!("\"{}\"", v + 1).as_str());
    let body = problem(resp, 412).await;
    assert_eq!(body["current_version"], v + 1);
    assert_eq!(fields(&body), ["If-Match"]);
    let resp = admin
        .request(Method::DELETE, "/scopes/item_view")
        .header("if-match", &tag)
        .send()
        .await
        .expect("delete");
    problem(resp, 412).await;

    assert_eq!(put("*".into(), scope.clone()).await.status(), 200);
    let body = problem(put("12".into(), scope.clone()).await, 400).await;
    assert_eq!(fields(&body), ["If-Match"]);

    // A GET that already has the version answers 304.
    let resp = admin.get("/scopes").await;
    let now = resp.headers()["etag"].clone();
    let resp = admin
        .request(Method::GET, "/scopes")
        .header("if-none-match", now)
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 304);
}

#[actix_web::test]
async fn bad_bodies_are_problems_naming_the_field() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let cases = [
        (json!({"roles": "manager"}), "roles"),
        (json!({"roles": ["a", 5]}), "roles[1]"),
        (json!({"rolez": []}), "rolez"),
    ];
    for (body, field) in cases {
        let p = problem(admin.put("/scopes/s", body).await, 400).await;
        assert_eq!(fields(&p), [field]);
        assert!(
            p["detail"].as_str().expect("detail").starts_with(field),
            "{p}"
        );
    }
    let p = problem(admin.put("/apis/X", json!({"resources": []})).await, 400).await;
    assert_eq!(fields(&p), ["context"]);
    let p = problem(
        admin
            .put(
                "/apis/X",
                json!({"context": "/x", "resources": [{"path": "/", "methods": {"FETCH": []}}]}),
            )
            .await,
        400,
    )
    .await;
    assert_eq!(fields(&p), ["resources[0].methods.FETCH"]);
    let p = problem(admin.put("/scopes/other", json!({"key": "s"})).await, 422).await;
    assert_eq!(fields(&p), ["key"]);

    let resp = admin
        .request(Method::PUT, "/scopes/s")
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .expect("put");
    let p = problem(resp, 400).await;
    assert!(
        p["detail"]
            .as_str()
            .expect("detail")
            .contains("not valid JSON"),
        "{p}"
    );
    let resp = admin
        .request(Method::PUT, "/scopes/s")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("put");
    assert_eq!(fields(&problem(resp, 415).await), ["Content-Type"]);
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 + 1));
    let resp = admin
        .request(Method::PUT, "/scopes/s")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("put");
    problem(resp, 413).await;
    // Unknown routes and methods are problems too.
    problem(admin.get("/nothing-here").await, 404).await;
    let resp = admin
        .request(Method::PATCH, "/scopes/s")
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.headers()["allow"], "GET, PUT, DELETE");
    problem(resp, 405).await;
}

#[actix_web::test]
async fn an_array_is_never_taken_for_an_object() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let before = admin
        .get("/roles")
        .await
        .json::<Value>()
        .await
        .expect("json");
    let cases = [
        ("/roles/x", json!(["x", ["/permission/admin"], "d"]), None),
        ("/scopes/s", json!(["s", "S", "d", [], null]), None),
        (
            "/apis/X",
            json!({"context": "/x", "resources": [["/", [], {}, "any_of"]]}),
            Some("resources[0]"),
        ),
    ];
    for (path, body, field) in cases {
        let p = problem(admin.put(path, body).await, 400).await;
        let detail = p["detail"].as_str().expect("detail");
        assert!(detail.contains("expected a JSON object"), "{path}: {p}");
        assert_eq!(fields(&p).first().map(String::as_str), field, "{path}: {p}");
    }
    let after = admin
        .get("/roles")
        .await
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(before, after, "no role was written");
    // The decision endpoint reads its body the same way.
    let resp = app
        .client
        .post(app.url("/authz/v1/decide"))
        .json(&json!(["tok", "GET", "/shopping/1.0.0/orders"]))
        .send()
        .await
        .expect("decide");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("expected a JSON object")),
        "{body}"
    );
}

#[actix_web::test]
async fn control_characters_in_identifiers_are_422_naming_the_field() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    for control in ["%0A", "%0D", "%00", "%1B"] {
        let cases = [
            (format!("/scopes/s{control}"), json!({}), "key"),
            (format!("/roles/r{control}"), json!({}), "name"),
            (
                format!("/users/u{control}"),
                json!({"password_hash": hash}),
                "username",
            ),
            (
                format!("/clients/c{control}"),
                json!({"secret_hash": hash, "grant_types": ["client_credentials"]}),
                "client_id",
            ),
            (
                format!("/apis/A{control}"),
                json!({"context": "/control"}),
                "name",
            ),
            (
                "/apis/Ctl".to_owned(),
                json!({"context": "/ctl", "resources": [{"path": "/a\nb"}]}),
                "resources[0] \"/a\\nb\".path",
            ),
            (
                "/users/alex/roles".to_owned(),
                json!({"roles": ["manager\n"]}),
                "roles[0]",
            ),
        ];
        for (path, body, field) in cases {
            let p = problem(admin.put(&path, body).await, 422).await;
            assert!(fields(&p).iter().any(|f| f == field), "{path}: {p}");
        }
    }
    let resp = admin
        .request(Method::POST, "/revocations/subjects")
        .json(&json!({"subject": "alex\nINFO forged line"}))
        .send()
        .await
        .expect("revoke");
    assert_eq!(fields(&problem(resp, 422).await), ["subject"]);
}

#[actix_web::test]
async fn an_invalid_import_is_422_listing_every_problem_with_its_location() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let before = etag(&admin.get("/policy").await);
    let doc = json!({
        "roles": [{"name": "agent"}],
        "scopes": [
            {"key": "order add", "roles": ["agent"]},
            {"key": "order_view", "roles": ["Agent"]},
        ],
        "users": [{"username": "zed", "password_hash": "plain", "roles": []}],
        "apis": [{"name": "A", "context": "/a", "resources": [{"path": "/o", "scopes": ["nope"]}]}],
        "allowlist": ["("],
    });
    let resp = admin.put("/policy", doc).await;
    let body = problem(resp, 422).await;
    let fields = fields(&body);
    for expected in [
        "allowlist[0]",
        "scopes[0] \"order add\".key",
        "scopes[1] \"order_view\".roles[0]",
        "users[0] \"zed\".password_hash",
        "apis[0] \"A\".resources[0] \"/o\".scopes[0]",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} in {fields:?}"
        );
    }
    let messages = body["errors"].to_string();
    assert!(
        messages.contains("did you mean \\\"agent\\\""),
        "{messages}"
    );
    assert_eq!(etag(&admin.get("/policy").await), before, "nothing changed");
}

#[actix_web::test]
async fn export_and_import_round_trip_in_json_and_toml() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    let exported = admin.get_ok("/policy").await;
    assert!(
        !exported.to_string().contains("$argon2id$"),
        "hashes are redacted"
    );
    assert_eq!(exported["users"][0]["password_hash"], "redacted");

    // JSON: the redacted export goes back in unchanged, and everyone keeps their password.
    let resp = admin.put("/policy", exported.clone()).await;
    assert_eq!(resp.status(), 200);
    let summary: Value = resp.json().await.expect("json");
    assert_eq!(
        summary["users"],
        exported["users"].as_array().expect("users").len()
    );
    assert_eq!(admin.get_ok("/policy").await, exported);
    assert_eq!(app.granted("alex", "item_add").await, "item_add");

    // TOML, the policy-file format.
    let resp = admin.get("/policy?format=toml").await;
    assert_eq!(resp.headers()["content-type"], "application/toml");
    let toml = resp.text().await.expect("toml");
    assert!(
        toml.contains("[[scopes]]") && toml.contains("key = \"item_view\""),
        "{toml}"
    );
    let resp = admin
        .request(Method::PUT, "/policy")
        .header("content-type", "application/toml")
        .body(toml)
        .send()
        .await
        .expect("import");
    assert_eq!(resp.status(), 200);
    assert_eq!(admin.get_ok("/policy").await, exported);

    // The shipped policy file itself imports; the bootstrap admin survives it.
    let file = std::fs::read_to_string(quickstart_policy()).expect("policy file");
    let resp = admin
        .request(Method::PUT, "/policy")
        .header("content-type", "application/toml")
        .body(file)
        .send()
        .await
        .expect("import");
    assert_eq!(resp.status(), 200);
    let after = Admin::bootstrap(&app).await;
    after.get_ok("/scopes/internal_scope_manage").await;
    let p = problem(
        admin
            .request(Method::PUT, "/policy")
            .header("content-type", "application/toml")
            .body("[[scopes]]\nkey = \"a\"\nrolez = []\n")
            .send()
            .await
            .expect("import"),
        400,
    )
    .await;
    assert_eq!(fields(&p), ["scopes[0].rolez"]);
}

#[actix_web::test]
async fn hashes_leave_only_on_request_with_the_policy_scope() {
    let app = spawn_admin_app().await;
    let admin = Admin::bootstrap(&app).await;
    for path in ["/policy", "/policy?format=toml"] {
        let text = admin.get(path).await.text().await.expect("text");
        assert!(!text.contains("$argon2id$"), "{path}");
    }
    let full = admin.get_ok("/policy?include_hashes=true").await;
    let hash = full["users"][0]["password_hash"].as_str().expect("hash");
    assert!(hash.starts_with("$argon2id$"));
    let p = problem(admin.get("/policy?format=xml").await, 400).await;
    assert_eq!(fields(&p), ["query"]);
    // A redacted hash for a user that does not exist cannot be kept.
    let mut doc = admin.get_ok("/policy").await;
    doc["users"][0]["username"] = json!("newcomer");
    let p = problem(admin.put("/policy", doc).await, 422).await;
    assert_eq!(fields(&p), ["users[0] \"newcomer\".password_hash"]);
}
