//! `Policy::match_request` on policies of 10, 1,000 and 50,000 resources (the largest is 1,000
//! APIs × 50 resources): the radix tree makes the cost of a match flat in the policy's size.
//!
//!   cargo bench -p scopegate-core --bench matching

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use scopegate_core::{Api, Method, Policy, PolicyDocument, Resource, RouteMatch, Scope, ScopeMode};
use std::hint::black_box;

/// Resource `r` of every API: literal, parameter, nested and wildcard templates in turn.
fn template(r: usize) -> String {
    match r % 4 {
        0 => format!("/res{r}"),
        1 => format!("/res{r}/{{id}}"),
        2 => format!("/res{r}/{{id}}/items/{{item}}"),
        _ => format!("/res{r}/*"),
    }
}

fn policy(apis: usize, resources: usize) -> Policy {
    let scopes = (0..100)
        .map(|s| Scope {
            key: format!("scope_{s}"),
            name: String::new(),
            description: String::new(),
            roles: vec![],
            permission: None,
        })
        .collect();
    let mut doc = PolicyDocument {
        scopes,
        ..PolicyDocument::default()
    };
    for a in 0..apis {
        doc.apis.push(Api {
            name: format!("Api{a}"),
            context: format!("/team{}/api{a}", a % 37),
            version: Some(format!("{}.0.0", a % 3 + 1)),
            default_version: a % 2 == 0,
            scopes: vec![],
            resources: (0..resources)
                .map(|r| Resource {
                    path: template(r),
                    scopes: vec![format!("scope_{}", r % 100)],
                    methods: [(Method::Post, vec![format!("scope_{}", (r + 1) % 100)])].into(),
                    mode: ScopeMode::AnyOf,
                })
                .collect(),
        });
    }
    Policy::from_document(1, doc).expect("valid")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("match_request");
    for (apis, resources) in [(1, 10), (20, 50), (1_000, 50)] {
        let p = policy(apis, resources);
        let a = apis / 2;
        let base = format!("/team{}/api{a}/{}.0.0", a % 37, a % 3 + 1);
        // The last nested template with two parameters, and the last `*`.
        let last = |kind: usize| (0..resources).rev().find(|r| r % 4 == kind).unwrap_or(0);
        let r = last(2);
        let path = format!("{base}/res{r}/42/items/7?expand=true");
        assert!(matches!(
            p.match_request("GET", &path),
            Ok(RouteMatch::Matched(_))
        ));
        let size = apis * resources;
        group.bench_with_input(BenchmarkId::new("nested", size), &path, |b, path| {
            b.iter(|| p.match_request(black_box("GET"), black_box(path)))
        });
        let wildcard = format!("{base}/res{}/a/b/c", last(3));
        group.bench_with_input(BenchmarkId::new("wildcard", size), &wildcard, |b, path| {
            b.iter(|| p.match_request(black_box("POST"), black_box(path)))
        });
        let missing = format!("{base}/nothing/here");
        assert!(matches!(
            p.match_request("GET", &missing),
            Ok(RouteMatch::NoResource { .. })
        ));
        group.bench_with_input(
            BenchmarkId::new("no_resource", size),
            &missing,
            |b, path| b.iter(|| p.match_request(black_box("GET"), black_box(path))),
        );
    }
    group.finish();
    let mut load = c.benchmark_group("load");
    load.sample_size(10);
    load.bench_function("build policy 1k APIs x 50 resources", |b| {
        b.iter(|| policy(1_000, 50))
    });
    load.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
