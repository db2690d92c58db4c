//! The HTTP plumbing every admin handler shares: JSON bodies that name the wrong field,
//! `ETag`/`If-Match`/`If-None-Match` on the policy version, and the success answers.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::problem::{Problem, ProblemKind};
use crate::errors::ApiError;

/// The media type of a request body, lower case, without parameters; `""` when absent.
pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether `media` is JSON (`application/json` or any `…+json`).
pub fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// 415 naming what the route reads.
pub fn unsupported_media(media: &str, expected: &str) -> Problem {
    let shown: String = media.chars().take(64).collect();
    Problem::new(
        ProblemKind::UnsupportedMediaType,
        format!(
            "the request body must be {expected}, not {}",
            if shown.is_empty() {
                "untyped (no Content-Type)".to_owned()
            } else {
                format!("{shown:?}")
            }
        ),
    )
    .field("Content-Type", format!("expected {expected}"))
}

/// Reads at most `limit` bytes of body (413 above it).
pub async fn body_bytes(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, Problem> {
    crate::routes::read_body(req, payload, limit)
        .await
        .map_err(|e| match e {
            ApiError::PayloadTooLarge { limit } => Problem::new(
                ProblemKind::PayloadTooLarge,
                format!("the request body exceeds {limit} bytes (server.max_json_bytes)"),
            ),
            ApiError::RequestTimeout(why) => Problem::new(ProblemKind::RequestTimeout, why),
            other => Problem::new(ProblemKind::InvalidBody, other.to_string()),
        })
}

/// A JSON request body (`application/json`, at most `limit` bytes) as `T`; a body that does not
/// fit `T` is a 400 naming the field (`roles[0]`: "invalid type: integer `5`, expected a string").
pub async fn json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<T, Problem> {
    let media = media_type(req);
    if !is_json(&media) {
        return Err(unsupported_media(&media, "application/json"));
    }
    let bytes = body_bytes(req, payload, limit).await?;
    parse_json(&bytes)
}

/// Parses JSON into `T`, naming the field that did not fit. An array where an object is
/// expected is refused at any depth ([`crate::routes::json::Strict`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(crate::routes::json::Strict(&mut *de)).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let syntax = inner.is_syntax() || inner.is_eof();
            body_problem("JSON", &path, inner.to_string(), syntax)
        })?;
    de.end()
        .map_err(|e| body_problem("JSON", "", e.to_string(), true))?;
    Ok(value)
}

/// Parses TOML (the policy-file format) into `T`, naming the field that did not fit.
pub fn parse_toml<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Problem::new(
            ProblemKind::InvalidBody,
            format!("the request body is not UTF-8 text: {e}"),
        )
    })?;
    serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().message().to_owned();
        body_problem("TOML", &path, message, false)
    })
}

fn body_problem(format: &str, path: &str, message: String, syntax: bool) -> Problem {
    let field = field_of(path, &message);
    let detail = match (&field, syntax) {
        (_, true) | (None, false) => format!("the request body is not valid {format}: {message}"),
        (Some(f), false) => format!("{f}: {message}"),
    };
    let problem = Problem::new(ProblemKind::InvalidBody, detail);
    match field {
        Some(f) => problem.field(f, message),
        None => problem,
    }
}

/// The field a deserialization error is about: the path serde reached, completed by the field
/// a "missing field `x`" or "unknown field `x`" message names. `None` for the body as a whole.
fn field_of(path: &str, message: &str) -> Option<String> {
    let path = if path == "." { "" } else { path };
    // A bad map key: serde_path_to_error writes `?` where the key would be; the message has it.
    if let Some(map) = path
        .strip_suffix(".?")
        .or_else(|| (path == "?").then_some(""))
    {
        let key = quoted_in(message, "unknown variant `");
        return match key {
            Some(key) if !map.is_empty() => Some(format!("{map}.{key}")),
            Some(key) => Some(key.to_owned()),
            None => (!map.is_empty()).then(|| map.to_owned()),
        };
    }
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| quoted_in(message, prefix));
    let field = match named {
        Some(name) if path != name && !path.ends_with(&format!(".{name}")) => {
            if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        }
        _ => path.to_owned(),
    };
    (!field.is_empty()).then_some(field)
}

