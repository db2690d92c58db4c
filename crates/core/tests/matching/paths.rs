//! Path canonicalization: examples, idempotence, and path noise that never reaches another
//! requirement than the canonical path's.

use super::*;
use proptest::prelude::*;

#[test]
fn trailing_slashes_and_empty_segments_are_insignificant() {
    let p = quickstart();
    for path in [
        "/shopping/1.0.0/orders/",
        "//shopping/1.0.0/orders",
        "/shopping//1.0.0///orders//",
        "/shopping/1.0.0/orders/?q=/../admin",
    ] {
        assert_eq!(required(&p, "GET", path), ["order_view"], "{path}");
    }
}

#[test]
fn normalize_path_decodes_once_and_refuses_ambiguity() {
    let ok = |raw: &str| normalize_path(raw).expect(raw);
    assert_eq!(ok("/shopping/1.0.0/ord%65rs"), "/shopping/1.0.0/orders");
    assert_eq!(ok("/a%3ab/%7e%41"), "/a:b/~A");
    assert_eq!(
        ok("/a b/{x}/caf\u{e9}/%c3%a9"),
        "/a%20b/%7Bx%7D/caf%C3%A9/%C3%A9"
    );
    assert_eq!(ok("/x%25y/a+b/..."), "/x%25y/a+b/...");
    assert_eq!(ok("/"), "/");
    assert_eq!(ok("//?x"), "/");
    let err = |raw: &str| normalize_path(raw).expect_err(raw);
    assert_eq!(err(""), PathError::NotAbsolute);
    assert_eq!(err("?/a"), PathError::NotAbsolute);
    assert_eq!(err("http://host/shopping/orders"), PathError::NotAbsolute);
    assert_eq!(err("/a/%zz"), PathError::BadPercentEncoding);
    assert_eq!(err("/a/%4"), PathError::BadPercentEncoding);
    for dots in [
        "/a/./b",
        "/a/../b",
        "/a/%2e%2E/b",
        "/a/.%2e",
        "/a/%2e",
        "/..",
    ] {
        assert_eq!(err(dots), PathError::DotSegment, "{dots}");
    }
    for slash in ["/a%2Fb", "/a%2fb", "/a%5Cb", "/a\\..\\b"] {
        assert_eq!(err(slash), PathError::EncodedSlash, "{slash}");
    }
    for control in ["/a%00b", "/a\0b", "/a%0d%0a", "/a%7F", "/a\tb"] {
        assert_eq!(err(control), PathError::ControlCharacter, "{control}");
    }
    assert_eq!(err("/a%FF"), PathError::InvalidUtf8);
    assert_eq!(err("/a%C0%AE%C0%AE/b"), PathError::InvalidUtf8);
    assert_eq!(err("/orders;jsessionid=1"), PathError::PathParameter);
    assert_eq!(err("/orders%3B.css"), PathError::PathParameter);
    let long = format!("/{}", "a".repeat(MAX_PATH_LEN));
    assert_eq!(err(&long), PathError::TooLong);
    assert!(normalize_path(&format!("/a?{}", "q".repeat(2 * MAX_PATH_LEN))).is_ok());
}

#[test]
fn tricky_targets_reach_their_canonical_resource_or_nothing() {
    let p = quickstart();
    let order_view = || {
        Ok(RouteMatch::Matched(matched(
            &p,
            "GET",
            "/shopping/1.0.0/orders",
        )))
    };
    for path in [
        "/shopping/1.0.0/ord%65rs",
        "/shopping/1.0.0//orders",
        "/%73hopping/orders",
    ] {
        assert_eq!(p.match_request("GET", path), order_view(), "{path}");
    }
    for (path, e) in [
        ("/shopping/1.0.0/./orders", PathError::DotSegment),
        ("/shopping/1.0.0/x/../orders", PathError::DotSegment),
        ("/shopping/1.0.0/%2e%2e/orders", PathError::DotSegment),
        ("/shopping/1.0.0%2Forders", PathError::EncodedSlash),
        ("/shopping/1.0.0/orders%00", PathError::ControlCharacter),
        ("/shopping/1.0.0/orders%FF", PathError::InvalidUtf8),
    ] {
        assert_eq!(p.match_request("GET", path), Err(e), "{path}");
    }
}

#[derive(Debug, Clone)]
enum Noise {
    /// Percent-encode the character at this place (always equivalent).
    Encode(usize, bool),
    /// An empty segment (`//`) here (always equivalent).
    Empty(usize),
    /// A `.` segment in one of its spellings here (refused).
    Dot(usize, usize),
    /// `junk/..` in one of its spellings here (refused).
    DotDot(usize, usize),
    /// The `/` before this segment encoded (refused).
    Slash(usize, bool),
}

