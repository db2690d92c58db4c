use std::path::PathBuf;

use scopegate_core::{PathError, Requirement, RouteMatch, ScopeMode};

use super::*;

fn quickstart_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/policy.toml")
}

fn shopping() -> ScopeRules {
    ScopeRules::from_policy_file(quickstart_path(), "ShoppingCartAPI").unwrap()
}

fn required(table: &RouteTable, method: &str, path: &str) -> Option<Vec<String>> {
    match table.lookup(method, path).unwrap() {
        RouteMatch::Matched(Requirement { scopes, .. }) => Some(scopes),
        _ => None,
    }
}

const REQUESTS: &[(&str, &str)] = &[
    ("GET", "/orders"),
    ("POST", "/orders"),
    ("HEAD", "/orders"),
    ("DELETE", "/orders"),
    ("GET", "/items"),
    ("POST", "/items"),
    ("PUT", "/items"),
    ("GET", "/"),
    ("GET", "/orders/1"),
    ("GET", "/shopping/1.0.0/orders"),
    ("GET", "/orders/?page=2"),
    ("GET", "//items"),
];

#[test]
fn from_api_decides_like_the_same_rules_declared_in_code() {
    let declared = ScopeRules::new()
        .named("ShoppingCartAPI")
        .route(Method::Get, "/orders", ["order_view"])
        .route(Method::Post, "/orders", ["order_add"])
        .route(Method::Get, "/items", ["item_view"])
        .route(Method::Post, "/items", ["item_add"]);
    let loaded = shopping();
    assert_eq!(loaded.api().resources, declared.api().resources);

    let (loaded, declared) = (loaded.compile().unwrap(), declared.compile().unwrap());
    for (method, path) in REQUESTS {
        assert_eq!(
            loaded.lookup(method, path),
            declared.lookup(method, path),
            "{method} {path}"
        );
    }
    assert_eq!(required(&loaded, "POST", "/orders").unwrap(), ["order_add"]);
    assert_eq!(
        required(&loaded, "GET", "/orders/?page=2").unwrap(),
        ["order_view"]
    );
    assert_eq!(required(&loaded, "GET", "//items").unwrap(), ["item_view"]);
    assert_eq!(
        loaded.lookup("DELETE", "/orders"),
        Ok(RouteMatch::NoResource {
            api: "ShoppingCartAPI".into()
        })
    );
    // Root-mounted: the full gateway path is not a route of the service.
    assert_eq!(required(&loaded, "GET", "/shopping/1.0.0/orders"), None);
}

