//! `grant_scopes` on a large policy: 10,000 scopes and 1,000 roles (ten roles per scope, some
//! scopes bound to permissions), for a principal with a few roles.
//!
//! Also `Policy::apply` of one scope change on the quickstart policy: what each node pays per
//! replicated change.
//!
//!   cargo bench -p scopegate-core --bench grant

use criterion::{Criterion, criterion_group, criterion_main};
use scopegate_core::{
    EmptyGrant, Policy, PolicyDocument, PolicyEvent, Role, Scope, ScopeRequest, grant_scopes,
};
use std::hint::black_box;

fn large_policy(scopes: usize, roles: usize) -> Policy {
    let mut doc = PolicyDocument {
        allowlist: vec!["^device_.*".into(), "openid".into()],
        ..PolicyDocument::default()
    };
    for r in 0..roles {
        doc.roles.push(Role {
            name: format!("role-{r}"),
            permissions: vec![format!("/permission/area{}", r % 50)],
            description: String::new(),
        });
    }
    for s in 0..scopes {
        doc.scopes.push(Scope {
            key: format!("scope_{s}"),
            name: String::new(),
            description: String::new(),
            roles: (0..10)
                .map(|i| format!("role-{}", (s * 7 + i * 13) % roles))
                .collect(),
            permission: (s % 10 == 0).then(|| format!("/permission/area{}/s{s}", s % 50)),
        });
    }
    Policy::from_document(1, doc).expect("valid")
}

fn bench(c: &mut Criterion) {
    let policy = large_policy(10_000, 1_000);
    let roles: Vec<String> = ["role-1", "role-20", "role-333"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let three = ScopeRequest::parse("scope_7 scope_8 scope_9999").expect("valid");
    let mixed =
        ScopeRequest::parse("scope_1 scope_20 scope_3000 openid device_x nope").expect("valid");
    let system = ScopeRequest::parse("SYSTEM").expect("valid");
    c.bench_function("grant/3 scopes, 10k scopes x 1k roles", |b| {
        b.iter(|| grant_scopes(black_box(&policy), &roles, &three, EmptyGrant::Default))
    });
    c.bench_function("grant/6 scopes incl. allowlist", |b| {
        b.iter(|| grant_scopes(black_box(&policy), &roles, &mixed, EmptyGrant::Default))
    });
    c.bench_function("grant/SYSTEM", |b| {
        b.iter(|| grant_scopes(black_box(&policy), &roles, &system, EmptyGrant::Default))
    });
    // What every node pays per replicated change (Policy::apply: copy, validate, re-index).
    let quickstart: PolicyDocument = toml::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/quickstart/policy.toml"
        ))
        .expect("quickstart policy"),
    )
    .expect("valid toml");
    let small = Policy::from_document(1, quickstart).expect("valid");
    let put = PolicyEvent::PutScope(Scope {
        key: "bench_scope".into(),
        name: "changed".into(),
        description: String::new(),
        roles: vec!["manager".into()],
        permission: None,
    });
    c.bench_function("apply/put_scope, quickstart policy", |b| {
        b.iter(|| black_box(&small).apply(&put).expect("applies"))
    });
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("build policy 10k scopes x 1k roles", |b| {
        b.iter(|| large_policy(10_000, 1_000))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
