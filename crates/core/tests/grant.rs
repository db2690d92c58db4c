//! The seed scenarios (WSO2 documents) and properties of scope granting, against the quickstart
//! policy that `examples/quickstart/` ships.

use scopegate_core::grant::{DEFAULT_SCOPE, narrow};
use scopegate_core::{
    EmptyGrant, GrantError, Policy, PolicyDocument, PolicyError, PolicyEvent, Role, Scope,
    ScopeRequest, grant_scopes,
};

const QUICKSTART: &str = include_str!("../../../examples/quickstart/policy.toml");

fn quickstart() -> Policy {
    let doc: PolicyDocument = toml::from_str(QUICKSTART).expect("quickstart policy parses");
    Policy::from_document(1, doc).expect("quickstart policy is valid")
}

fn roles_of(policy: &Policy, user: &str) -> Vec<String> {
    policy.user(user).expect("user exists").roles.clone()
}

fn grant(policy: &Policy, user: &str, scope: &str) -> Vec<String> {
    let req = ScopeRequest::parse(scope).expect("valid scope parameter");
    grant_scopes(policy, &roles_of(policy, user), &req, EmptyGrant::Default).expect("grant")
}

#[test]
fn alex_gets_his_three_scopes_in_one_token() {
    let p = quickstart();
    assert_eq!(
        grant(&p, "alex", "item_view item_add order_view"),
        ["item_view", "item_add", "order_view"]
    );
    // order_add is the agent's: dropped silently.
    assert_eq!(grant(&p, "alex", "order_add order_view"), ["order_view"]);
}

#[test]
fn the_scope_role_table_of_shopping_cart_api() {
    let p = quickstart();
    let table = [
        ("item_view", &["alex", "paul", "harry"][..], &["rick"][..]),
        ("item_add", &["alex", "harry"][..], &["paul", "rick"][..]),
        (
            "order_view",
            &["alex", "paul", "rick", "harry"][..],
            &[][..],
        ),
        ("order_add", &["paul", "harry"][..], &["alex", "rick"][..]),
    ];
    for (scope, allowed, refused) in table {
        for user in allowed {
            assert_eq!(grant(&p, user, scope), [scope], "{user} should get {scope}");
        }
        for user in refused {
            assert_eq!(
                grant(&p, user, scope),
                [DEFAULT_SCOPE],
                "{user} must not get {scope}"
            );
        }
    }
}

#[test]
fn harry_can_keep_one_token_per_scope() {
    let p = quickstart();
    for scope in ["item_view", "item_add", "order_view", "order_add"] {
        assert_eq!(grant(&p, "harry", scope), [scope]);
    }
}

#[test]
fn chris_is_narrowed_to_news_read_and_alex_gets_both() {
    let p = quickstart();
    assert_eq!(grant(&p, "chris", "news_read news_write"), ["news_read"]);
    assert_eq!(
        grant(&p, "alex", "news_read news_write"),
        ["news_read", "news_write"]
    );
}

#[test]
fn bob_gets_the_identity_scope_through_a_permission_above_it() {
    let p = quickstart();
    assert_eq!(
        grant(&p, "bob", "internal_identity_mgt_view"),
        ["internal_identity_mgt_view"]
    );
    // admin holds /permission/admin, which covers it too; alex holds no permission.
    assert_eq!(
        grant(&p, "admin", "internal_identity_mgt_view"),
        ["internal_identity_mgt_view"]
    );
    assert_eq!(
        grant(&p, "alex", "internal_identity_mgt_view"),
        [DEFAULT_SCOPE]
    );
}

#[test]
fn permission_coverage_is_by_whole_segments() {
    let mut doc: PolicyDocument = toml::from_str(QUICKSTART).expect("parses");
    doc.roles.push(Role {
        name: "prefix-only".into(),
        permissions: vec!["/permission/admin/man".into()],
        description: String::new(),
    });
    doc.scopes.push(Scope {
        key: "manage".into(),
        name: String::new(),
        description: String::new(),
        roles: vec![],
        permission: Some("/permission/admin/manage".into()),
    });
    let p = Policy::from_document(1, doc).expect("valid");
    let req = ScopeRequest::parse("manage internal_identity_mgt_view").expect("parses");
    let granted = grant_scopes(&p, &["prefix-only".into()], &req, EmptyGrant::Default).expect("ok");
    assert_eq!(granted, [DEFAULT_SCOPE]);
    let granted = grant_scopes(&p, &["admin".into()], &req, EmptyGrant::Default).expect("ok");
    assert_eq!(granted, ["manage", "internal_identity_mgt_view"]);
}

