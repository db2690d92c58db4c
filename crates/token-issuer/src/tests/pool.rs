//! The hash pool under load, the secret cache seen through the service, key rotation, start-up
//! errors.

use std::time::Duration;

use scopegate_core::PolicyEvent;
use scopegate_policy_store::{EmbeddedBackend, PolicyStoreHandle};

use super::*;

#[actix::test]
async fn a_saturated_pool_answers_503_at_once_and_nothing_hangs() {
    // alex keeps the real (default-cost) hash so each verification takes a while.
    let mut doc = cheap_quickstart();
    let real = quickstart();
    let real_alex = real.users.iter().find(|u| u.username == "alex").unwrap();
    let alex = doc.users.iter_mut().find(|u| u.username == "alex").unwrap();
    alex.password_hash = real_alex.password_hash.clone();
    let config = IssuerConfig {
        hash_workers: 1,
        hash_queue: 1,
        ..IssuerConfig::default()
    };
    let h = Arc::new(Harness::start(doc, config));
    // Warm the client cache, so only the password checks need the pool.
    h.token(&cc_body("shopping-app", "shopping-secret", ""))
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for _ in 0..10 {
        let h = Arc::clone(&h);
        tasks.push(actix::spawn(async move {
            h.token(&password_body("alex", "item_view")).await
        }));
    }
    let all = async {
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    };
    let results = tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("every request is answered");
    let issued = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(
            |r| matches!(r, Err(e) if e.status() == 503 && e.code() == "temporarily_unavailable"),
        )
        .count();
    assert_eq!(issued + refused, 10, "{results:?}");
    assert!(
        issued >= 1 && refused >= 1,
        "issued {issued}, refused {refused}"
    );
    assert_eq!(h.service.hash_rejections(), refused as u64);
    assert_eq!(h.service.hash_queue_depth(), 0);
}

#[actix::test]
async fn cached_client_credentials_skip_argon2_until_the_ttl() {
    let config = IssuerConfig {
        secret_cache_ttl_secs: 300,
        ..IssuerConfig::default()
    };
    let h = Harness::start(cheap_quickstart(), config);
    let body = cc_body("inventory-service", "inventory-secret", "order_add");
    for _ in 0..3 {
        h.token(&body).await.unwrap();
    }
    assert_eq!(h.service.hash_verifications(), 1);
    assert_eq!(h.service.secret_cache_len(), 1);
    // A wrong secret is a miss: argon2 runs, fails, and nothing is cached.
    let err = h
        .token(&cc_body("inventory-service", "guess", ""))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 401);
    assert_eq!(h.service.hash_verifications(), 2);
    assert_eq!(h.service.secret_cache_len(), 1);
    // After the TTL the secret is verified again.
    h.set_now(T0 + 300);
    h.token(&body).await.unwrap();
    assert_eq!(h.service.hash_verifications(), 3);
}

#[actix::test]
async fn a_disabled_cache_verifies_every_time() {
    let config = IssuerConfig {
        secret_cache_ttl_secs: 0,
        ..IssuerConfig::default()
    };
    let h = Harness::start(cheap_quickstart(), config);
    let body = cc_body("inventory-service", "inventory-secret", "");
    h.token(&body).await.unwrap();
    h.token(&body).await.unwrap();
    assert_eq!(h.service.hash_verifications(), 2);
}

