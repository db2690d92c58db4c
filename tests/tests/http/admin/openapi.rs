//! The OpenAPI document lists exactly the routes the server registers under `/api/v1`, each with
//! the internal scopes the route table requires, and every listed route is really served.

use std::collections::BTreeSet;

use reqwest::Method;
use scopegate_server::routes::admin::{Access, PREFIX, ROUTES};
use serde_json::Value;

use super::spawn_admin_app;

#[actix_web::test]
async fn the_openapi_document_lists_every_admin_route_and_nothing_else() {
    let app = spawn_admin_app().await;
    let resp = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 200, "the document needs no token");
    let doc: Value = resp.json().await.expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));

    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let method = method.to_uppercase();
            let id = op["operationId"].as_str().expect("operationId").to_owned();
            assert!(
                operation_ids.insert(id.clone()),
                "duplicate operationId {id}"
            );
            let route = ROUTES
                .iter()
                .find(|r| format!("{PREFIX}{}", r.path) == *path && r.method == method)
                .unwrap_or_else(|| panic!("{method} {path} is documented but not served"));
            // Security comes from the same table the guard checks.
            let required: Vec<&str> = op["security"]
                .as_array()
                .map(|alternatives| {
                    alternatives
                        .iter()
                        .map(|s| s["scopegate"][0].as_str().expect("scope"))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(required, route.access.accepted(), "{method} {path}");
            if route.access != Access::Public {
                assert!(op["responses"]["401"].is_object(), "{method} {path}: 401");
                assert!(op["responses"]["403"].is_object(), "{method} {path}: 403");
            }
            documented.insert((method, path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), format!("{PREFIX}{}", r.path)))
        .collect();
    assert_eq!(documented, served, "documented routes = served routes");

    // Every one of them is really routed: without a token each protected route answers 401
    // (not 404 or 405), so the guard, not a missing handler, answered.
    for route in ROUTES {
        let path = format!("{PREFIX}{}", route.path)
            .replace("{key}", "item_view")
            .replace("{name}", "manager")
            .replace("{username}", "alex")
            .replace("{client_id}", "shopping-app");
        let method = Method::from_bytes(route.method.as_bytes()).expect("method");
        let resp = app
            .client
            .request(method, app.url(&path))
            .send()
            .await
            .expect("request");
        let expected = if route.access == Access::Public {
            200
        } else {
            401
        };
        assert_eq!(resp.status(), expected, "{} {path}", route.method);
    }
    // Every schema a response or body refers to is defined.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().expect("name");
        assert!(
            schemas.contains_key(name),
            "schema {name} is referenced but not defined"
        );
    }
}