#[test]
fn system_grants_every_permitted_scope() {
    let p = quickstart();
    let mut harry = grant(&p, "harry", "SYSTEM");
    harry.sort();
    assert_eq!(
        harry,
        [
            "item_add",
            "item_view",
            "news_write",
            "order_add",
            "order_view"
        ]
    );
    assert_eq!(grant(&p, "bob", "SYSTEM"), ["internal_identity_mgt_view"]);
    // SYSTEM plus an allowlisted scope: both kinds granted, nothing twice.
    let mut paul = grant(&p, "paul", "openid SYSTEM order_add");
    paul.sort();
    assert_eq!(paul, ["item_view", "openid", "order_add", "order_view"]);
}

#[test]
fn allowlisted_scopes_skip_role_validation_and_match_whole_scopes() {
    let p = quickstart();
    assert_eq!(
        grant(&p, "rick", "some_random_scope"),
        ["some_random_scope"]
    );
    assert_eq!(
        grant(&p, "rick", "device_42 openid"),
        ["device_42", "openid"]
    );
    // Patterns match the whole scope: "openid" does not allow "openid_admin" or "xopenid".
    assert_eq!(
        grant(&p, "rick", "openid_admin xopenid my_device_1"),
        [DEFAULT_SCOPE]
    );
}

#[test]
fn role_names_are_case_sensitive() {
    let p = quickstart();
    let req = ScopeRequest::parse("item_add").expect("parses");
    let granted = grant_scopes(&p, &["Manager".into()], &req, EmptyGrant::Default).expect("ok");
    assert_eq!(granted, [DEFAULT_SCOPE]);
}

#[test]
fn nothing_granted_is_default_or_invalid_scope_as_configured() {
    let p = quickstart();
    let req = ScopeRequest::parse("order_add").expect("parses");
    let rick = roles_of(&p, "rick");
    assert_eq!(
        grant_scopes(&p, &rick, &req, EmptyGrant::Default).expect("ok"),
        [DEFAULT_SCOPE]
    );
    assert_eq!(
        grant_scopes(&p, &rick, &req, EmptyGrant::InvalidScope),
        Err(GrantError::NothingGranted)
    );
    // No scope requested at all behaves the same way.
    assert_eq!(
        grant_scopes(&p, &rick, &ScopeRequest::default(), EmptyGrant::Default).expect("ok"),
        [DEFAULT_SCOPE]
    );
}

#[test]
fn open_scopes_are_granted_to_everyone() {
    let p = quickstart()
        .apply(&PolicyEvent::PutScope(Scope {
            key: "profile".into(),
            name: "Profile".into(),
            description: String::new(),
            roles: vec![],
            permission: None,
        }))
        .expect("valid");
    assert_eq!(grant(&p, "rick", "profile"), ["profile"]);
    assert_eq!(p.version(), 2);
}

#[test]
fn events_change_what_is_granted() {
    let p = quickstart();
    let p2 = p
        .apply(&PolicyEvent::SetUserRoles {
            username: "rick".into(),
            roles: vec!["customer".into(), "agent".into()],
        })
        .expect("valid");
    assert_eq!(grant(&p2, "rick", "order_add"), ["order_add"]);
    // The old snapshot is untouched.
    assert_eq!(grant(&p, "rick", "order_add"), [DEFAULT_SCOPE]);
}

#[test]
fn inconsistent_events_are_refused_with_the_problem() {
    let p = quickstart();
    let err = p
        .apply(&PolicyEvent::DeleteRole {
            name: "agent".into(),
        })
        .expect_err("agent is still in use");
    let PolicyError::Invalid(problems) = err else {
        panic!("expected Invalid")
    };
    assert!(
        problems
            .iter()
            .any(|pr| pr.message.contains("\"agent\" is not defined"))
    );
    let err = p
        .apply(&PolicyEvent::DeleteUser {
            username: "nobody".into(),
        })
        .expect_err("no such user");
    assert!(matches!(err, PolicyError::NotFound { kind: "user", .. }));
    let err = p
        .apply(&PolicyEvent::SetUserRoles {
            username: "rick".into(),
            roles: vec!["Agent".into()],
        })
        .expect_err("case matters");
    assert!(err.to_string().contains("did you mean \"agent\""), "{err}");
}

#[test]
fn the_document_round_trips_through_the_policy() {
    let mut doc: PolicyDocument = toml::from_str(QUICKSTART).expect("parses");
    let p = Policy::from_document(7, doc.clone()).expect("valid");
    doc.normalize();
    assert_eq!(p.to_document(), doc);
    let again = Policy::from_document(7, p.to_document()).expect("valid");
    assert_eq!(again.to_document(), doc);
    // Events serialize and deserialize unchanged (they travel through storage and pub/sub).
    let event = PolicyEvent::ReplaceAll(doc);
    let json = serde_json::to_string(&event).expect("serializes");
    assert_eq!(
        serde_json::from_str::<PolicyEvent>(&json).expect("parses"),
        event
    );
}

