use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use super::*;

const CC: &[u8] = b"grant_type=client_credentials&client_id=app&client_secret=s3cret";

fn basic_header(raw: &str) -> String {
    format!("Basic {}", STANDARD.encode(raw))
}

fn err(body: &[u8], auth: Option<&str>) -> TokenError {
    TokenRequest::parse(body, auth).unwrap_err()
}

#[test]
fn client_credentials_from_form_fields() {
    let req = TokenRequest::parse(
        b"grant_type=client_credentials&client_id=app&client_secret=s3cret&scope=b+a",
        None,
    )
    .unwrap();
    assert_eq!(req.client_id(), "app");
    assert_eq!(req.client.secret, "s3cret");
    assert_eq!(req.grant_type(), GrantType::ClientCredentials);
    assert_eq!(req.scope().scopes(), ["b", "a"]);
}

#[test]
fn basic_credentials_are_form_decoded_after_splitting_on_the_first_colon() {
    // id "my app", secret "p:w%d+ü" → urlencoded "my+app" : "p%3Aw%25d%2B%C3%BC"
    let header = basic_header("my+app:p%3Aw%25d%2B%C3%BC");
    let req = TokenRequest::parse(b"grant_type=client_credentials", Some(&header)).unwrap();
    assert_eq!(req.client_id(), "my app");
    assert_eq!(req.client.secret, "p:w%d+ü");
    // A raw ':' in the secret survives: only the first one splits.
    let header = basic_header("app:a:b");
    let req = TokenRequest::parse(b"grant_type=client_credentials", Some(&header)).unwrap();
    assert_eq!(req.client.secret, "a:b");
    // Scheme is case-insensitive, padding optional.
    let header = format!("basic {}", STANDARD_NO_PAD.encode("app:x"));
    let req = TokenRequest::parse(b"grant_type=client_credentials", Some(&header)).unwrap();
    assert_eq!(req.client_id(), "app");
}

#[test]
fn password_and_refresh_grants_carry_their_parameters() {
    let req = TokenRequest::parse(
        b"grant_type=password&username=alex&password=alex123&client_id=a&client_secret=b",
        None,
    )
    .unwrap();
    assert_eq!(req.grant_type(), GrantType::Password);
    assert!(matches!(&req.grant, Grant::Password { username, password }
        if username == "alex" && password == "alex123"));
    let req = TokenRequest::parse(
        b"grant_type=refresh_token&refresh_token=r1&client_id=a&client_secret=b",
        None,
    )
    .unwrap();
    assert!(matches!(&req.grant, Grant::RefreshToken { refresh_token } if refresh_token == "r1"));
    assert!(req.scope().is_empty());
}

#[test]
fn repeated_parameter_is_invalid_request_naming_it() {
    let e = err(
        b"grant_type=client_credentials&scope=a&scope=b&client_id=a&client_secret=b",
        None,
    );
    assert_eq!(e.code(), "invalid_request");
    assert!(e.description().contains("scope"), "{e}");
    let e = err(b"grant_type=password&grant_type=password", None);
    assert!(e.description().contains("grant_type"), "{e}");
    // Unknown parameters are ignored, even repeated; empty values count as omitted.
    TokenRequest::parse(
        b"grant_type=client_credentials&x=1&x=2&scope=&scope=a&client_id=a&client_secret=b",
        None,
    )
    .unwrap();
}

#[test]
fn missing_or_unknown_grant_type() {
    let e = err(b"client_id=a&client_secret=b", None);
    assert_eq!(e.code(), "invalid_request");
    assert!(e.description().contains("grant_type"));
    let e = err(
        b"grant_type=authorization_code&client_id=a&client_secret=b",
        None,
    );
    assert_eq!(e.code(), "unsupported_grant_type");
    // The description names what is supported, never echoes what was sent.
    assert!(!e.description().contains("authorization_code"), "{e}");
    assert!(e.description().contains("client_credentials"));
}

#[test]
fn basic_with_a_client_id_field_naming_the_same_client_is_one_method() {
    // RFC 6749 §2.3.1: Postman and other clients send the id in the body beside Basic.
    let header = basic_header("app:s3cret");
    let req = TokenRequest::parse(
        b"grant_type=client_credentials&client_id=app",
        Some(&header),
    )
    .unwrap();
    assert_eq!(
        (req.client_id(), req.client.secret.as_str()),
        ("app", "s3cret")
    );
    // The id is compared after Basic's form decoding.
    let header = basic_header("my+app:s3cret");
    let req = TokenRequest::parse(
        b"grant_type=client_credentials&client_id=my%20app",
        Some(&header),
    )
    .unwrap();
    assert_eq!(req.client_id(), "my app");
    let req = ClientRequest::parse(b"token=t&client_id=my+app", Some(&header)).unwrap();
    assert_eq!(req.client.id, "my app");
}

