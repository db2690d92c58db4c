//! Refresh-token rotation, reuse detection, family revocation, client binding and expiry,
//! through [`TokenService::token`] with an injected clock.

use crate::messages::PruneExpired;

use super::*;

/// A password grant for alex via shopping-app; returns (access scope, refresh token).
async fn login(h: &Harness, scope: &str) -> (String, String) {
    let response = h.token(&password_body("alex", scope)).await.unwrap();
    (response.scope, response.refresh_token.unwrap())
}

async fn refresh(h: &Harness, token: &str, scope: &str) -> Result<TokenResponse, TokenError> {
    h.token(&refresh_body(
        token,
        "shopping-app",
        "shopping-secret",
        scope,
    ))
    .await
}

#[actix::test]
async fn each_use_rotates_and_a_reuse_revokes_the_family() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    let (_, r1) = login(&h, "item_view+news_read").await;
    assert_eq!(r1.len(), 43, "256-bit base64url");

    h.set_now(T0 + 60);
    let response = refresh(&h, &r1, "").await.unwrap();
    assert_eq!(response.scope, "item_view news_read");
    let claims = h.verify(&response.access_token);
    assert_eq!(
        (claims.sub.as_str(), claims.username.as_deref()),
        ("alex", Some("alex"))
    );
    assert_eq!((claims.iat, claims.exp), (T0 + 60, T0 + 60 + 3600));
    let r2 = response.refresh_token.unwrap();
    assert_ne!(r1, r2);

    // r1 again: a reuse. It fails, and so does r2, the legitimate successor, from now on.
    let reused = refresh(&h, &r1, "").await;
    assert!(is_invalid_grant(&reused), "{reused:?}");
    assert!(is_invalid_grant(&refresh(&h, &r2, "").await));
    assert!(is_invalid_grant(&refresh(&h, &r1, "").await));
    // Another login starts a new, unaffected family.
    let (_, r3) = login(&h, "item_view").await;
    assert!(refresh(&h, &r3, "").await.is_ok());
}

#[actix::test]
async fn refresh_may_narrow_but_never_widen_the_original_grant() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    let (scope, r1) = login(&h, "item_view+item_add+news_read").await;
    assert_eq!(scope, "item_view item_add news_read");

    let response = refresh(&h, &r1, "item_add").await.unwrap();
    assert_eq!(response.scope, "item_add");
    // The new refresh token keeps the original grant, not the narrowed one (RFC 6749 §6).
    let r2 = response.refresh_token.unwrap();
    let err = refresh(&h, &r2, "news_write").await.unwrap_err();
    assert_eq!(err.code(), "invalid_scope");
    let err = refresh(&h, &r2, "SYSTEM").await.unwrap_err();
    assert_eq!(err.code(), "invalid_scope");
    // A refused refresh does not consume the token.
    let response = refresh(&h, &r2, "").await.unwrap();
    assert_eq!(response.scope, "item_view item_add news_read");
}

#[actix::test]
async fn another_client_cannot_use_the_token() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    let (_, r1) = login(&h, "item_view").await;
    let stolen = h
        .token(&refresh_body(&r1, "other-app", "other-secret", ""))
        .await;
    assert!(is_invalid_grant(&stolen), "{stolen:?}");
    // Not consumed, not revoked: the owner still refreshes.
    assert!(refresh(&h, &r1, "").await.is_ok());
}

#[actix::test]
async fn expired_refresh_tokens_are_refused_and_pruned() {
    let config = IssuerConfig {
        refresh_token_ttl_secs: 1000,
        ..IssuerConfig::default()
    };
    let h = Harness::start(cheap_quickstart(), config);
    let (_, r1) = login(&h, "item_view").await;
    let (_, r2) = login(&h, "item_view").await;

    h.set_now(T0 + 999);
    let response = refresh(&h, &r1, "").await.unwrap();
    let r1_next = response.refresh_token.unwrap();

    h.set_now(T0 + 1000);
    let err = refresh(&h, &r2, "").await.unwrap_err();
    assert_eq!(err.code(), "invalid_grant");
    assert!(err.description().contains("expired"), "{err}");

    // Pruning at T0 + 1000 deletes r1 (rotated) and r2; r1's successor lives until T0 + 1999.
    let pruned = h
        .service
        .issuer()
        .send(PruneExpired { now: T0 + 1000 })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pruned, 2);
    assert!(refresh(&h, &r1_next, "").await.is_ok());
}