#[test]
fn validation_reports_every_problem_with_its_place() {
    let bad = r#"
allowlist = ["("]
[[roles]]
name = "a"
permissions = ["no-slash"]
[[roles]]
name = "a"
[[scopes]]
key = "has space"
roles = ["b"]
[[scopes]]
key = "SYSTEM"
[[users]]
username = "u"
password_hash = "plain"
[[clients]]
client_id = "c:1"
secret_hash = "$argon2id$x"
grant_types = []
[[apis]]
name = "x"
context = "shop/"
scopes = ["missing"]
[[apis.resources]]
path = "/a/../b"
"#;
    let doc: PolicyDocument = toml::from_str(bad).expect("parses");
    let problems = doc.validate();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let expect = [
        "allowlist[0]: invalid regex",
        "roles[0] \"a\".permissions[0]",
        "duplicate role \"a\"",
        "scopes[0] \"has space\".key",
        "scopes[0] \"has space\".roles[0]: role \"b\" is not defined",
        "scopes[1] \"SYSTEM\".key",
        "users[0] \"u\".password_hash",
        "clients[0] \"c:1\".client_id",
        "clients[0] \"c:1\".grant_types",
        "apis[0] \"x\".context",
        "apis[0] \"x\".scopes[0]: scope \"missing\" is not defined",
        "apis[0] \"x\".resources[0] \"/a/../b\".path",
    ];
    for e in expect {
        assert!(
            text.iter().any(|t| t.contains(e)),
            "missing {e:?} in {text:#?}"
        );
    }
}

#[test]
fn refresh_narrowing_never_widens() {
    let original = vec!["item_view".to_owned(), "order_view".to_owned()];
    let req = ScopeRequest::parse("order_view").expect("parses");
    assert_eq!(narrow(&original, &req).expect("ok"), ["order_view"]);
    assert!(narrow(&original, &ScopeRequest::parse("item_add").expect("parses")).is_err());
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    const SCOPES: &[&str] = &[
        "item_view",
        "item_add",
        "order_view",
        "order_add",
        "news_read",
        "news_write",
        "internal_identity_mgt_view",
        "openid",
        "device_7",
        "some_random_scope",
        "unknown",
        "SYSTEM",
        "default",
    ];
    const ROLES: &[&str] = &[
        "manager",
        "agent",
        "customer",
        "employee",
        "identity-admin",
        "admin",
        "Manager",
        "ghost",
    ];

    fn request() -> impl Strategy<Value = Vec<String>> {
        proptest::sample::subsequence(SCOPES, 0..SCOPES.len())
            .prop_map(|v| v.into_iter().map(str::to_owned).collect())
            .prop_shuffle()
    }

    fn roles() -> impl Strategy<Value = Vec<String>> {
        proptest::sample::subsequence(ROLES, 0..ROLES.len())
            .prop_map(|v| v.into_iter().map(str::to_owned).collect())
            .prop_shuffle()
    }

    fn granted(p: &Policy, roles: &[String], req: &[String]) -> BTreeSet<String> {
        let req = ScopeRequest::from_scopes(req.iter().cloned());
        grant_scopes(p, roles, &req, EmptyGrant::Default)
            .expect("default never fails")
            .into_iter()
            .collect()
    }

    proptest! {
        #[test]
        fn granted_is_default_or_within_request_and_permission(req in request(), roles in roles()) {
            let p = quickstart();
            let got = granted(&p, &roles, &req);
            let permitted = p.permitted_scopes(&roles);
            if got == BTreeSet::from([DEFAULT_SCOPE.to_owned()]) {
                return Ok(());
            }
            let system = req.iter().any(|s| s == "SYSTEM");
            for s in &got {
                let requested = req.contains(s);
                let allowed = p.is_allowlisted(s) || permitted.contains(s);
                prop_assert!(allowed, "{s} granted without permission or allowlist");
                prop_assert!(requested || (system && permitted.contains(s)), "{s} was not requested");
            }
        }

        #[test]
        fn order_of_scopes_and_roles_does_not_matter(req in request(), roles in roles()) {
            let p = quickstart();
            let mut req2 = req.clone();
            req2.reverse();
            let mut roles2 = roles.clone();
            roles2.reverse();
            prop_assert_eq!(granted(&p, &roles, &req), granted(&p, &roles2, &req2));
        }

        #[test]
        fn removing_a_role_never_adds_a_scope(req in request(), roles in roles(), drop in 0usize..8) {
            let p = quickstart();
            let full = granted(&p, &roles, &req);
            let mut fewer = roles.clone();
            if !fewer.is_empty() {
                fewer.remove(drop % fewer.len());
            }
            let less = granted(&p, &fewer, &req);
            let default = BTreeSet::from([DEFAULT_SCOPE.to_owned()]);
            prop_assert!(less.is_subset(&full) || less == default, "{less:?} not within {full:?}");
        }
    }
}