/// The text between `prefix` and the next backtick in `message`.
fn quoted_in<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let start = message.find(prefix)? + prefix.len();
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// `"<version>"`: the entity tag of the whole policy at `version`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The version a write must apply to, from `If-Match`: `None` without the header or with `*`
/// (unconditional); `Some(current)` when one of the listed tags is the current version; else a
/// 412 with the current version. A malformed header is a 400.
pub fn if_match(req: &HttpRequest, current: u64) -> Result<Option<u64>, Problem> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = |why: &str| {
        Problem::new(
            ProblemKind::InvalidRequest,
            format!("If-Match is malformed: {why}"),
        )
        .field(
            "If-Match",
            "send the ETag of a GET, a quoted policy version such as \"12\", or *",
        )
    };
    let value = value.to_str().map_err(|_| bad("not visible ASCII"))?.trim();
    if value == "*" {
        return Ok(None);
    }
    let mut versions = Vec::new();
    for tag in value.split(',').map(str::trim) {
        if tag.starts_with("W/") {
            return Err(bad(
                "weak tags never match (RFC 9110 section 13.1.1 compares strongly)",
            ));
        }
        let version = tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| bad(&format!("{tag:?} is not a quoted policy version")))?;
        versions.push(version);
    }
    if versions.contains(&current) {
        Ok(Some(current))
    } else {
        Err(Problem::precondition_failed(
            format!(
                "If-Match names {}, but the policy is at version {current}: it changed since \
                 you read it; reload and retry",
                value
            ),
            current,
        ))
    }
}

/// Whether `If-None-Match` already names `version` (a GET then answers 304).
pub fn not_modified(req: &HttpRequest, version: u64) -> bool {
    let tag = etag(version);
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == tag)
        })
}

fn with_etag(
    mut builder: actix_web::HttpResponseBuilder,
    version: u64,
) -> actix_web::HttpResponseBuilder {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        builder.insert_header((header::ETAG, value));
    }
    builder.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    builder
}

/// 200 with `body` as JSON and the policy version as `ETag`, or 304 if the client has it.
pub fn read(req: &HttpRequest, version: u64, body: &impl Serialize) -> HttpResponse {
    if not_modified(req, version) {
        return with_etag(HttpResponse::NotModified(), version).finish();
    }
    with_etag(HttpResponse::Ok(), version).json(body)
}

/// 200 with `body` of `content_type` and the policy version as `ETag`, never 304: the policy
/// export has several representations (JSON, TOML, with or without hashes) of one version.
pub fn export(version: u64, content_type: &'static str, body: String) -> HttpResponse {
    with_etag(HttpResponse::Ok(), version)
        .content_type(content_type)
        .body(body)
}

/// 200, or 201 with `Location` when the item did not exist before, with the new version.
pub fn written(created: Option<String>, version: u64, body: &impl Serialize) -> HttpResponse {
    let status = if created.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut builder = with_etag(HttpResponse::build(status), version);
    if let Some(location) = created.and_then(|l| HeaderValue::from_str(&l).ok()) {
        builder.insert_header((header::LOCATION, location));
    }
    builder.json(body)
}

/// 204 with the new version.
pub fn deleted(version: u64) -> HttpResponse {
    with_etag(HttpResponse::NoContent(), version).finish()
}

/// A path segment fit for a `Location` header (RFC 3986 unreserved characters kept).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        key: String,
        #[serde(default)]
        roles: Vec<String>,
        #[serde(default)]
        nested: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        path: String,
    }

    fn field(json: &str) -> Option<String> {
        let err = parse_json::<Body>(json.as_bytes()).expect_err("invalid");
        assert_eq!(err.status, 400);
        err.errors.first().map(|e| e.field.clone())
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(field(r#"{"roles": []}"#).as_deref(), Some("key"));
        assert_eq!(
            field(r#"{"key": "a", "rolez": []}"#).as_deref(),
            Some("rolez")
        );
        assert_eq!(
            field(r#"{"key": "a", "roles": [5]}"#).as_deref(),
            Some("roles[0]")
        );
        assert_eq!(field(r#"{"key": 1}"#).as_deref(), Some("key"));
        assert_eq!(
            field(r#"{"key": "a", "nested": [{"path": "/"}, {}]}"#).as_deref(),
            Some("nested[1].path")
        );
        assert_eq!(field("not json"), None);
    }

    #[test]
    fn an_array_is_no_object() {
        let err = parse_json::<Body>(br#"["a", ["b"], []]"#).expect_err("array");
        assert_eq!(err.status, 400);
        assert!(
            err.detail.contains("expected a JSON object"),
            "{}",
            err.detail
        );
        assert_eq!(
            field(r#"{"key": "a", "nested": [["/"]]}"#).as_deref(),
            Some("nested[0]")
        );
    }

    #[test]
    fn if_match_is_a_quoted_version_or_star() {
        let with = |v: &str| {
            TestRequest::default()
                .insert_header(("if-match", v))
                .to_http_request()
        };
        assert_eq!(
            if_match(&TestRequest::default().to_http_request(), 7).ok(),
            Some(None)
        );
        assert_eq!(if_match(&with("*"), 7).ok(), Some(None));
        assert_eq!(if_match(&with("\"7\""), 7).ok(), Some(Some(7)));
        assert_eq!(if_match(&with("\"6\", \"7\""), 7).ok(), Some(Some(7)));
        let stale = if_match(&with("\"6\""), 7).expect_err("412");
        assert_eq!((stale.status, stale.current_version), (412, Some(7)));
        assert_eq!(if_match(&with("7"), 7).expect_err("400").status, 400);
        assert_eq!(if_match(&with("W/\"7\""), 7).expect_err("400").status, 400);
    }
}
