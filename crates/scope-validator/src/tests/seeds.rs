//! The seed scenarios on the quickstart policy, the path outcomes (unmatched API, unmatched
//! resource, bad paths), and what an allow carries.

use super::*;
use crate::UnmatchedPath;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[track_caller]
fn assert_insufficient(decision: Decision, required: &[&str], granted: &[&str], api: &str) {
    let deny = denied(decision);
    assert_eq!(
        (deny.status, deny.error),
        (403, "insufficient_scope"),
        "{deny:?}"
    );
    assert_eq!(deny.required, strings(required));
    assert_eq!(deny.granted, strings(granted));
    assert_eq!(deny.api.as_deref(), Some(api));
    assert_eq!(deny.reason.as_str(), "insufficient_scope");
    for scope in required {
        assert!(deny.description.contains(scope), "{:?}", deny.description);
    }
}

#[actix::test]
async fn alex_may_view_orders_but_not_place_them() {
    let h = Harness::start();
    let alex = h.token("alex", "item_view item_add order_view");
    assert_insufficient(
        h.decide(&alex, "POST", "/shopping/1.0.0/orders"),
        &["order_add"],
        &["item_view", "item_add", "order_view"],
        "ShoppingCartAPI",
    );
    let api = allowed(h.decide(&alex, "GET", "/shopping/1.0.0/orders"));
    assert_eq!(api.as_deref(), Some("ShoppingCartAPI"));
    allowed(h.decide(&alex, "POST", "/shopping/1.0.0/items"));
}

#[actix::test]
async fn paul_places_orders_also_through_the_default_version() {
    let h = Harness::start();
    let paul = h.token("paul", "order_add");
    let api = allowed(h.decide(&paul, "POST", "/shopping/1.0.0/orders"));
    assert_eq!(api.as_deref(), Some("ShoppingCartAPI"));
    allowed(h.decide(&paul, "POST", "/shopping/orders"));
    allowed(h.decide(&paul, "POST", "/shopping/1.0.0/orders?page=2"));
}

#[actix::test]
async fn rick_cannot_view_items() {
    let h = Harness::start();
    let rick = h.token("rick", "order_view");
    assert_insufficient(
        h.decide(&rick, "GET", "/shopping/1.0.0/items"),
        &["item_view"],
        &["order_view"],
        "ShoppingCartAPI",
    );
    allowed(h.decide(&rick, "GET", "/shopping/1.0.0/orders"));
}

#[actix::test]
async fn harrys_item_view_token_cannot_add_items_but_his_other_token_can_order() {
    let h = Harness::start();
    let view_only = h.token("harry", "item_view");
    assert_insufficient(
        h.decide(&view_only, "POST", "/shopping/1.0.0/items"),
        &["item_add"],
        &["item_view"],
        "ShoppingCartAPI",
    );
    allowed(h.decide(&view_only, "GET", "/shopping/1.0.0/items"));
    let ordering = h.token("harry", "order_add");
    allowed(h.decide(&ordering, "POST", "/shopping/1.0.0/orders"));
}

#[actix::test]
async fn chris_reads_news_but_cannot_write_it() {
    let h = Harness::start();
    let chris = h.token("chris", "news_read");
    assert_insufficient(
        h.decide(&chris, "POST", "/news/"),
        &["news_write"],
        &["news_read"],
        "NewsAPI",
    );
    let api = allowed(h.decide(&chris, "GET", "/news/"));
    assert_eq!(api.as_deref(), Some("NewsAPI"));
}

#[actix::test]
async fn bob_reads_challenges_of_any_user() {
    let h = Harness::start();
    let bob = h.token("bob", "internal_identity_mgt_view");
    let api = allowed(h.decide(&bob, "GET", "/api/users/v1/42/challenges"));
    assert_eq!(api.as_deref(), Some("ChallengeAPI"));
    allowed(h.decide(&bob, "GET", "/api/users/v1/alex/challenges"));
    // A token without the scope is refused on the same path.
    let alex = h.token("alex", "item_view");
    assert_insufficient(
        h.decide(&alex, "GET", "/api/users/v1/42/challenges"),
        &["internal_identity_mgt_view"],
        &["item_view"],
        "ChallengeAPI",
    );
}

