//! Resource matching against the quickstart policy and hand-made APIs; path canonicalization and
//! path noise in `paths`; generated policies against a plain-scan oracle in `routes`.

use scopegate_core::matching::MAX_PATH_LEN;
use scopegate_core::{
    Api, Method, PathError, Policy, PolicyDocument, PolicyError, Requirement, Resource, RouteMatch,
    Scope, ScopeMode, normalize_path, satisfies,
};

const QUICKSTART: &str = include_str!("../../../examples/quickstart/policy.toml");

fn quickstart_doc() -> PolicyDocument {
    toml::from_str(QUICKSTART).expect("quickstart policy parses")
}

fn quickstart() -> Policy {
    Policy::from_document(1, quickstart_doc()).expect("quickstart policy is valid")
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn scope(key: &str) -> Scope {
    Scope {
        key: key.into(),
        name: String::new(),
        description: String::new(),
        roles: vec![],
        permission: None,
    }
}

fn resource(path: &str, root: &[&str], methods: &[(Method, &[&str])]) -> Resource {
    Resource {
        path: path.into(),
        scopes: strings(root),
        methods: methods.iter().map(|(m, l)| (*m, strings(l))).collect(),
        mode: ScopeMode::AnyOf,
    }
}

fn api(name: &str, context: &str, version: Option<&str>, resources: Vec<Resource>) -> Api {
    Api {
        name: name.into(),
        context: context.into(),
        version: version.map(str::to_owned),
        default_version: false,
        scopes: vec![],
        resources,
    }
}

/// The quickstart policy plus `extra` APIs and scopes `a`..`h`.
fn with_apis(extra: Vec<Api>) -> Result<Policy, PolicyError> {
    let mut doc = quickstart_doc();
    doc.scopes
        .extend("abcdefgh".chars().map(|c| scope(&c.to_string())));
    doc.apis.extend(extra);
    Policy::from_document(1, doc)
}

fn matched(p: &Policy, method: &str, path: &str) -> Requirement {
    match p.match_request(method, path) {
        Ok(RouteMatch::Matched(req)) => req,
        other => panic!("{method} {path}: expected a match, got {other:?}"),
    }
}

fn required(p: &Policy, method: &str, path: &str) -> Vec<String> {
    matched(p, method, path).scopes
}

#[test]
fn the_seed_requests_need_their_scopes() {
    let p = quickstart();
    let orders = matched(&p, "POST", "/shopping/1.0.0/orders");
    assert_eq!(orders.api, "ShoppingCartAPI");
    assert_eq!(orders.resource, "/orders");
    assert_eq!(orders.scopes, ["order_add"]);
    assert_eq!(orders.mode, ScopeMode::AnyOf);
    assert_eq!(required(&p, "GET", "/shopping/orders"), ["order_view"]);
    assert_eq!(
        required(&p, "GET", "/shopping/1.0.0/items?x=1#f"),
        ["item_view"]
    );
    assert_eq!(required(&p, "POST", "/shopping/items"), ["item_add"]);
    assert_eq!(required(&p, "POST", "/news/"), ["news_write"]);
    assert_eq!(required(&p, "GET", "/news"), ["news_read"]);
    let challenges = matched(&p, "GET", "/api/users/v1/u-42/challenges");
    assert_eq!(challenges.api, "ChallengeAPI");
    assert_eq!(challenges.resource, "/{user_id}/challenges");
    assert_eq!(challenges.scopes, ["internal_identity_mgt_view"]);
}

#[test]
fn unclaimed_paths_and_unexposed_methods() {
    let p = quickstart();
    let no_resource = |api: &str| Ok(RouteMatch::NoResource { api: api.into() });
    assert_eq!(p.match_request("GET", "/nope"), Ok(RouteMatch::NoApi));
    assert_eq!(p.match_request("GET", "/"), Ok(RouteMatch::NoApi));
    assert_eq!(
        p.match_request("GET", "/shoppingx/orders"),
        Ok(RouteMatch::NoApi)
    );
    let shop = "ShoppingCartAPI";
    assert_eq!(
        p.match_request("GET", "/shopping/1.0.0/unknown"),
        no_resource(shop)
    );
    assert_eq!(
        p.match_request("GET", "/shopping/unknown/deeper"),
        no_resource(shop)
    );
    assert_eq!(p.match_request("GET", "/shopping/1.0.0"), no_resource(shop));
    assert_eq!(p.match_request("GET", "/news/x"), no_resource("NewsAPI"));
    // Per-verb lists, no root list: other verbs are not exposed. Methods are case sensitive.
    assert_eq!(
        p.match_request("DELETE", "/shopping/1.0.0/orders"),
        no_resource(shop)
    );
    assert_eq!(
        p.match_request("TRACE", "/shopping/orders"),
        no_resource(shop)
    );
    assert_eq!(
        p.match_request("get", "/shopping/orders"),
        no_resource(shop)
    );
    let challenge = "ChallengeAPI";
    assert_eq!(
        p.match_request("POST", "/api/users/v1/u/challenges"),
        no_resource(challenge)
    );
    assert_eq!(
        p.match_request("GET", "/api/users/v1/u/v/challenges"),
        no_resource(challenge)
    );
}

#[test]
fn head_uses_get_and_root_lists_cover_the_other_verbs() {
    let p = quickstart();
    assert_eq!(required(&p, "HEAD", "/shopping/orders"), ["order_view"]);
    let p = with_apis(vec![api(
        "Mixed",
        "/mixed",
        None,
        vec![
            resource("/root", &["a"], &[(Method::Post, &["b"])]),
            resource(
                "/head",
                &["a"],
                &[(Method::Get, &["b"]), (Method::Head, &["c"])],
            ),
            resource("/open", &[], &[]),
            resource("/explicit-empty", &[], &[(Method::Get, &[])]),
        ],
    )])
    .expect("valid");
    assert_eq!(required(&p, "POST", "/mixed/root"), ["b"]);
    assert_eq!(required(&p, "GET", "/mixed/root"), ["a"]);
    assert_eq!(required(&p, "TRACE", "/mixed/root"), ["a"]);
    assert_eq!(required(&p, "HEAD", "/mixed/head"), ["c"]);
    // No list at all: a valid token suffices, whatever the method.
    assert!(required(&p, "DELETE", "/mixed/open").is_empty());
    assert!(required(&p, "PROPFIND", "/mixed/open").is_empty());
    assert!(required(&p, "GET", "/mixed/explicit-empty").is_empty());
    let refused = p.match_request("POST", "/mixed/explicit-empty");
    assert_eq!(
        refused,
        Ok(RouteMatch::NoResource {
            api: "Mixed".into()
        })
    );
}

#[test]
fn api_global_scopes_are_added_to_every_resource() {
    let mut global = api(
        "Global",
        "/global",
        Some("v2"),
        vec![
            resource("/one", &["a"], &[(Method::Get, &["b", "g"])]),
            resource("/open", &[], &[]),
        ],
    );
    global.scopes = strings(&["g", "h"]);
    global.resources[0].mode = ScopeMode::AllOf;
    let p = with_apis(vec![global]).expect("valid");
    let one = matched(&p, "GET", "/global/v2/one");
    assert_eq!(one.scopes, ["b", "g", "h"]);
    assert!(!satisfies(&one, &["b", "g"]));
    assert!(satisfies(&one, &["h", "g", "b", "x"]));
    let root = matched(&p, "PUT", "/global/v2/one");
    assert_eq!(root.scopes, ["a", "g", "h"]);
    // AnyOf: a global scope alone reaches the resource; the open resource now needs one of them.
    let open = matched(&p, "GET", "/global/v2/open");
    assert_eq!(open.scopes, ["g", "h"]);
    assert!(satisfies(&open, &["h"]));
    assert!(!satisfies(&open, &[]));
}

#[test]
fn satisfies_any_of_all_of_and_empty() {
    let req = |scopes: &[&str], mode| Requirement {
        api: "A".into(),
        resource: "/r".into(),
        scopes: strings(scopes),
        mode,
    };
    let any = req(&["x", "y"], ScopeMode::AnyOf);
    assert!(satisfies(&any, &["y"]));
    assert!(!satisfies(&any, &["z", "X"]));
    assert!(!satisfies(&any, &[]));
    let all = req(&["x", "y"], ScopeMode::AllOf);
    assert!(satisfies(&all, &["y", "z", "x"]));
    assert!(!satisfies(&all, &["x"]));
    assert!(satisfies(&req(&[], ScopeMode::AnyOf), &[]));
    assert!(satisfies(&req(&[], ScopeMode::AllOf), &["x"]));
}

#[test]
fn wildcards_match_any_rest_including_none() {
    let p = with_apis(vec![api(
        "Files",
        "/files",
        None,
        vec![
            resource("/docs/*", &["a"], &[]),
            resource("/docs/readme", &["b"], &[]),
            resource("/docs/{id}/meta", &["c"], &[]),
            resource("/img/*", &["d"], &[]),
            resource("/img", &["e"], &[]),
        ],
    )])
    .expect("valid");
    for path in [
        "/files/docs",
        "/files/docs/",
        "/files/docs/a",
        "/files/docs/a/b/c",
    ] {
        assert_eq!(required(&p, "GET", path), ["a"], "{path}");
    }
    assert_eq!(required(&p, "GET", "/files/docs/readme"), ["b"]);
    assert_eq!(required(&p, "GET", "/files/docs/readme/x"), ["a"]);
    assert_eq!(required(&p, "GET", "/files/docs/x/meta"), ["c"]);
    assert_eq!(required(&p, "GET", "/files/docs/x/meta/y"), ["a"]);
    // An explicit resource takes the wildcard's empty rest.
    assert_eq!(required(&p, "GET", "/files/img/"), ["e"]);
    assert_eq!(required(&p, "GET", "/files/img/x"), ["d"]);
}

#[test]
fn the_most_specific_resource_wins_and_decides_alone() {
    let p = with_apis(vec![api(
        "Nested",
        "/n",
        None,
        vec![
            resource("/u/*", &["f"], &[]),
            resource("/u/{id}", &[], &[(Method::Get, &["g"])]),
            resource("/u/{id}/{x}/z", &["h"], &[]),
        ],
    )])
    .expect("a '*' beside parameters is fine");
    assert_eq!(required(&p, "GET", "/n/u"), ["f"]);
    assert_eq!(required(&p, "GET", "/n/u/1"), ["g"]);
    assert_eq!(required(&p, "GET", "/n/u/1/2"), ["f"]);
    assert_eq!(required(&p, "GET", "/n/u/1/2/z"), ["h"]);
    assert_eq!(required(&p, "GET", "/n/u/1/2/z/9"), ["f"]);
    assert_eq!(required(&p, "GET", "/n/u/1/2/y"), ["f"]);
    // `/u/{id}` claims `/n/u/1` for every method, even those only the `*` would expose.
    let post = p.match_request("POST", "/n/u/1");
    assert_eq!(
        post,
        Ok(RouteMatch::NoResource {
            api: "Nested".into()
        })
    );
}

#[test]
fn policy_literals_are_canonicalized_like_requests() {
    let p = with_apis(vec![api(
        "Odd",
        "/odd%7e/{x}",
        Some("v%31"),
        vec![resource("/caf\u{e9}/a%3Ab/*", &["a"], &[])],
    )])
    .expect("valid");
    let req = matched(&p, "GET", "/odd~/%7Bx%7D/v1/caf%c3%a9/a:b/rest");
    assert_eq!(req.resource, "/caf\u{e9}/a%3Ab/*");
    assert_eq!(required(&p, "GET", "/odd~/{x}/v1/caf\u{e9}/a%3ab"), ["a"]);
    // The template route must not have turned `{x}` in the context into a parameter.
    assert_eq!(
        p.match_request("GET", "/odd~/y/v1/caf%C3%A9/a:b"),
        Ok(RouteMatch::NoApi)
    );
    let err = with_apis(vec![api(
        "Bad",
        "/bad",
        None,
        vec![resource("/a%2Fb", &[], &[])],
    )])
    .expect_err("an encoded slash can never match");
    assert!(err.to_string().contains("can never match"), "{err}");
}

#[test]
fn conflicting_routes_are_policy_problems_naming_both() {
    let a = api("A", "/a", None, vec![resource("/x/{id}", &["a"], &[])]);
    let b = api("B", "/a/x", None, vec![resource("/{other}", &["b"], &[])]);
    let err = with_apis(vec![a.clone(), b]).expect_err("same route twice");
    let text = err.to_string();
    assert!(text.contains("\"A\"") && text.contains("\"B\""), "{text}");
    assert!(
        text.contains("/x/{id}") && text.contains("/{other}"),
        "{text}"
    );
    let c = api("C", "/c", None, vec![resource("/x/*", &[], &[])]);
    let d = api("D", "/c/x", None, vec![resource("/*", &[], &[])]);
    let text = with_apis(vec![c, d])
        .expect_err("the same '*' twice")
        .to_string();
    assert!(
        text.contains("\"/x/*\"") && text.contains("\"/*\""),
        "{text}"
    );
    let d = api(
        "D",
        "/d",
        None,
        vec![resource("/o", &[], &[]), resource("/o/", &[], &[])],
    );
    assert!(
        with_apis(vec![d]).is_err(),
        "a trailing slash does not make another resource"
    );
    // Different parameter names in the same place are one shape, not a conflict.
    let e = api(
        "E",
        "/e",
        None,
        vec![resource("/{x}/a", &[], &[]), resource("/{y}/b", &[], &[])],
    );
    let p = with_apis(vec![a, e]).expect("compatible shapes");
    assert_eq!(matched(&p, "GET", "/e/1/b").resource, "/{y}/b");
    assert_eq!(matched(&p, "GET", "/a/x/1").resource, "/x/{id}");
}

#[test]
fn routes_follow_policy_events() {
    let p = quickstart();
    let mut shop = p
        .to_document()
        .apis
        .into_iter()
        .find(|a| a.name == "ShoppingCartAPI");
    let shop = shop.as_mut().expect("exists");
    shop.resources.push(resource(
        "/carts/{id}",
        &[],
        &[(Method::Get, &["item_view"])],
    ));
    let p2 = p
        .apply(&scopegate_core::PolicyEvent::PutApi(shop.clone()))
        .expect("valid");
    assert_eq!(required(&p2, "GET", "/shopping/carts/9"), ["item_view"]);
    let unknown = p.match_request("GET", "/shopping/carts/9");
    assert_eq!(
        unknown,
        Ok(RouteMatch::NoResource {
            api: "ShoppingCartAPI".into()
        })
    );
    let p3 = p2
        .apply(&scopegate_core::PolicyEvent::DeleteApi {
            name: "ShoppingCartAPI".into(),
        })
        .expect("valid");
    assert_eq!(
        p3.match_request("GET", "/shopping/carts/9"),
        Ok(RouteMatch::NoApi)
    );
}

#[path = "matching/paths.rs"]
mod paths;
#[path = "matching/routes.rs"]
mod routes;
