//! Grant families (`sid`), their revocation and absolute lifetime, and the size caps on what
//! one token carries.

use super::*;

async fn login(h: &Harness, scope: &str) -> TokenResponse {
    h.token(&password_body("alex", scope)).await.unwrap()
}

async fn refresh(h: &Harness, token: &str) -> Result<TokenResponse, TokenError> {
    h.token(&refresh_body(token, "shopping-app", "shopping-secret", ""))
        .await
}

#[actix::test]
async fn tokens_of_one_sign_in_name_their_family_and_client_credentials_none() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    let first = login(&h, "item_view").await;
    let family = h
        .verify(&first.access_token)
        .sid
        .expect("a password grant names its family");
    assert_eq!(family.len(), 22, "128 random bits, base64url");
    let second = refresh(&h, first.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(h.verify(&second.access_token).sid, Some(family.clone()));
    // A new sign-in is a new family.
    let other = login(&h, "item_view").await;
    assert_ne!(h.verify(&other.access_token).sid, Some(family));
    let cc = h
        .token(&cc_body(
            "inventory-service",
            "inventory-secret",
            "order_view",
        ))
        .await
        .unwrap();
    assert_eq!(h.verify(&cc.access_token).sid, None);
}

#[actix::test]
async fn a_reused_refresh_token_revokes_its_familys_access_tokens() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    let first = login(&h, "item_view").await;
    let family = h.verify(&first.access_token).sid.unwrap();
    let r1 = first.refresh_token.unwrap();
    h.set_now(T0 + 10);
    refresh(&h, &r1).await.unwrap();
    assert!(h.families.0.lock().unwrap().is_empty());
    h.set_now(T0 + 20);
    let reused = refresh(&h, &r1).await.unwrap_err();
    assert_eq!(reused.code(), "invalid_grant");
    // Every access token of the family ends by T0 + 20 + the access-token lifetime.
    assert_eq!(
        *h.families.0.lock().unwrap(),
        [(family, T0 + 20 + h.config.access_token_ttl_secs)]
    );
}

#[actix::test]
async fn revoking_a_refresh_token_revokes_its_familys_access_tokens() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    let first = login(&h, "item_view").await;
    let family = h.verify(&first.access_token).sid.unwrap();
    let refresh_token = first.refresh_token.unwrap();
    assert!(
        !h.service
            .revoke_refresh_token(&refresh_token, "other-app")
            .await
            .is_ok_and(|revoked| revoked),
        "another client's revocation changes nothing"
    );
    assert!(h.families.0.lock().unwrap().is_empty());
    assert!(
        h.service
            .revoke_refresh_token(&refresh_token, "shopping-app")
            .await
            .unwrap()
    );
    assert_eq!(
        *h.families.0.lock().unwrap(),
        [(family, T0 + h.config.access_token_ttl_secs)]
    );
    // Unknown now: still a success for the endpoint, nothing more revoked.
    assert!(
        !h.service
            .revoke_refresh_token(&refresh_token, "shopping-app")
            .await
            .unwrap()
    );
    assert_eq!(h.families.0.lock().unwrap().len(), 1);
}

#[actix::test]
async fn a_family_ends_at_its_absolute_lifetime_however_often_it_is_rotated() {
    let config = IssuerConfig {
        refresh_token_ttl_secs: 100,
        refresh_family_lifetime_secs: 250,
        ..IssuerConfig::default()
    };
    let h = Harness::start(cheap_quickstart(), config);
    let mut token = login(&h, "item_view").await.refresh_token.unwrap();
    // Rotating every 90 s would keep a sliding lifetime alive forever.
    for step in 1..=2 {
        h.set_now(T0 + 90 * step);
        token = refresh(&h, &token).await.unwrap().refresh_token.unwrap();
    }
    h.set_now(T0 + 249);
    token = refresh(&h, &token).await.unwrap().refresh_token.unwrap();
    h.set_now(T0 + 250);
    let err = refresh(&h, &token).await.unwrap_err();
    assert_eq!(err.code(), "invalid_grant");
    assert!(err.description().contains("expired"), "{err}");
}

/// The quickstart with `device_0` … `device_{n-1}` granted to nobody but allowlisted.
fn with_device_scopes(config: IssuerConfig) -> Harness {
    Harness::start(cheap_quickstart(), config)
}

fn device_scopes(n: usize) -> String {
    (0..n)
        .map(|i| format!("device_{i:04}"))
        .collect::<Vec<_>>()
        .join("+")
}

#[actix::test]
async fn no_token_exceeds_the_scope_count_or_size_the_check_path_accepts() {
    let h = with_device_scopes(IssuerConfig::default());
    // 600 allowlisted scopes made a 10.8 kB token before the caps existed.
    let err = h
        .token(&cc_body(
            "inventory-service",
            "inventory-secret",
            &device_scopes(600),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_scope");
    assert!(err.description().contains("at most 200"), "{err}");
    // Within the count, the byte cap still holds: 200 long scope names.
    let long: String = (0..200)
        .map(|i| format!("device_{i:04}_{}", "x".repeat(40)))
        .collect::<Vec<_>>()
        .join("+");
    let err = h
        .token(&cc_body("inventory-service", "inventory-secret", &long))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_scope");
    assert!(err.description().contains("bytes"), "{err}");
    // What fits is issued, and within the check path's limit.
    let ok = h
        .token(&cc_body(
            "inventory-service",
            "inventory-secret",
            &device_scopes(150),
        ))
        .await
        .unwrap();
    assert!(ok.access_token.len() <= h.config.max_token_bytes);
    assert!(ok.access_token.len() < crate::CHECK_PATH_TOKEN_LIMIT);
}

#[actix::test]
async fn scope_system_obeys_the_cap() {
    let config = IssuerConfig {
        max_scopes_per_token: 2,
        ..IssuerConfig::default()
    };
    let h = with_device_scopes(config);
    // alex may obtain item_view, item_add, order_view, news_read and news_write: five.
    let err = h.token(&password_body("alex", "SYSTEM")).await.unwrap_err();
    assert_eq!(err.code(), "invalid_scope");
    let ok = h.token(&password_body("chris", "SYSTEM")).await.unwrap();
    assert_eq!(ok.scope, "news_read");
}
