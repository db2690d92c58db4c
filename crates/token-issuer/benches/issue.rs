//! Token issuance cost: `client_credentials` end to end through `TokenService::token` (EdDSA)
//! with a warm secret cache versus with the cache disabled (one argon2id verification per
//! request, the quickstart hashes' default parameters), and `TokenRequest::parse`.
//!
//! Run: `cargo bench -p scopegate-token-issuer -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;

use actix::SystemRunner;
use arc_swap::ArcSwap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use scopegate_core::{Policy, PolicyDocument};
use scopegate_jwt::{Algorithm, KeySet, SigningKey};
use scopegate_policy_store::PolicyReader;
use scopegate_token_issuer::{
    EmbeddedRefreshStore, FamilyRevoker, IssuerConfig, Links, TokenRequest, TokenService,
};

const QUICKSTART: &str = include_str!("../../../examples/quickstart/policy.toml");
const BODY: &[u8] = b"grant_type=client_credentials&scope=item_view+order_add+order_view";

/// The benchmark issues `client_credentials` tokens only: no family is ever revoked.
struct NoFamilies;

impl FamilyRevoker for NoFamilies {
    fn revoke_family(
        &self,
        _: String,
        _: u64,
    ) -> futures_util::future::BoxFuture<'static, Result<(), String>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

fn service(sys: &SystemRunner, dir: &tempfile::TempDir, cache_ttl: u64) -> TokenService {
    let doc: PolicyDocument = toml::from_str(QUICKSTART).unwrap();
    let policy = PolicyReader::fixed(Policy::from_document(1, doc).unwrap());
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let keys = Arc::new(ArcSwap::from_pointee(KeySet::new(key)));
    let store = EmbeddedRefreshStore::open(&dir.path().join(cache_ttl.to_string())).unwrap();
    let config = IssuerConfig {
        secret_cache_ttl_secs: cache_ttl,
        ..IssuerConfig::default()
    };
    let links = Links {
        families: Arc::new(NoFamilies),
        throttle: None,
    };
    sys.block_on(async {
        TokenService::start(config, policy, keys, Box::new(store), links).unwrap()
    })
}

fn issue(c: &mut Criterion) {
    let sys = actix::System::new();
    let dir = tempfile::tempdir().unwrap();
    let header = format!(
        "Basic {}",
        STANDARD.encode("inventory-service:inventory-secret")
    );
    let request = TokenRequest::parse(BODY, Some(&header)).unwrap();

    let mut group = c.benchmark_group("client_credentials");
    let cached = service(&sys, &dir, 300);
    // Warm the cache: the first request pays argon2 once.
    let first = sys.block_on(cached.token(request.clone())).unwrap();
    assert_eq!(first.scope, "item_view order_add order_view");
    group.bench_function("cached_secret", |b| {
        b.iter(|| {
            sys.block_on(cached.token(black_box(request.clone())))
                .unwrap()
        })
    });
    let uncached = service(&sys, &dir, 0);
    group.sample_size(10);
    group.bench_function("argon2_every_request", |b| {
        b.iter(|| {
            sys.block_on(uncached.token(black_box(request.clone())))
                .unwrap()
        })
    });
    group.finish();

    c.bench_function("parse/basic_auth", |b| {
        b.iter(|| TokenRequest::parse(black_box(BODY), Some(black_box(&header))).unwrap())
    });
    c.bench_function("parse/password_form", |b| {
        let body = b"grant_type=password&username=harry&password=harry123\
                     &scope=item_view+order_add+openid&client_id=shopping-app\
                     &client_secret=shopping-secret";
        b.iter(|| TokenRequest::parse(black_box(body), None).unwrap())
    });
}

criterion_group!(benches, issue);
criterion_main!(benches);
