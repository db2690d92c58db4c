//! The seed scenarios with the quickstart policy as shipped (real argon2 hashes).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use scopegate_core::EmptyGrant;

use super::*;

#[actix::test]
async fn seed_users_get_the_scopes_their_roles_permit() {
    let h = Harness::start(quickstart(), IssuerConfig::default());
    let cases = [
        (
            "alex",
            "item_view+item_add+order_view",
            "item_view item_add order_view",
        ),
        ("chris", "news_read+news_write", "news_read"),
        (
            "harry",
            "SYSTEM",
            "item_add item_view news_write order_add order_view",
        ),
        (
            "paul",
            "order_add+item_add+some_random_scope",
            "order_add some_random_scope",
        ),
        ("rick", "order_view+order_add", "order_view"),
        (
            "bob",
            "internal_identity_mgt_view+device_tv+openid",
            "internal_identity_mgt_view device_tv openid",
        ),
        (
            "admin",
            "internal_identity_mgt_view+item_view",
            "internal_identity_mgt_view",
        ),
    ];
    for (user, requested, granted) in cases {
        let response = h.token(&password_body(user, requested)).await.unwrap();
        assert_eq!(response.scope, granted, "{user}");
        assert_eq!(response.token_type, "Bearer");
        assert_eq!(response.expires_in, 3600);
        assert!(response.refresh_token.is_some(), "shopping-app may refresh");
        let claims = h.verify(&response.access_token);
        assert_eq!(claims.scope, granted);
        assert_eq!(claims.sub, user);
        assert_eq!(claims.username.as_deref(), Some(user));
        assert_eq!(claims.client_id, "shopping-app");
        assert_eq!(claims.iss, "http://127.0.0.1:8080");
        assert!(claims.aud.contains("scopegate"));
        assert_eq!((claims.iat, claims.nbf, claims.exp), (T0, T0, T0 + 3600));
        assert_eq!(claims.jti.len(), 22, "128-bit base64url jti");
    }
    // The client secret was verified once; every later request hit the cache.
    assert_eq!(h.service.hash_verifications(), 1 + cases.len() as u64);
}

#[actix::test]
async fn client_credentials_use_the_clients_own_roles() {
    let h = Harness::start(quickstart(), IssuerConfig::default());
    let response = h
        .token(&cc_body(
            "inventory-service",
            "inventory-secret",
            "item_view+item_add+order_add+order_view+news_read",
        ))
        .await
        .unwrap();
    assert_eq!(response.scope, "item_view order_add order_view");
    assert_eq!(response.refresh_token, None);
    let claims = h.verify(&response.access_token);
    assert_eq!(claims.sub, "inventory-service");
    assert_eq!(claims.client_id, "inventory-service");
    assert_eq!(claims.username, None);

    // shopping-app holds no roles: nothing is granted, so the token carries `default`.
    let response = h
        .token(&cc_body("shopping-app", "shopping-secret", "item_view"))
        .await
        .unwrap();
    assert_eq!(response.scope, "default");
    assert_eq!(h.verify(&response.access_token).scope, "default");
}

#[actix::test]
async fn nothing_granted_is_invalid_scope_when_configured() {
    let config = IssuerConfig {
        empty_grant: EmptyGrant::InvalidScope,
        ..IssuerConfig::default()
    };
    let h = Harness::start(quickstart(), config);
    let err = h
        .token(&cc_body("shopping-app", "shopping-secret", "item_view"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_scope");
}

#[actix::test]
async fn http_basic_authentication_works_end_to_end() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    let header = format!(
        "Basic {}",
        STANDARD.encode("inventory-service:inventory-secret")
    );
    let request = TokenRequest::parse(
        b"grant_type=client_credentials&scope=order_add",
        Some(&header),
    )
    .unwrap();
    let response = h.service.token(request).await.unwrap();
    assert_eq!(response.scope, "order_add");
}

#[actix::test]
async fn bad_credentials_are_refused_with_the_right_code() {
    let mut doc = cheap_quickstart();
    doc.users
        .iter_mut()
        .find(|u| u.username == "rick")
        .unwrap()
        .enabled = false;
    doc.clients
        .iter_mut()
        .find(|c| c.client_id == "other-app")
        .unwrap()
        .enabled = false;
    let h = Harness::start(doc, IssuerConfig::default());

    let cases = [
        (cc_body("shopping-app", "Wr0ngSecret", ""), "invalid_client"),
        (cc_body("nobody", "shopping-secret", ""), "invalid_client"),
        (cc_body("other-app", "other-secret", ""), "invalid_client"),
        (
            password_body("alex", "").replace("alex123", "Wr0ngSecret"),
            "invalid_grant",
        ),
        (password_body("nobody", ""), "invalid_grant"),
        (password_body("rick", ""), "invalid_grant"),
        (
            "grant_type=password&username=paul&password=paul123\
             &client_id=inventory-service&client_secret=inventory-secret"
                .to_owned(),
            "unauthorized_client",
        ),
    ];
    for (body, code) in cases {
        let err = h.token(&body).await.unwrap_err();
        assert_eq!(err.code(), code, "{body}");
        assert!(!err.description().contains("Wr0ngSecret"));
    }
    // Every client check but the cached shopping-app ones ran argon2, and the unknown client
    // and the unknown user each cost one (dummy) verification too: no timing shortcut.
    assert_eq!(h.service.hash_verifications(), 8);
}
