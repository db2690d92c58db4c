//! Resource matching: which API resource a request reaches, and which scopes it requires.
//!
//! A request is matched on its **canonical path** ([`normalize_path`]): query and fragment
//! dropped, empty segments (`//`, a trailing `/`) removed, every percent-encoding decoded and the
//! bytes re-encoded one way only (pchar bytes raw, everything else `%XX` in upper case), so
//! `/ord%65rs`, `/orders/` and `//orders` are all `/orders`. What a backend could read as a
//! different path is refused instead of guessed: `.`/`..` segments (raw or encoded), an encoded
//! `/` or `\` (or a raw `\`) inside a segment, control characters, percent-decoded bytes that are
//! not UTF-8, and `;` (servlet containers strip `;…` path parameters before routing).
//!
//! Every API claims `{context}/{version}` (or `{context}` without a version), plus `{context}`
//! when it is the default version. A resource template is literal segments, whole-segment
//! `{param}`s and an optional trailing `/*`, which matches any rest *including none*
//! (`/files/*` matches `/files`, `/files/a` and `/files/a/b`). When several resources match, the
//! most specific wins, compared segment by segment from the left, across APIs too: a literal
//! beats a `{param}`, a `{param}` beats `*`, and a resource that ends beats a `*` whose rest is
//! empty. The policy's literals go through the same canonicalization, so they match the same
//! requests. The matched resource decides alone: a method it does not expose is
//! [`RouteMatch::NoResource`] even if a less specific resource would expose it.
//!
//! All resources of a policy are compiled into one radix tree ([`matchit`]) when the snapshot is
//! built, so a lookup costs the same with ten resources or fifty thousand. Two resources of the
//! same shape (`/orders` and `/orders/`, or `/x/{id}` under `/a` and `/{id}` under `/a/x`)
//! are a policy problem naming both.
//!
//! The scopes a method needs (method names are case sensitive): the resource's list for that
//! method; for `HEAD`, else `GET`'s; else the resource's root list, which also covers methods
//! [`Method`] does not name (`TRACE`, `get`). A resource with per-method lists, none for this
//! method and no root list does not expose the method ([`RouteMatch::NoResource`]); a resource
//! without any list (or with an explicit empty one for the method) needs only a valid token. The
//! API-global scopes are then added to the list, as WSO2's "global scopes for API" are added to
//! every resource: with [`ScopeMode::AnyOf`] a global scope alone reaches every resource of its
//! API, with [`ScopeMode::AllOf`] it is needed in addition, and a resource without a list of its
//! own needs one of them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::model::{Method, ScopeMode};

mod compile;

/// The longest path (without its query) [`normalize_path`] accepts, in bytes.
pub const MAX_PATH_LEN: usize = 8 * 1024;

/// What a request needs: which API claimed it and which scopes (any one of / all of) it requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Name of the API that claimed the path (`ShoppingCartAPI`); small enough for a metrics label.
    pub api: String,
    /// The matched resource's path template as written in the policy (`/orders`).
    pub resource: String,
    /// The method's scopes (or the resource's root list), then the API-global scopes, without
    /// repeats. Empty: a valid token suffices.
    pub scopes: Vec<String>,
    /// Whether one of `scopes` suffices or all are needed (the resource's mode).
    pub mode: ScopeMode,
}

/// Why a request target has no canonical path; such requests must be refused, not matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The target does not start with `/` (absolute-form, `*`, or empty).
    #[error("the request path must start with '/'")]
    NotAbsolute,
    /// A `%` not followed by two hexadecimal digits.
    #[error("the request path has a '%' not followed by two hex digits")]
    BadPercentEncoding,
    /// A `.` or `..` segment, raw or percent-encoded: refused, never resolved.
    #[error("the request path has a '.' or '..' segment")]
    DotSegment,
    /// `%2F` or `%5C` inside a segment, or a raw `\`: some servers treat them as separators.
    #[error("the request path has an encoded '/' or a '\\' inside a segment")]
    EncodedSlash,
    /// A control character (NUL, CR, LF, DEL…), raw or percent-encoded.
    #[error("the request path has a control character")]
    ControlCharacter,
    /// Percent-decoded bytes that are not UTF-8 (overlong `%C0%AE` and the like).
    #[error("the request path does not decode to UTF-8")]
    InvalidUtf8,
    /// A `;`, raw or encoded: servlet containers strip `;…` path parameters before routing.
    #[error("the request path has a ';' (path parameter)")]
    PathParameter,
    /// Longer than [`MAX_PATH_LEN`].
    #[error("the request path is longer than {MAX_PATH_LEN} bytes")]
    TooLong,
}

/// Outcome of matching (method, path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMatch {
    /// A resource exposes the method on the path; the token must satisfy the requirement.
    Matched(Requirement),
    /// No API claims the path.
    NoApi,
    /// The API claims the path's prefix, but no resource matches, or the matching resource does
    /// not expose the method.
    NoResource {
        /// The API's name.
        api: String,
    },
}

/// Whether `granted` satisfies `req`: with [`ScopeMode::AnyOf`] at least one required scope is
/// granted (an empty list is satisfied: the resource only needs a valid token); with
/// [`ScopeMode::AllOf`] every one is.
pub fn satisfies(req: &Requirement, granted: &[&str]) -> bool {
    let held = |scope: &String| granted.contains(&scope.as_str());
    match req.mode {
        ScopeMode::AnyOf => req.scopes.is_empty() || req.scopes.iter().any(held),
        ScopeMode::AllOf => req.scopes.iter().all(held),
    }
}

