//! Generated policies: a path built from a template reaches that resource (or a more specific
//! one), and the radix tree agrees with a plain scan of every route.

use super::*;
use proptest::prelude::*;

const CONTEXTS: &[&str] = &["/x", "/x/a", "/z", "/x/a/b"];
const VERSIONS: &[Option<&str>] = &[None, Some("v1"), Some("2.0")];

/// One template segment: a literal from a small alphabet, a parameter, or (last) `*`.
fn template() -> impl Strategy<Value = String> {
    let segment = prop_oneof![Just("a"), Just("b"), Just("c"), Just("{}")];
    (proptest::collection::vec(segment, 0..4), 0..4u8).prop_map(|(segments, star)| {
        let mut out = String::new();
        for (i, s) in segments.iter().enumerate() {
            match *s {
                "{}" => out.push_str(&format!("/{{p{i}}}")),
                lit => out.push_str(&format!("/{lit}")),
            }
        }
        if star == 0 {
            out.push_str("/*");
        }
        if out.is_empty() { "/".to_owned() } else { out }
    })
}

/// 1–3 APIs on distinct contexts, each with distinct templates; resource `k` needs `s{k}`.
fn generated() -> impl Strategy<Value = PolicyDocument> {
    let one = (
        0..VERSIONS.len(),
        any::<bool>(),
        proptest::collection::vec(template(), 1..8),
    );
    (
        proptest::sample::subsequence(CONTEXTS, 1..4),
        proptest::collection::vec(one, 3),
    )
        .prop_map(|(contexts, apis)| {
            let mut doc = PolicyDocument::default();
            let mut k = 0;
            for (i, (context, (version, default, mut templates))) in
                contexts.iter().zip(apis).enumerate()
            {
                templates.sort();
                templates.dedup();
                let version = VERSIONS[version].map(str::to_owned);
                let resources = templates
                    .iter()
                    .map(|t| {
                        k += 1;
                        doc.scopes.push(scope(&format!("s{k}")));
                        resource(t, &[&format!("s{k}")], &[])
                    })
                    .collect();
                let mut a = api(&format!("Api{i}"), context, None, resources);
                a.default_version = default && version.is_some();
                a.version = version;
                doc.apis.push(a);
            }
            doc
        })
}

/// A concrete path for `template` under `prefix`: fresh parameter values, `rest` segments
/// for a `*`, and maybe a trailing slash.
fn concrete(prefix: &str, template: &str, n: usize, rest: usize, slash: bool) -> String {
    let mut out = prefix.to_owned();
    for segment in template.split('/').filter(|s| !s.is_empty()) {
        match segment {
            "*" => (0..rest).for_each(|j| out.push_str(&format!("/r{j}"))),
            s if s.starts_with('{') => out.push_str(&format!("/id{n}")),
            s => out.push_str(&format!("/{s}")),
        }
    }
    if slash || out.is_empty() {
        out.push('/');
    }
    out
}

fn prefixes(a: &Api) -> Vec<String> {
    let mut out = vec![match &a.version {
        Some(v) => format!("{}/{v}", a.context),
        None => a.context.clone(),
    }];
    if a.default_version {
        out.push(a.context.clone());
    }
    out
}

/// What a plain scan says: the (API, template) whose route matches `path` and is the most
/// specific, segment by segment (literal, then parameter, then `*`); or the API with the
/// longest prefix of the path, or none.
fn oracle(doc: &PolicyDocument, path: &str) -> RouteMatch {
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut best: Option<(Vec<u8>, Requirement)> = None;
    let mut claimed: Option<(usize, &str)> = None;
    for a in &doc.apis {
        for prefix in prefixes(a) {
            let prefix: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
            if path.starts_with(&prefix) && claimed.is_none_or(|(n, _)| n < prefix.len()) {
                claimed = Some((prefix.len(), &a.name));
            }
            for r in &a.resources {
                let mut route = prefix.clone();
                route.extend(r.path.split('/').filter(|s| !s.is_empty()));
                let Some(rank) = rank(&route, &path) else {
                    continue;
                };
                if best.as_ref().is_none_or(|(b, _)| rank < *b) {
                    let req = Requirement {
                        api: a.name.clone(),
                        resource: r.path.clone(),
                        scopes: r.scopes.clone(),
                        mode: r.mode,
                    };
                    best = Some((rank, req));
                }
            }
        }
    }
    match (best, claimed) {
        (Some((_, req)), _) => RouteMatch::Matched(req),
        (None, Some((_, api))) => RouteMatch::NoResource {
            api: api.to_owned(),
        },
        (None, None) => RouteMatch::NoApi,
    }
}

/// How specifically `route` matches `path` (lower is more specific), or `None`.
fn rank(route: &[&str], path: &[&str]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for (i, segment) in route.iter().enumerate() {
        if *segment == "*" {
            out.push(2);
            return Some(out);
        }
        let given = path.get(i)?;
        out.push(match *segment {
            s if s.starts_with('{') => 1,
            s if s == *given => 0,
            _ => return None,
        });
    }
    (route.len() == path.len()).then_some(out)
}

/// The generated policy, or `None` if it was refused for overlapping routes (only that).
fn compiled(doc: &PolicyDocument) -> Result<Option<Policy>, TestCaseError> {
    match Policy::from_document(1, doc.clone()) {
        Ok(p) => Ok(Some(p)),
        Err(PolicyError::Invalid(problems)) => {
            for problem in &problems {
                prop_assert!(problem.message.contains("overlaps"), "{problem}");
            }
            Ok(None)
        }
        Err(e) => Err(TestCaseError::fail(e.to_string())),
    }
}

proptest! {
    #[test]
    fn a_path_built_from_a_template_reaches_that_resource_or_a_more_specific_one(
        doc in generated(), n in 0usize..1000, rest in 0usize..3, slash in any::<bool>(),
    ) {
        let Some(policy) = compiled(&doc)? else { return Ok(()) };
        for a in &doc.apis {
            for r in &a.resources {
                for prefix in prefixes(a) {
                    let path = concrete(&prefix, &r.path, n, rest, slash);
                    let got = matched(&policy, "GET", &path);
                    let RouteMatch::Matched(expected) = oracle(&doc, &path) else {
                        return Err(TestCaseError::fail(format!("{path} matches nothing")));
                    };
                    prop_assert_eq!(&got, &expected, "{}", path);
                    // Only a `*` (or a `*`'s empty rest) can lose to a more specific resource.
                    if !r.path.ends_with('*') {
                        prop_assert_eq!((&got.api, &got.resource), (&a.name, &r.path));
                    }
                }
            }
        }
    }

    #[test]
    fn the_radix_tree_agrees_with_a_plain_scan(
        doc in generated(),
        paths in proptest::collection::vec((any::<usize>(), proptest::collection::vec(
            proptest::sample::select(&["x", "y", "v1", "2.0", "a", "b", "c", "id1"][..]),
            0..5,
        )), 30),
    ) {
        let Some(policy) = compiled(&doc)? else { return Ok(()) };
        let mut starts: Vec<String> = doc.apis.iter().flat_map(prefixes).collect();
        starts.push(String::new());
        for (start, segments) in paths {
            let start = &starts[start % starts.len()];
            let path = format!("{start}/{}", segments.join("/"));
            let got = policy.match_request("GET", &path);
            prop_assert_eq!(got, Ok(oracle(&doc, &path)), "{}", path);
        }
    }
}