#[test]
fn head_falls_back_to_get_and_root_lists_cover_other_verbs() {
    let table = ScopeRules::new()
        .route(Method::Get, "/orders", ["order_view"])
        .any_method("/admin", ["admin"])
        .route(Method::Get, "/admin", ["audit"])
        .route(Method::Get, "/health", Vec::<String>::new())
        .compile()
        .unwrap();
    assert_eq!(required(&table, "HEAD", "/orders").unwrap(), ["order_view"]);
    assert_eq!(required(&table, "GET", "/admin").unwrap(), ["audit"]);
    assert_eq!(required(&table, "DELETE", "/admin").unwrap(), ["admin"]);
    assert_eq!(
        required(&table, "GET", "/health").unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(required(&table, "POST", "/orders"), None);
}

#[test]
fn templates_match_parameters_and_rests() {
    let table = ScopeRules::new()
        .route(
            Method::Get,
            "/users/{user_id}/challenges",
            ["challenge_view"],
        )
        .route(Method::Get, "/users/me/challenges", ["self"])
        .route(Method::Get, "/files/*", ["files"])
        .route(Method::Get, "/", ["home"])
        .compile()
        .unwrap();
    assert_eq!(
        required(&table, "GET", "/users/42/challenges").unwrap(),
        ["challenge_view"]
    );
    assert_eq!(
        required(&table, "GET", "/users/me/challenges").unwrap(),
        ["self"]
    );
    assert_eq!(required(&table, "GET", "/users/42"), None);
    for path in ["/files", "/files/a", "/files/a/b.txt"] {
        assert_eq!(required(&table, "GET", path).unwrap(), ["files"], "{path}");
    }
    assert_eq!(required(&table, "GET", "/").unwrap(), ["home"]);
    assert_eq!(required(&table, "GET", "/%66iles/x").unwrap(), ["files"]);
}

#[test]
fn paths_without_a_canonical_form_are_refused() {
    let table = shopping().compile().unwrap();
    for (path, error) in [
        ("/orders/../items", PathError::DotSegment),
        ("/items/%2e%2e/orders", PathError::DotSegment),
        ("/orders%2Fx", PathError::EncodedSlash),
        ("/orders%5cx", PathError::EncodedSlash),
        ("/orders;jsessionid=1", PathError::PathParameter),
        ("/orders%00", PathError::ControlCharacter),
        ("/orders%zz", PathError::BadPercentEncoding),
        ("orders", PathError::NotAbsolute),
    ] {
        assert_eq!(table.lookup("GET", path), Err(error), "{path}");
    }
}

#[test]
fn all_of_mode_and_global_scopes_come_from_the_api() {
    let api = Api {
        scopes: vec!["shop_admin".into()],
        ..shopping().api().clone()
    };
    let rules = ScopeRules::from_api(&api).resource(Resource {
        path: "/reports".into(),
        scopes: vec!["report_view".into(), "finance".into()],
        methods: Default::default(),
        mode: ScopeMode::AllOf,
    });
    let table = rules.compile().unwrap();
    assert_eq!(
        required(&table, "POST", "/orders").unwrap(),
        ["order_add", "shop_admin"]
    );
    let RouteMatch::Matched(report) = table.lookup("GET", "/reports").unwrap() else {
        panic!("/reports matches");
    };
    assert_eq!(report.mode, ScopeMode::AllOf);
    assert_eq!(report.scopes, ["report_view", "finance", "shop_admin"]);
}

#[test]
fn prefix_and_api_context_mounts() {
    let prefixed = shopping()
        .mount(Mount::Prefix("/api/".into()))
        .compile()
        .unwrap();
    assert_eq!(
        required(&prefixed, "GET", "/api/orders").unwrap(),
        ["order_view"]
    );
    assert_eq!(prefixed.lookup("GET", "/orders"), Ok(RouteMatch::NoApi));

    let slash = shopping()
        .mount(Mount::Prefix("/".into()))
        .compile()
        .unwrap();
    assert_eq!(required(&slash, "GET", "/orders").unwrap(), ["order_view"]);

    let gateway = shopping().mount(Mount::ApiContext).compile().unwrap();
    for path in ["/shopping/1.0.0/orders", "/shopping/orders"] {
        assert_eq!(
            required(&gateway, "GET", path).unwrap(),
            ["order_view"],
            "{path}"
        );
    }
    assert_eq!(gateway.lookup("GET", "/orders"), Ok(RouteMatch::NoApi));

    let err = ScopeRules::new()
        .route(Method::Get, "/x", ["a"])
        .mount(Mount::ApiContext)
        .compile()
        .unwrap_err();
    assert!(err.to_string().contains("Mount::ApiContext"), "{err}");
}

#[test]
fn bad_rules_are_refused_at_compile_time_naming_the_template() {
    for (rules, needle) in [
        (
            ScopeRules::new().route(Method::Get, "orders", ["a"]),
            "must start with '/'",
        ),
        (
            ScopeRules::new().route(Method::Get, "/a/../b", ["a"]),
            "'..'",
        ),
        (
            ScopeRules::new().route(Method::Get, "/a/{x}", ["a"]).route(
                Method::Get,
                "/a/{y}",
                ["b"],
            ),
            "overlaps",
        ),
        (
            ScopeRules::new().route(Method::Get, "/a", ["not a scope"]),
            "not a scope",
        ),
    ] {
        let err = rules.compile().unwrap_err();
        assert!(matches!(err, EdgeError::InvalidRules(_)), "{err}");
        assert!(err.to_string().contains(needle), "{err} lacks {needle:?}");
    }
}

#[test]
fn policy_file_errors_say_what_and_where() {
    let err = ScopeRules::from_policy_file(quickstart_path(), "NoSuchAPI").unwrap_err();
    assert!(matches!(err, EdgeError::UnknownApi { .. }));
    let message = err.to_string();
    assert!(
        message.contains("ShoppingCartAPI") && message.contains("NewsAPI"),
        "{message}"
    );

    let missing = ScopeRules::from_policy_file("/nonexistent/policy.toml", "A").unwrap_err();
    assert!(matches!(missing, EdgeError::ReadPolicy { .. }), "{missing}");

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[[apis]]\nname = 1\n").unwrap();
    let err = ScopeRules::from_policy_file(&broken, "A").unwrap_err();
    assert!(matches!(err, EdgeError::ParsePolicy { .. }), "{err}");

    let invalid = dir.path().join("invalid.toml");
    std::fs::write(
        &invalid,
        "[[apis]]\nname = \"A\"\ncontext = \"/a\"\n[[apis.resources]]\npath = \"/x\"\n\
         methods = { GET = [\"undefined_scope\"] }\n",
    )
    .unwrap();
    let err = ScopeRules::from_policy_file(&invalid, "A").unwrap_err();
    assert!(matches!(err, EdgeError::InvalidPolicy { .. }), "{err}");
    assert!(err.to_string().contains("undefined_scope"), "{err}");
}

#[test]
fn unknown_routes_are_denied_unless_configured() {
    assert_eq!(
        shopping().compile().unwrap().unknown_route(),
        UnknownRoute::Deny
    );
    let open = shopping()
        .on_unknown_route(UnknownRoute::Allow)
        .compile()
        .unwrap();
    assert_eq!(open.unknown_route(), UnknownRoute::Allow);
}
