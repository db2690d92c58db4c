//! The verified-token cache: hits skip verification but never outlive the token's `exp`, its
//! key, or a revocation; keys are whole tokens; failures are never cached.

use scopegate_jwt::{Algorithm, VerifyingKey};

use super::*;
use crate::cache::CachedToken;

const PATH: &str = "/shopping/1.0.0/orders";

fn paul(h: &Harness) -> String {
    h.token("paul", "order_add")
}

/// A copy of the cache entry for `token` (which must be cached).
fn entry(h: &Harness, token: &str) -> CachedToken {
    let cached = h
        .validator
        .cache()
        .get(token)
        .expect("token should be cached");
    CachedToken {
        principal: cached.principal.clone(),
        exp: cached.exp,
        nbf: cached.nbf,
        kid: cached.kid.clone(),
        key_epoch: cached.key_epoch,
    }
}

#[actix::test]
async fn a_repeated_token_is_served_from_the_cache() {
    let h = Harness::start();
    let token = paul(&h);
    let first = h.decide(&token, "POST", PATH);
    assert_eq!(
        (h.validator.cache_hits(), h.validator.cache_misses()),
        (0, 1)
    );
    assert_eq!(h.validator.cache_len(), 1);
    let second = h.decide(&token, "POST", PATH);
    assert_eq!(
        (h.validator.cache_hits(), h.validator.cache_misses()),
        (1, 1)
    );
    assert_eq!(first, second, "a hit decides exactly as a verification");
    // The path half is decided afresh on a hit: another path, another answer.
    let deny = denied(h.decide(&token, "GET", "/shopping/1.0.0/items"));
    assert_eq!(deny.error, "insufficient_scope");
    assert_eq!(h.validator.cache_hits(), 2);
    // authenticate() shares the cache.
    allowed(Decision::Allow {
        principal: h.validator.authenticate(&token, T0).unwrap(),
        api: None,
    });
    assert_eq!(h.validator.cache_hits(), 3);
}

#[actix::test]
async fn a_capacity_of_zero_disables_the_cache() {
    let h = Harness::with(ValidatorSettings {
        cache_capacity: 0,
        ..ValidatorSettings::default()
    });
    let token = paul(&h);
    allowed(h.decide(&token, "POST", PATH));
    allowed(h.decide(&token, "POST", PATH));
    assert_eq!(
        (h.validator.cache_hits(), h.validator.cache_misses()),
        (0, 2)
    );
    assert_eq!(h.validator.cache_len(), 0);
}

#[actix::test]
async fn an_expired_entry_is_not_served_and_is_dropped() {
    let h = Harness::start();
    let token = paul(&h);
    allowed(h.decide(&token, "POST", PATH));
    let later = T0 + TTL + 31;
    assert_invalid_token(
        h.validator.decide(Some(&token), "POST", PATH, later),
        "expired",
    );
    assert_eq!(h.validator.cache_hits(), 0);
    assert_eq!(h.validator.cache_len(), 0);
}

#[actix::test]
async fn an_entry_is_not_served_before_its_not_before_time() {
    let h = Harness::start();
    let mut claims = h.claims("paul", "order_add");
    claims.nbf = T0 + 100;
    let token = h.key.sign(&claims).unwrap();
    allowed(h.validator.decide(Some(&token), "POST", PATH, T0 + 100));
    // A clock stepping back (another node, NTP) must not make the cached token valid early.
    let deny = h.validator.decide(Some(&token), "POST", PATH, T0);
    assert_invalid_token(deny, "not valid yet");
    assert_eq!(h.validator.cache_hits(), 0);
}

#[actix::test]
async fn failures_are_never_cached() {
    let h = Harness::start();
    let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let unknown = stranger.sign(&h.claims("paul", "order_add")).unwrap();
    let expired = paul(&h);
    for _ in 0..2 {
        assert_invalid_token(h.decide(&unknown, "POST", PATH), "unknown key");
        let late = h
            .validator
            .decide(Some(&expired), "POST", PATH, T0 + TTL + 31);
        assert_invalid_token(late, "expired");
    }
    assert_eq!(h.validator.cache_len(), 0);
    assert_eq!(
        (h.validator.cache_hits(), h.validator.cache_misses()),
        (0, 4)
    );
}

