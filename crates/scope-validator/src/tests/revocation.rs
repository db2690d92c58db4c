//! Revocation through the actor: immediate effect (cached tokens included), durability across
//! a restart, pruning, store failures, and start-up errors.

use super::*;
use crate::{RevocationStore, Revocations, StartError, StoreError, ValidatorError};

const PATH: &str = "/shopping/1.0.0/orders";

#[actix::test]
async fn a_revoked_token_is_refused_even_when_cached() {
    let h = Harness::start();
    let claims = h.claims("paul", "order_add");
    let token = h.key.sign(&claims).unwrap();
    let sibling = h.token("paul", "order_add");
    allowed(h.decide(&token, "POST", PATH));
    allowed(h.decide(&sibling, "POST", PATH));
    assert_eq!(h.validator.cache_len(), 2);

    h.validator
        .revoke(claims.jti.clone(), claims.exp)
        .await
        .unwrap();
    assert_eq!(h.validator.revoked_len(), 1);
    assert_invalid_token(h.decide(&token, "POST", PATH), "revoked");
    let introspected = h.validator.authenticate(&token, T0).unwrap_err();
    assert_eq!(
        (introspected.status, introspected.error),
        (401, "invalid_token")
    );
    // The revoked entry is dropped from the cache; the sibling (another jti) is untouched.
    assert_eq!(h.validator.cache_len(), 1);
    allowed(h.decide(&sibling, "POST", PATH));
}

#[actix::test]
async fn a_token_revoked_before_its_first_use_is_refused_and_not_cached() {
    let h = Harness::start();
    let claims = h.claims("alex", "order_view");
    let token = h.key.sign(&claims).unwrap();
    h.validator
        .revoke(claims.jti.clone(), claims.exp)
        .await
        .unwrap();
    assert_invalid_token(h.decide(&token, "GET", PATH), "revoked");
    assert_eq!(h.validator.cache_len(), 0);
}

#[actix::test]
async fn revocations_survive_a_restart() {
    let h = Harness::start();
    let claims = h.claims("paul", "order_add");
    let token = h.key.sign(&claims).unwrap();
    h.validator
        .revoke(claims.jti.clone(), claims.exp)
        .await
        .unwrap();

    let h = h.restart();
    assert_eq!(h.validator.revoked_len(), 1);
    assert_invalid_token(h.decide(&token, "POST", PATH), "revoked");
}

#[actix::test]
async fn pruning_forgets_revocations_once_their_tokens_expired_beyond_the_leeway() {
    let h = Harness::start();
    let claims = h.claims("paul", "order_add");
    let token = h.key.sign(&claims).unwrap();
    h.validator
        .revoke(claims.jti.clone(), claims.exp)
        .await
        .unwrap();
    h.validator
        .revoke("other".into(), T0 + 10 * TTL)
        .await
        .unwrap();

    // Still acceptable by time (leeway 30 s): the revocation must stay.
    assert_eq!(h.validator.prune_expired(T0 + TTL + 30).await.unwrap(), 0);
    let at_edge = h
        .validator
        .decide(Some(&token), "POST", PATH, T0 + TTL + 30);
    assert_invalid_token(at_edge, "revoked");

    assert_eq!(h.validator.prune_expired(T0 + TTL + 31).await.unwrap(), 1);
    assert_eq!(h.validator.revoked_len(), 1);
    let late = h
        .validator
        .decide(Some(&token), "POST", PATH, T0 + TTL + 31);
    assert_invalid_token(late, "expired");

    // Deleted from the store too.
    let h = h.restart();
    assert_eq!(h.validator.revoked_len(), 1);
}

#[actix::test]
async fn the_start_up_load_skips_revocations_of_long_expired_tokens() {
    let h = Harness::start();
    h.validator
        .revoke("long-gone".into(), T0 - 31)
        .await
        .unwrap();
    h.validator
        .revoke("within-leeway".into(), T0 - 30)
        .await
        .unwrap();
    h.validator.revoke("live".into(), T0 + 1).await.unwrap();
    assert_eq!(h.validator.revoked_len(), 3);
    let h = h.restart();
    assert_eq!(h.validator.revoked_len(), 2);
}

#[actix::test]
async fn revoking_again_keeps_the_later_expiry() {
    let h = Harness::start();
    let claims = h.claims("paul", "order_add");
    let token = h.key.sign(&claims).unwrap();
    h.validator
        .revoke(claims.jti.clone(), claims.exp)
        .await
        .unwrap();
    h.validator.revoke(claims.jti.clone(), T0).await.unwrap();
    assert_eq!(h.validator.prune_expired(T0 + 100).await.unwrap(), 0);
    assert_invalid_token(h.decide(&token, "POST", PATH), "revoked");
}

/// A store whose writes fail, to show a revocation is published only once durable.
struct BrokenStore;

impl RevocationStore for BrokenStore {
    fn load(&mut self, _: u64) -> Result<Revocations, StoreError> {
        Ok(Revocations::default())
    }
    fn insert(&mut self, _: &str, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Database("disk full".into()))
    }
    fn insert_subject(&mut self, _: &str, _: u64, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Database("disk full".into()))
    }
    fn prune(&mut self, _: u64) -> Result<usize, StoreError> {
        Err(StoreError::Database("disk full".into()))
    }
}

fn config() -> ValidatorConfig {
    ValidatorConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        settings: ValidatorSettings::default(),
    }
}

fn keys() -> (SigningKey, Arc<ArcSwap<KeySet>>) {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let keys = Arc::new(ArcSwap::from_pointee(KeySet::new(key.clone())));
    (key, keys)
}