#[actix::test]
async fn changing_or_deleting_a_client_drops_its_cached_secret() {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(dir.path()).unwrap();
    let store = PolicyStoreHandle::start(Box::new(backend), Some(cheap_quickstart())).unwrap();
    let h = Harness::with_reader(store.reader(), IssuerConfig::default());
    let old = cc_body("inventory-service", "inventory-secret", "");
    h.token(&old).await.unwrap();
    h.token(&old).await.unwrap();
    assert_eq!(h.service.hash_verifications(), 1, "cached");

    let mut client = store
        .reader()
        .current()
        .client("inventory-service")
        .unwrap()
        .clone();
    client.secret_hash = cheap_hash("rotated-secret");
    store
        .apply(vec![PolicyEvent::PutClient(client)], None)
        .await
        .unwrap();
    let err = h.token(&old).await.unwrap_err();
    assert_eq!(
        err.code(),
        "invalid_client",
        "the old secret no longer works"
    );
    h.token(&cc_body("inventory-service", "rotated-secret", ""))
        .await
        .unwrap();

    store
        .apply(
            vec![PolicyEvent::DeleteClient {
                client_id: "inventory-service".to_owned(),
            }],
            None,
        )
        .await
        .unwrap();
    let err = h
        .token(&cc_body("inventory-service", "rotated-secret", ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_client");
}

#[actix::test]
async fn tokens_are_signed_with_the_current_key() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    let body = cc_body("inventory-service", "inventory-secret", "");
    let first = h.token(&body).await.unwrap().access_token;
    let old_kid = h.keys.load().signing().kid().to_owned();
    let new_key = SigningKey::generate(Algorithm::ES256).unwrap();
    let new_kid = new_key.kid().to_owned();
    h.keys.store(Arc::new(
        KeySet::new(new_key).with_verifying(h.keys.load().signing().verifying_key()),
    ));
    let second = h.token(&body).await.unwrap().access_token;
    assert_eq!(kid_of(&first), old_kid);
    assert_eq!(kid_of(&second), new_kid);
    h.verify(&first);
    h.verify(&second);
}

fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[test]
fn start_needs_a_system_and_a_sane_config() {
    let start = |config: IssuerConfig| {
        let dir = tempfile::tempdir().unwrap();
        let policy = PolicyReader::fixed(Policy::default());
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let keys = Arc::new(ArcSwap::from_pointee(KeySet::new(key)));
        let store = EmbeddedRefreshStore::open(dir.path()).unwrap();
        TokenService::start(
            config,
            policy,
            keys,
            Box::new(store),
            super::links(&Default::default()),
        )
        .map(|_| ())
    };
    assert!(matches!(
        start(IssuerConfig::default()),
        Err(crate::StartError::NoSystem)
    ));
    actix::System::new().block_on(async {
        assert!(start(IssuerConfig::default()).is_ok());
        let zero_workers = IssuerConfig {
            hash_workers: 0,
            ..IssuerConfig::default()
        };
        assert!(matches!(
            start(zero_workers),
            Err(crate::StartError::Config(_))
        ));
        let zero_ttl = IssuerConfig {
            access_token_ttl_secs: 0,
            ..IssuerConfig::default()
        };
        assert!(matches!(start(zero_ttl), Err(crate::StartError::Config(_))));
    });
}

#[actix::test]
async fn user_passwords_are_never_cached() {
    let h = Harness::start(cheap_quickstart(), IssuerConfig::default());
    for _ in 0..2 {
        h.token(&password_body("alex", "item_view")).await.unwrap();
    }
    // One verification of the client secret (then cached), one per password grant.
    assert_eq!(h.service.hash_verifications(), 3);
}

/// A refresh store that fails every call but pruning: shows which paths reach the actor.
struct UnreachableStore;

impl crate::RefreshStore for UnreachableStore {
    fn insert(
        &mut self,
        _: &crate::TokenHash,
        _: &crate::RefreshRecord,
    ) -> Result<(), crate::StoreError> {
        Err(crate::StoreError::Database("touched".into()))
    }

    fn rotate(
        &mut self,
        _: crate::Rotate<'_>,
        _: crate::Decide<'_>,
    ) -> Result<crate::RotateOutcome, crate::StoreError> {
        Err(crate::StoreError::Database("touched".into()))
    }

    fn get(&self, _: &crate::TokenHash) -> Result<Option<crate::RefreshRecord>, crate::StoreError> {
        Err(crate::StoreError::Database("touched".into()))
    }

    fn revoke_family(
        &mut self,
        _: &crate::TokenHash,
        _: &str,
    ) -> Result<crate::Revocation, crate::StoreError> {
        Err(crate::StoreError::Database("touched".into()))
    }

    fn revoke_subject(&mut self, _: &str) -> Result<usize, crate::StoreError> {
        Err(crate::StoreError::Database("touched".into()))
    }

    fn prune_expired(&mut self, _: u64) -> Result<usize, crate::StoreError> {
        Ok(0)
    }
}

#[actix::test]
async fn client_credentials_never_reach_the_actor() {
    let policy = PolicyReader::fixed(Policy::from_document(1, cheap_quickstart()).unwrap());
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let keys = Arc::new(ArcSwap::from_pointee(KeySet::new(key)));
    let service = TokenService::start(
        IssuerConfig::default(),
        policy,
        keys,
        Box::new(UnreachableStore),
        super::links(&Default::default()),
    )
    .unwrap();
    let cc = TokenRequest::parse(
        cc_body("inventory-service", "inventory-secret", "order_add").as_bytes(),
        None,
    )
    .unwrap();
    assert!(service.token(cc.clone()).await.is_ok());
    assert!(service.token(cc).await.is_ok());
    // The password grant of a refresh-capable client does store a refresh token: it fails here,
    // with a generic description.
    let pw = TokenRequest::parse(password_body("alex", "").as_bytes(), None).unwrap();
    let err = service.token(pw).await.unwrap_err();
    assert_eq!((err.code(), err.status()), ("server_error", 500));
    assert!(!err.description().contains("touched"));
}