/// Canonical form of a request target: query and fragment dropped, empty segments removed (`//`
/// and a trailing `/` collapse), percent-encodings decoded and re-encoded one way only, and
/// `.`/`..` segments, encoded slashes, control characters, `;` and non-UTF-8 refused. The result
/// starts with `/`, ends with `/` only when it is `/`, and is its own canonical form. Pure.
pub fn normalize_path(raw: &str) -> Result<String, PathError> {
    let path = raw.find(['?', '#']).map_or(raw, |end| &raw[..end]);
    if path.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong);
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let mut out = canonical(path)?;
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// `/`-joined canonical segments of `path`, empty segments skipped; `""` when none are left.
fn canonical(path: &str) -> Result<String, PathError> {
    let mut out = String::with_capacity(path.len());
    let mut buf = Vec::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        push_segment(segment, &mut buf, &mut out)?;
    }
    Ok(out)
}

/// Decodes `segment` into `buf`, checks it, and appends its canonical encoding to `out`.
fn push_segment(segment: &str, buf: &mut Vec<u8>, out: &mut String) -> Result<(), PathError> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    buf.clear();
    let mut bytes = segment.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().and_then(hex_value);
            let lo = bytes.next().and_then(hex_value);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(PathError::BadPercentEncoding);
            };
            buf.push(hi << 4 | lo);
        } else {
            buf.push(b);
        }
    }
    if buf == b"." || buf == b".." {
        return Err(PathError::DotSegment);
    }
    std::str::from_utf8(buf).map_err(|_| PathError::InvalidUtf8)?;
    for &b in buf.iter() {
        match b {
            b'/' | b'\\' => return Err(PathError::EncodedSlash),
            0..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
            b';' => return Err(PathError::PathParameter),
            _ if is_pchar(b) => out.push(char::from(b)),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
    Ok(())
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// RFC 3986 `pchar` less `pct-encoded` (and `;`, refused earlier): the bytes kept raw.
fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,=:@".contains(&b)
}

/// The compiled routes of one policy snapshot. Built once by [`Routes::build`]; read-only after.
#[derive(Default)]
pub(crate) struct Routes {
    /// Canonical full route (`/shopping/1.0.0/orders`) → index into `resources`. A radix tree:
    /// a lookup walks the path, never the list of resources.
    router: matchit::Router<usize>,
    /// The resources, with what is needed to build a [`Requirement`].
    resources: Vec<Compiled>,
    /// API name and global scopes, indexed by [`Compiled::api`].
    apis: Vec<(String, Vec<String>)>,
    /// Canonical API prefix (`/shopping/1.0.0`, `/shopping`) → index into `apis`, to tell
    /// [`RouteMatch::NoResource`] from [`RouteMatch::NoApi`] when the router finds nothing.
    prefixes: HashMap<String, usize>,
}

/// One resource as the lookup needs it.
struct Compiled {
    /// Index of its API in [`Routes::apis`].
    api: usize,
    /// The template as written, reported in [`Requirement::resource`].
    template: String,
    /// The root-level scopes.
    root: Vec<String>,
    /// The per-method scope lists.
    methods: BTreeMap<Method, Vec<String>>,
    /// How the scopes combine.
    mode: ScopeMode,
}

// === impl Routes ===

impl Routes {
    /// Matches `method` and the raw request target `path`; see the module documentation.
    pub(crate) fn lookup(&self, method: &str, path: &str) -> Result<RouteMatch, PathError> {
        let path = normalize_path(path)?;
        if let Ok(found) = self.router.at(&path)
            && let Some(resource) = self.resources.get(*found.value)
            && let Some((api, global)) = self.apis.get(resource.api)
        {
            return Ok(match resource.scopes_for(method) {
                Some(list) => {
                    let mut scopes = list.to_vec();
                    for scope in global {
                        if !scopes.contains(scope) {
                            scopes.push(scope.clone());
                        }
                    }
                    RouteMatch::Matched(Requirement {
                        api: api.clone(),
                        resource: resource.template.clone(),
                        scopes,
                        mode: resource.mode,
                    })
                }
                None => RouteMatch::NoResource { api: api.clone() },
            });
        }
        Ok(match self.api_claiming(&path) {
            Some(api) => RouteMatch::NoResource {
                api: api.to_owned(),
            },
            None => RouteMatch::NoApi,
        })
    }

    /// The API with the longest prefix that ends at a segment boundary of `path`, if any.
    fn api_claiming(&self, path: &str) -> Option<&str> {
        let mut end = path.len();
        loop {
            if let Some(&i) = self.prefixes.get(&path[..end]) {
                return self.apis.get(i).map(|(name, _)| name.as_str());
            }
            end = path[..end].rfind('/').filter(|&i| i > 0)?;
        }
    }
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routes")
            .field("apis", &self.apis.len())
            .field("resources", &self.resources.len())
            .finish_non_exhaustive()
    }
}

// === impl Compiled ===

impl Compiled {
    /// The resource's own list for `method`, or `None` when it does not expose the method.
    fn scopes_for(&self, method: &str) -> Option<&[String]> {
        if let Some(verb) = Method::parse(method) {
            if let Some(list) = self.methods.get(&verb) {
                return Some(list);
            }
            if verb == Method::Head
                && let Some(list) = self.methods.get(&Method::Get)
            {
                return Some(list);
            }
        }
        (!self.root.is_empty() || self.methods.is_empty()).then_some(self.root.as_slice())
    }
}