#[actix::test]
async fn introspection_sees_only_live_refresh_tokens() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    let (_, r1) = login(&h, "item_view").await;
    let live = h
        .service
        .introspect_refresh_token(&r1)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(live.subject, "alex");
    assert_eq!(live.client_id, "shopping-app");
    assert_eq!(live.scopes, ["item_view"]);
    let r2 = refresh(&h, &r1, "").await.unwrap().refresh_token.unwrap();
    assert!(
        h.service
            .introspect_refresh_token(&r1)
            .await
            .unwrap()
            .is_none(),
        "rotated"
    );
    assert!(
        h.service
            .introspect_refresh_token(&r2)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        h.service
            .introspect_refresh_token("never-issued")
            .await
            .unwrap()
            .is_none()
    );
}

#[actix::test]
async fn revocation_revokes_the_whole_family() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    let (_, r1) = login(&h, "item_view").await;
    let r2 = refresh(&h, &r1, "").await.unwrap().refresh_token.unwrap();
    // Another client may not revoke it, and its attempt changes nothing.
    let other = h
        .service
        .revoke_refresh_token(&r1, "inventory-service")
        .await;
    assert_eq!(other.map_err(|e| e.code()), Err("unauthorized_client"));
    let r2 = refresh(&h, &r2, "").await.unwrap().refresh_token.unwrap();
    assert!(
        h.service
            .revoke_refresh_token(&r1, "shopping-app")
            .await
            .unwrap()
    );
    assert!(is_invalid_grant(&refresh(&h, &r2, "").await));
    assert!(
        !h.service
            .revoke_refresh_token(&r2, "shopping-app")
            .await
            .unwrap()
    );
    assert!(
        !h.service
            .revoke_refresh_token("never-issued", "shopping-app")
            .await
            .unwrap()
    );
}

#[actix::test]
async fn revoking_a_subject_revokes_all_their_families_and_nobody_else_s() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    let (_, a1) = login(&h, "item_view").await;
    let (_, a2) = login(&h, "item_view").await;
    let a2 = refresh(&h, &a2, "").await.unwrap().refresh_token.unwrap();
    let paul = h.token(&password_body("paul", "item_view")).await.unwrap();
    let p1 = paul.refresh_token.unwrap();

    assert_eq!(h.service.revoke_subject("alex").await.unwrap(), 2);
    assert!(is_invalid_grant(&refresh(&h, &a1, "").await));
    assert!(is_invalid_grant(&refresh(&h, &a2, "").await));
    assert!(refresh(&h, &p1, "").await.is_ok());
    // Nothing left: idempotent, and an unknown subject is not an error.
    assert_eq!(h.service.revoke_subject("alex").await.unwrap(), 0);
    assert_eq!(h.service.revoke_subject("nobody").await.unwrap(), 0);
    // A new login afterwards works as usual.
    let (_, a3) = login(&h, "item_view").await;
    assert!(refresh(&h, &a3, "").await.is_ok());
}

#[actix::test]
async fn no_refresh_token_for_clients_without_the_refresh_grant() {
    let mut doc = cheap_quickstart();
    let client = doc
        .clients
        .iter_mut()
        .find(|c| c.client_id == "other-app")
        .unwrap();
    client.grant_types = vec![scopegate_core::GrantType::Password];
    let h = Harness::start(doc, IssuerConfig::default());
    let body = password_body("alex", "item_view")
        .replace("shopping-app", "other-app")
        .replace("shopping-secret", "other-secret");
    let response = h.token(&body).await.unwrap();
    assert_eq!(response.refresh_token, None);
    assert_eq!(response.scope, "item_view");
}