#[actix::test]
async fn an_allow_carries_the_principal() {
    let h = Harness::start();
    let claims = h.claims("bob", "internal_identity_mgt_view openid");
    let token = h.key.sign(&claims).unwrap();
    let Decision::Allow { principal, api } = h.decide(&token, "GET", "/api/users/v1/7/challenges")
    else {
        panic!("expected an allow");
    };
    assert_eq!(api.as_deref(), Some("ChallengeAPI"));
    assert_eq!(principal.subject, "bob");
    assert_eq!(principal.client_id, "shopping-app");
    assert_eq!(principal.username.as_deref(), Some("bob"));
    assert_eq!(principal.scopes, ["internal_identity_mgt_view", "openid"]);
    assert_eq!(*principal.claims, claims);
    // authenticate() gives the same principal without looking at a path.
    assert_eq!(h.validator.authenticate(&token, T0), Ok(principal));
}

#[actix::test]
async fn a_path_no_api_claims_is_denied_by_default() {
    let h = Harness::start();
    let token = h.token("alex", "item_view");
    for path in ["/", "/admin", "/shoppingcart/orders", "/newsroom"] {
        let deny = denied(h.decide(&token, "GET", path));
        assert_eq!((deny.status, deny.error), (403, "access_denied"), "{path}");
        assert_eq!(deny.description, "no API is registered for this path");
        assert_eq!((deny.api, deny.granted), (None, strings(&["item_view"])));
    }
}

#[actix::test]
async fn unmatched_path_allow_admits_valid_tokens_only() {
    let h = Harness::with(ValidatorSettings {
        unmatched_path: UnmatchedPath::Allow,
        ..ValidatorSettings::default()
    });
    let token = h.token("alex", "item_view");
    assert_eq!(allowed(h.decide(&token, "GET", "/admin")), None);
    // Registered APIs keep their rules.
    assert_insufficient(
        h.decide(&token, "POST", "/shopping/1.0.0/orders"),
        &["order_add"],
        &["item_view"],
        "ShoppingCartAPI",
    );
    // And a token is still required, and checked.
    assert_invalid_token(
        h.validator.decide(None, "GET", "/admin", T0),
        "no access token",
    );
    assert_invalid_token(h.decide("garbage", "GET", "/admin"), "malformed");
}

#[actix::test]
async fn a_resource_the_api_lacks_is_denied_naming_the_api() {
    let h = Harness::start();
    let token = h.token("paul", "order_add order_view item_view");
    for (method, path, api) in [
        ("GET", "/shopping/1.0.0/payments", "ShoppingCartAPI"),
        ("GET", "/shopping/2.0.0/orders", "ShoppingCartAPI"),
        ("DELETE", "/shopping/1.0.0/orders", "ShoppingCartAPI"),
        ("POST", "/api/users/v1/42/challenges", "ChallengeAPI"),
    ] {
        let deny = denied(h.decide(&token, method, path));
        assert_eq!(
            (deny.status, deny.error),
            (403, "access_denied"),
            "{method} {path}"
        );
        assert_eq!(deny.api.as_deref(), Some(api));
        assert_eq!(deny.reason.as_str(), "no_resource");
        assert!(deny.description.contains(api), "{:?}", deny.description);
    }
}

#[actix::test]
async fn bad_paths_are_invalid_requests_after_the_token_check() {
    let h = Harness::start();
    let token = h.token("paul", "order_add");
    for (path, says) in [
        ("/shopping/1.0.0/../admin", "'..'"),
        ("/shopping/1.0.0/%2e%2e/orders", "'..'"),
        ("/shopping/1.0.0%2Forders", "encoded '/'"),
        ("/shopping/1.0.0/orders;jsessionid=1", "';'"),
        ("/shopping/%zz", "hex"),
        ("shopping/1.0.0/orders", "start with '/'"),
    ] {
        let deny = denied(h.decide(&token, "POST", path));
        assert_eq!(
            (deny.status, deny.error),
            (400, "invalid_request"),
            "{path}"
        );
        assert!(
            deny.description.contains(says),
            "{path}: {:?}",
            deny.description
        );
        assert_eq!(deny.granted, strings(&["order_add"]));
        assert_eq!(deny.reason.as_str(), "invalid_path");
        // Without a valid token the answer is 401 whatever the path.
        assert_invalid_token(
            h.validator.decide(None, "POST", path, T0),
            "no access token",
        );
        assert_invalid_token(h.decide("a.b.c", "POST", path), "malformed");
    }
}

#[actix::test]
async fn a_deny_serializes_for_the_response_body() {
    let h = Harness::start();
    let token = h.token("alex", "order_view");
    let deny = denied(h.decide(&token, "POST", "/shopping/1.0.0/orders"));
    let json = serde_json::to_value(&deny).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "status": 403,
            "error": "insufficient_scope",
            "description": deny.description,
            "required": ["order_add"],
            "granted": ["order_view"],
            "api": "ShoppingCartAPI",
        })
    );
}