#[test]
fn both_authentication_methods_is_invalid_request() {
    let header = basic_header("app:s3cret");
    let e = err(CC, Some(&header));
    assert_eq!(e.code(), "invalid_request");
    // A client_id field naming another client than Basic.
    let e = err(
        b"grant_type=client_credentials&client_id=other",
        Some(&header),
    );
    assert_eq!(e.code(), "invalid_request");
    assert!(e.description().contains("another client"), "{e}");
    let e = err(
        b"grant_type=client_credentials&client_secret=x",
        Some(&header),
    );
    assert_eq!(e.code(), "invalid_request");
}

#[test]
fn malformed_basic_is_invalid_client() {
    let body = b"grant_type=client_credentials";
    for header in [
        "Basic !!!notbase64".to_owned(),
        basic_header("no-colon"),
        format!("Basic {}", STANDARD.encode([0xff, 0xfe, b':', b'x'])),
        basic_header("app:bad%zz"),
        basic_header("app:%ff"),
        basic_header(":secret"),
        "Basic".to_owned(),
        "Bearer abc".to_owned(),
    ] {
        let e = err(body, Some(&header));
        assert_eq!(e.code(), "invalid_client", "{header}: {e}");
        assert_eq!(e.status(), 401);
    }
}

#[test]
fn missing_client_authentication_is_invalid_client() {
    for body in [
        &b"grant_type=client_credentials"[..],
        b"grant_type=client_credentials&client_id=app",
        b"grant_type=client_credentials&client_secret=s",
    ] {
        assert_eq!(err(body, None).code(), "invalid_client");
    }
}

#[test]
fn malformed_scope_is_invalid_scope() {
    let e = err(
        b"grant_type=client_credentials&client_id=a&client_secret=b&scope=a%22b",
        None,
    );
    assert_eq!(e.code(), "invalid_scope");
}

#[test]
fn grants_require_their_parameters() {
    let e = err(
        b"grant_type=password&password=p&client_id=a&client_secret=b",
        None,
    );
    assert_eq!(e.code(), "invalid_request");
    assert!(e.description().contains("username"));
    let e = err(
        b"grant_type=password&username=u&client_id=a&client_secret=b",
        None,
    );
    assert!(e.description().contains("password"));
    let e = err(
        b"grant_type=refresh_token&client_id=a&client_secret=b",
        None,
    );
    assert_eq!(e.code(), "invalid_request");
    assert!(e.description().contains("refresh_token"));
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let req = TokenRequest::parse(
        b"grant_type=password&username=alex&password=hunter2pw&client_id=app&client_secret=s3cret",
        None,
    )
    .unwrap();
    let debug = format!("{req:?}");
    assert!(debug.contains("alex") && debug.contains("app"));
    assert!(
        !debug.contains("hunter2pw") && !debug.contains("s3cret"),
        "{debug}"
    );
    let req = TokenRequest::parse(
        b"grant_type=refresh_token&refresh_token=rt-value&client_id=app&client_secret=s3cret",
        None,
    )
    .unwrap();
    assert!(!format!("{req:?}").contains("rt-value"));
    let header = basic_header("app:s3cret-no-percent%");
    let e = err(b"grant_type=client_credentials", Some(&header));
    assert!(!e.description().contains("s3cret"), "{e}");
}

#[test]
fn form_decode_is_strict() {
    assert_eq!(form_decode("a+b%20c").as_deref(), Some("a b c"));
    assert_eq!(form_decode("%C3%BC").as_deref(), Some("ü"));
    assert_eq!(form_decode("%4"), None);
    assert_eq!(form_decode("%g0"), None);
    assert_eq!(form_decode("%c3"), None);
}

mod client_request {
    use crate::request::ClientRequest;

    #[test]
    fn needs_a_token_and_one_client_authentication() {
        let basic = "Basic c2hvcHBpbmctYXBwOnNob3BwaW5nLXNlY3JldA==";
        let r = ClientRequest::parse(b"token=abc&token_type_hint=access_token", Some(basic))
            .expect("valid");
        assert_eq!(r.token(), "abc");
        assert_eq!(r.token_type_hint(), Some("access_token"));
        assert!(!format!("{r:?}").contains("abc"), "the token is redacted");
        assert!(!format!("{r:?}").contains("shopping-secret"));
        let e = ClientRequest::parse(b"token_type_hint=access_token", Some(basic))
            .expect_err("no token");
        assert_eq!(e.code(), "invalid_request");
        let e = ClientRequest::parse(b"token=a&token=b", Some(basic)).expect_err("twice");
        assert_eq!(e.code(), "invalid_request");
        let e = ClientRequest::parse(b"token=a", None).expect_err("no client");
        assert_eq!(e.code(), "invalid_client");
    }
}