#[actix::test]
async fn a_revocation_the_store_refuses_is_reported_and_not_applied() {
    let (key, keys) = keys();
    let validator =
        ScopeValidator::start(config(), quickstart(), keys, Box::new(BrokenStore)).unwrap();
    let h = Harness::start(); // only for claims
    let claims = h.claims("paul", "order_add");
    let token = key.sign(&claims).unwrap();
    let err = validator.revoke(claims.jti.clone(), claims.exp).await;
    assert!(matches!(err, Err(ValidatorError::Store(_))), "{err:?}");
    let err = validator.revoke_subject("paul".into(), T0, T0 + TTL).await;
    assert!(matches!(err, Err(ValidatorError::Store(_))), "{err:?}");
    assert_eq!(validator.revoked_len(), 0);
    allowed(validator.decide(Some(&token), "POST", PATH, T0));
    assert!(matches!(
        validator.prune_expired(T0).await,
        Err(ValidatorError::Store(_))
    ));
}

/// A store that cannot be read.
struct UnreadableStore;

impl RevocationStore for UnreadableStore {
    fn load(&mut self, _: u64) -> Result<Revocations, StoreError> {
        Err(StoreError::Database("corrupt".into()))
    }
    fn insert(&mut self, _: &str, _: u64) -> Result<(), StoreError> {
        Ok(())
    }
    fn insert_subject(&mut self, _: &str, _: u64, _: u64) -> Result<(), StoreError> {
        Ok(())
    }
    fn prune(&mut self, _: u64) -> Result<usize, StoreError> {
        Ok(0)
    }
}

#[actix::test]
async fn start_refuses_an_unreadable_store_and_an_empty_issuer() {
    let (_, keys) = keys();
    let store = Box::new(UnreadableStore);
    let err = ScopeValidator::start(config(), quickstart(), Arc::clone(&keys), store).unwrap_err();
    assert!(matches!(err, StartError::Load(_)), "{err}");
    assert!(err.to_string().contains("revocation list"), "{err}");

    let mut bad = config();
    bad.issuer.clear();
    let err = ScopeValidator::start(bad, quickstart(), keys, Box::new(BrokenStore)).unwrap_err();
    assert!(matches!(err, StartError::Config(_)), "{err}");
}

#[test]
fn start_needs_an_actix_system() {
    let (_, keys) = keys();
    let err = ScopeValidator::start(config(), quickstart(), keys, Box::new(BrokenStore));
    assert!(matches!(err, Err(StartError::NoSystem)));
}

/// Claims for `user` issued at `iat` (valid for [`TTL`] from then), with the harness's next
/// `jti`.
fn issued_at(h: &Harness, user: &str, iat: u64) -> AccessTokenClaims {
    AccessTokenClaims {
        iat,
        nbf: iat,
        exp: iat + TTL,
        ..h.claims(user, "order_add")
    }
}

#[actix::test]
async fn a_subject_revocation_refuses_earlier_tokens_cached_or_not_and_spares_later_ones() {
    let h = Harness::start();
    let cached = h.key.sign(&issued_at(&h, "paul", T0 - 10)).unwrap();
    let uncached = h.key.sign(&issued_at(&h, "paul", T0)).unwrap();
    let later = h.key.sign(&issued_at(&h, "paul", T0 + 1)).unwrap();
    let alex = h.key.sign(&issued_at(&h, "alex", T0 - 10)).unwrap();
    allowed(h.decide(&cached, "POST", PATH));
    allowed(h.decide(&alex, "POST", PATH));

    h.validator
        .revoke_subject("paul".into(), T0, T0 + TTL + 30)
        .await
        .unwrap();
    assert_eq!(
        (
            h.validator.revoked_len(),
            h.validator.revoked_subjects_len()
        ),
        (1, 1)
    );
    assert_invalid_token(h.decide(&cached, "POST", PATH), "revoked");
    assert_invalid_token(h.decide(&uncached, "POST", PATH), "revoked");
    assert!(h.validator.authenticate(&uncached, T0).is_err());
    let at_later = h.validator.decide(Some(&later), "POST", PATH, T0 + 1);
    allowed(at_later);
    allowed(h.decide(&alex, "POST", PATH));
    // The refused cache entry is gone: alex's and the later token remain.
    assert_eq!(h.validator.cache_len(), 2);
}

#[actix::test]
async fn subject_revocations_survive_a_restart_and_are_pruned_after_keep_until() {
    let h = Harness::start();
    let token = h.key.sign(&issued_at(&h, "paul", T0)).unwrap();
    h.validator
        .revoke_subject("paul".into(), T0, T0 + TTL + 30)
        .await
        .unwrap();
    // Revoking again with an earlier time keeps the later one.
    h.validator
        .revoke_subject("paul".into(), T0 - 100, T0)
        .await
        .unwrap();
    let h = h.restart();
    assert_eq!(h.validator.revoked_subjects_len(), 1);
    assert_invalid_token(h.decide(&token, "POST", PATH), "revoked");

    // keep_until + leeway: every token it refused has expired by then.
    let end = T0 + TTL + 30 + 30;
    assert_eq!(h.validator.prune_expired(end).await.unwrap(), 0);
    assert_eq!(h.validator.prune_expired(end + 1).await.unwrap(), 1);
    assert_eq!(h.validator.revoked_subjects_len(), 0);
    let late = h.validator.decide(Some(&token), "POST", PATH, end + 1);
    assert_invalid_token(late, "expired");
}