#[actix::test]
async fn tokens_differing_only_in_the_last_signature_character_are_not_confused() {
    let h = Harness::start();
    let token = paul(&h);
    allowed(h.decide(&token, "POST", PATH));
    let last = token.chars().last().unwrap();
    for replacement in ['A', 'B', 'Q', 'g', 'w', '_'] {
        if replacement == last {
            continue;
        }
        let twin = format!("{}{replacement}", &token[..token.len() - 1]);
        let deny = denied(h.decide(&twin, "POST", PATH));
        assert_eq!(deny.status, 401, "{twin}");
    }
    // A token extended by one character is another key too.
    assert_eq!(
        denied(h.decide(&format!("{token}A"), "POST", PATH)).status,
        401
    );
    assert_eq!(h.validator.cache_hits(), 0);
    assert_eq!(h.validator.cache_len(), 1);
}

#[actix::test]
async fn retiring_the_key_refuses_its_cached_tokens_at_once() {
    let h = Harness::start();
    let token = paul(&h);
    allowed(h.decide(&token, "POST", PATH));
    let successor = SigningKey::generate(Algorithm::EdDSA).unwrap();
    h.keys.store(Arc::new(KeySet::new(successor.clone())));
    assert_invalid_token(h.decide(&token, "POST", PATH), "unknown key");
    assert_eq!(h.validator.cache_hits(), 0);
    assert_eq!(
        h.validator.cache_len(),
        0,
        "the retired key's entries are purged"
    );
    // Tokens of the new key are served and cached as usual.
    let fresh = successor.sign(&h.claims("paul", "order_add")).unwrap();
    allowed(h.decide(&fresh, "POST", PATH));
    allowed(h.decide(&fresh, "POST", PATH));
    assert_eq!(h.validator.cache_hits(), 1);
}

#[actix::test]
async fn a_rotation_that_keeps_the_old_key_keeps_its_cached_tokens() {
    let h = Harness::start();
    let token = paul(&h);
    allowed(h.decide(&token, "POST", PATH));
    let successor = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let set = KeySet::new(successor).with_verifying(h.key.verifying_key());
    h.keys.store(Arc::new(set));
    allowed(h.decide(&token, "POST", PATH));
    assert_eq!(
        (h.validator.cache_hits(), h.validator.cache_misses()),
        (1, 1)
    );
}

#[actix::test]
async fn a_stale_entry_left_by_a_race_with_the_key_change_is_not_served() {
    let h = Harness::start();
    let token = paul(&h);
    allowed(h.decide(&token, "POST", PATH));
    let stale = entry(&h, &token);
    let successor = SigningKey::generate(Algorithm::EdDSA).unwrap();
    h.keys.store(Arc::new(KeySet::new(successor.clone())));
    // Another request notices the new key set and purges...
    let other = successor.sign(&h.claims("rick", "order_view")).unwrap();
    h.decide(&other, "GET", PATH);
    assert!(h.validator.cache().get(&token).is_none());
    // ...while one that verified under the old set inserts its result just after.
    h.validator.cache().insert(&token, stale);
    assert_invalid_token(h.decide(&token, "POST", PATH), "unknown key");
    assert_eq!(h.validator.cache_hits(), 0);
}

#[actix::test]
async fn a_kid_rebound_to_other_material_refuses_cached_tokens() {
    let h = Harness::start();
    let token = paul(&h);
    allowed(h.decide(&token, "POST", PATH));
    let stale = entry(&h, &token);
    // A misconfigured set: the same kid, another key.
    let mut impostor = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .verifying_key()
        .to_jwk();
    impostor.kid = h.key.kid().to_owned();
    let signing = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let set = KeySet::new(signing).with_verifying(VerifyingKey::from_jwk(&impostor).unwrap());
    h.keys.store(Arc::new(set));
    assert_invalid_token(h.decide(&token, "POST", PATH), "signature is invalid");
    assert_eq!(h.validator.cache_len(), 0);
    // Even an entry re-inserted by a racing request is refused: its key epoch is old.
    h.validator.cache().insert(&token, stale);
    assert_invalid_token(h.decide(&token, "POST", PATH), "signature is invalid");
    assert_eq!(h.validator.cache_hits(), 0);
}