fn noise() -> impl Strategy<Value = Noise> {
    prop_oneof![
        (any::<usize>(), any::<bool>()).prop_map(|(i, u)| Noise::Encode(i, u)),
        any::<usize>().prop_map(Noise::Empty),
        (any::<usize>(), 0..3usize).prop_map(|(i, v)| Noise::Dot(i, v)),
        (any::<usize>(), 0..4usize).prop_map(|(i, v)| Noise::DotDot(i, v)),
        (any::<usize>(), any::<bool>()).prop_map(|(i, u)| Noise::Slash(i, u)),
    ]
}

/// Applies `noise` to the segments; returns whether the result must still be accepted.
fn apply(segments: &mut Vec<String>, noise: &Noise) -> bool {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match noise {
        Noise::Encode(i, upper) => {
            let s = at(*i, segments.len());
            let Some(segment) = segments.get_mut(s).filter(|seg| !seg.is_empty()) else {
                return true;
            };
            let c = *i / 7 % segment.len();
            // Not a '%' nor a digit of an encoding already there.
            let encoded = segment.as_bytes()[c.saturating_sub(2)..=c].contains(&b'%');
            if let Some(ch) = segment.get(c..=c).filter(|_| !encoded) {
                let hex = format!("%{:02x}", ch.as_bytes()[0]);
                let hex = if *upper { hex.to_uppercase() } else { hex };
                segment.replace_range(c..=c, &hex);
            }
            true
        }
        Noise::Empty(i) => {
            segments.insert(at(*i, segments.len() + 1), String::new());
            true
        }
        Noise::Dot(i, v) => {
            let dot = [".", "%2e", "%2E"][*v];
            segments.insert(at(*i, segments.len() + 1), dot.to_owned());
            false
        }
        Noise::DotDot(i, v) => {
            let dots = ["..", "%2e%2e", ".%2E", "%2E."][*v];
            let s = at(*i, segments.len() + 1);
            segments.insert(s, dots.to_owned());
            segments.insert(s, "junk".to_owned());
            false
        }
        Noise::Slash(i, upper) => {
            let s = at(*i, segments.len());
            if s + 1 < segments.len() {
                let next = segments.remove(s + 1);
                let sep = if *upper { "%2F" } else { "%2f" };
                segments[s] = format!("{}{sep}{next}", segments[s]);
                return false;
            }
            true
        }
    }
}

const TARGETS: &[&str] = &[
    "/shopping/1.0.0/orders",
    "/shopping/orders",
    "/shopping/1.0.0/items",
    "/news",
    "/api/users/v1/u-42/challenges",
    "/api/users/v1/u-42",
    "/shopping/1.0.0/unknown",
    "/nope/orders",
];

proptest! {
    #[test]
    fn normalize_path_is_idempotent_and_canonical(
        pieces in proptest::collection::vec(prop_oneof![
            Just("a"), Just("."), Just(".."), Just("%2e"), Just("%2E%2e"), Just("%41"),
            Just("%"), Just("%zz"), Just(""), Just("?q"), Just("#f"), Just("é"), Just("%C3%A9"),
            Just("%FF"), Just("%00"), Just("x y"), Just("%2f"), Just("\\"), Just(";"),
            Just("{p}"), Just("%25"), Just("%3F"), Just("+"),
        ], 0..8),
        raw in "[/.%0-9a-fA-F?#; a-z\u{e9}\u{0}\\\\]{0,40}",
    ) {
        for input in [format!("/{}", pieces.join("/")), raw] {
            let Ok(out) = normalize_path(&input) else { continue };
            let again = normalize_path(&out);
            prop_assert_eq!(again.as_ref(), Ok(&out), "{}", input);
            prop_assert!(out.starts_with('/'));
            prop_assert!(out == "/" || !out.ends_with('/'), "{}", out);
            for bad in ["/./", "/../", "//", "?", "#", ";", "\\"] {
                prop_assert!(!out.contains(bad), "{:?} -> {:?}", input, out);
            }
            prop_assert!(!out.ends_with("/.") && !out.ends_with("/.."), "{}", out);
        }
    }

    #[test]
    fn path_noise_never_reaches_another_requirement(
        target in proptest::sample::select(TARGETS),
        noises in proptest::collection::vec(noise(), 1..5),
        method in proptest::sample::select(&["GET", "POST", "HEAD", "DELETE"][..]),
        query in any::<bool>(),
    ) {
        let policy = quickstart();
        let canonical = policy.match_request(method, target);
        prop_assert!(canonical.is_ok());
        let mut segments: Vec<String> =
            target.split('/').skip(1).map(str::to_owned).collect();
        let mut accepted = true;
        for n in &noises {
            accepted &= apply(&mut segments, n);
        }
        let mut noisy = format!("/{}", segments.join("/"));
        if query {
            noisy.push_str("?next=/../admin#/x");
        }
        let got = policy.match_request(method, &noisy);
        if accepted {
            prop_assert_eq!(&got, &canonical, "{}", noisy);
        } else {
            prop_assert!(got.is_err() || got == canonical, "{} gave {:?}", noisy, got);
        }
    }
}
