//! The cost of a whole decision, token string to answer (`ScopeValidator::decide`: cache
//! lookup, verification, revocation check, route matching, scope check), per algorithm:
//!
//! - `cold`: every iteration decides a token the validator has never seen (a miss: full
//!   signature verification plus the cache insert). Tokens are signed beforehand, a pool of
//!   [`POOL`] per algorithm; each sample runs on fresh validators, one per pass over the pool,
//!   so no token is ever decided twice by the same validator.
//! - `warm`: the same token again and again (a hit: re-checks of time, key and revocation).
//! - `verify_only`: the bare `scopegate_jwt::Verifier::verify` of the same pool of tokens, the baseline the
//!   cold figure adds matching, revocation and caching to.
//!
//! Run: `cargo bench -p scopegate-scope-validator -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::SystemRunner;
use arc_swap::ArcSwap;
use criterion::{Criterion, criterion_group, criterion_main};
use scopegate_core::{Policy, PolicyDocument};
use scopegate_jwt::{AccessTokenClaims, Algorithm, Audience, KeySet, SigningKey, Verifier};
use scopegate_policy_store::PolicyReader;
use scopegate_scope_validator::{
    Decision, RevocationStore, Revocations, ScopeValidator, StoreError, ValidatorConfig,
    ValidatorSettings,
};

const QUICKSTART: &str = include_str!("../../../examples/quickstart/policy.toml");
const NOW: u64 = 1_700_000_000;
const ISSUER: &str = "https://scopegate.bench";
const AUDIENCE: &str = "scopegate";
const PATH: &str = "/shopping/1.0.0/orders";
/// Distinct tokens signed per algorithm for the cold runs.
const POOL: usize = 2_000;

/// Revocations in memory only: the store is not what is measured (decisions never touch it).
struct NoStore;

impl RevocationStore for NoStore {
    fn load(&mut self, _: u64) -> Result<Revocations, StoreError> {
        Ok(Revocations::default())
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

fn policy() -> PolicyReader {
    let doc: PolicyDocument = toml::from_str(QUICKSTART).unwrap();
    PolicyReader::fixed(Policy::from_document(1, doc).unwrap())
}

fn validator(sys: &SystemRunner, keys: &Arc<ArcSwap<KeySet>>) -> ScopeValidator {
    let config = ValidatorConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        settings: ValidatorSettings::default(),
    };
    let keys = Arc::clone(keys);
    sys.block_on(async {
        ScopeValidator::start(config, policy(), keys, Box::new(NoStore)).unwrap()
    })
}

fn token(key: &SigningKey, n: usize) -> String {
    let claims = AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "paul".into(),
        aud: Audience::from(AUDIENCE),
        exp: NOW + 3600,
        iat: NOW,
        nbf: NOW,
        jti: format!("bench-{n}"),
        client_id: "shopping-app".into(),
        scope: "item_view order_view order_add".into(),
        username: Some("paul".into()),
        sid: None,
    };
    key.sign(&claims).unwrap()
}

fn assert_allowed(decision: Decision) {
    assert!(matches!(decision, Decision::Allow { .. }), "{decision:?}");
}

fn decide(c: &mut Criterion) {
    let sys = actix::System::new();
    for alg in Algorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        let keys = Arc::new(ArcSwap::from_pointee(KeySet::new(key.clone())));
        let pool: Vec<String> = (0..POOL).map(|n| token(&key, n)).collect();
        let mut group = c.benchmark_group(format!("decide/{alg}"));

        group.bench_function("cold", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters as usize;
                while left > 0 {
                    let fresh = validator(&sys, &keys);
                    let n = left.min(POOL);
                    let start = Instant::now();
                    for token in &pool[..n] {
                        black_box(fresh.decide(Some(black_box(token)), "POST", PATH, NOW));
                    }
                    total += start.elapsed();
                    assert_eq!(fresh.cache_hits(), 0);
                    left -= n;
                }
                total
            })
        });

        let warm = validator(&sys, &keys);
        let token = &pool[0];
        assert_allowed(warm.decide(Some(token), "POST", PATH, NOW));
        group.bench_function("warm", |b| {
            b.iter(|| warm.decide(Some(black_box(token)), "POST", PATH, NOW))
        });
        assert!(warm.cache_hits() > 0);
        assert_eq!(warm.cache_misses(), 1);

        let verifier = Verifier::new(keys.load_full(), ISSUER, AUDIENCE, 30);
        // Over the same pool as `cold`, so both walk the same tokens through memory.
        let mut next = pool.iter().cycle();
        group.bench_function("verify_only", |b| {
            b.iter(|| {
                let token = next.next().expect("cycle");
                verifier.verify(black_box(token), NOW).unwrap()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, decide);
criterion_main!(benches);
