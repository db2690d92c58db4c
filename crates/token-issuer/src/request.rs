//! [`TokenRequest`]: a token request parsed from the form body and the `Authorization` header.
//!
//! Parsing is pure and complete: once a [`TokenRequest`] exists, every parameter the grant needs
//! is present and well formed, so the service only decides, never re-validates syntax.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use scopegate_core::{GrantType, ScopeRequest};

use crate::error::TokenError;

/// Standard base64 that accepts credentials with or without `=` padding, as clients differ.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The parameters the token endpoint reads; any other parameter is ignored (RFC 6749 §3.2).
const KNOWN: [&str; 9] = [
    "grant_type",
    "scope",
    "username",
    "password",
    "refresh_token",
    "client_id",
    "client_secret",
    "token",
    "token_type_hint",
];

/// A checked token request: who the client claims to be, which grant, which scopes.
#[derive(Clone)]
pub struct TokenRequest {
    /// The client's credentials, from HTTP Basic or the form.
    pub(crate) client: ClientCredentials,
    /// The grant and its own parameters.
    pub(crate) grant: Grant,
    /// The requested scopes; empty when `scope` was absent.
    pub(crate) scope: ScopeRequest,
    /// Where the request came from, when the server knows.
    pub(crate) source: Option<IpAddr>,
}

/// A client id and the secret presented for it (not yet verified).
#[derive(Clone)]
pub(crate) struct ClientCredentials {
    /// The claimed client id.
    pub(crate) id: String,
    /// The presented secret, in clear; only ever handed to argon2 and the HMAC of the cache.
    pub(crate) secret: String,
}

/// A grant with the parameters it needs.
#[derive(Clone)]
pub(crate) enum Grant {
    /// `client_credentials`: the client acts for itself.
    ClientCredentials,
    /// `password`: the resource owner's credentials.
    Password {
        /// The user's login name.
        username: String,
        /// The user's password, in clear; only ever handed to argon2.
        password: String,
    },
    /// `refresh_token`: an opaque refresh token issued earlier.
    RefreshToken {
        /// The presented refresh token.
        refresh_token: String,
    },
}

// === impl TokenRequest ===

impl TokenRequest {
    /// Parses an `application/x-www-form-urlencoded` body and the optional `Authorization`
    /// header value. No IO; the route has already checked the content type and size.
    pub fn parse(form_body: &[u8], authorization: Option<&str>) -> Result<Self, TokenError> {
        let mut params = Params::parse(form_body)?;
        let grant_type = params
            .take("grant_type")
            .ok_or_else(|| TokenError::request("missing parameter grant_type"))?;
        let grant_type = GrantType::parse(&grant_type).ok_or_else(|| {
            TokenError::UnsupportedGrantType(
                "the grant_type is not supported (use password, client_credentials or \
                 refresh_token)"
                    .to_owned(),
            )
        })?;
        let client = client_credentials(
            authorization,
            params.take("client_id"),
            params.take("client_secret"),
        )?;
        let grant = match grant_type {
            GrantType::ClientCredentials => Grant::ClientCredentials,
            GrantType::Password => Grant::Password {
                username: params.require("username")?,
                password: params.require("password")?,
            },
            GrantType::RefreshToken => Grant::RefreshToken {
                refresh_token: params.require("refresh_token")?,
            },
        };
        let scope = ScopeRequest::parse(params.take("scope").as_deref().unwrap_or_default())
            .map_err(|e| TokenError::scope(e.to_string()))?;
        Ok(Self {
            client,
            grant,
            scope,
            source: None,
        })
    }

    /// The request with the address it came from (the peer, or the client address a trusted
    /// proxy reported), which the sign-in throttle counts failures against.
    pub fn with_source(mut self, address: Option<IpAddr>) -> Self {
        self.source = address;
        self
    }

    /// The client id the request claims (not yet authenticated).
    pub fn client_id(&self) -> &str {
        &self.client.id
    }

    /// The requested grant type.
    pub fn grant_type(&self) -> GrantType {
        match self.grant {
            Grant::ClientCredentials => GrantType::ClientCredentials,
            Grant::Password { .. } => GrantType::Password,
            Grant::RefreshToken { .. } => GrantType::RefreshToken,
        }
    }

    /// The username of a password grant (not yet authenticated).
    pub fn username(&self) -> Option<&str> {
        match &self.grant {
            Grant::Password { username, .. } => Some(username),
            _ => None,
        }
    }

    /// The requested scopes (empty when `scope` was absent).
    pub fn scope(&self) -> &ScopeRequest {
        &self.scope
    }
}

/// A client-authenticated request about a token: introspection (RFC 7662) or revocation
/// (RFC 7009). Same client authentication rules as the token endpoint.
#[derive(Clone)]
pub struct ClientRequest {
    /// Who the client claims to be, and its secret.
    pub(crate) client: ClientCredentials,
    /// The token the request is about.
    token: String,
    /// `access_token` or `refresh_token`, when the client says which (a hint only).
    token_type_hint: Option<String>,
    /// Where the request came from, when the server knows.
    pub(crate) source: Option<IpAddr>,
}

impl ClientRequest {
    /// Parses the form body and the `Authorization` header. `token` is required.
    pub fn parse(form_body: &[u8], authorization: Option<&str>) -> Result<Self, TokenError> {
        let mut params = Params::parse(form_body)?;
        let client = client_credentials(
            authorization,
            params.take("client_id"),
            params.take("client_secret"),
        )?;
        let token = params.require("token")?;
        Ok(Self {
            client,
            token,
            token_type_hint: params.take("token_type_hint"),
            source: None,
        })
    }

    /// The request with the address it came from (see [`TokenRequest::with_source`]).
    pub fn with_source(mut self, address: Option<IpAddr>) -> Self {
        self.source = address;
        self
    }

    /// The token the request is about.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The client's hint about the token's type.
    pub fn token_type_hint(&self) -> Option<&str> {
        self.token_type_hint.as_deref()
    }
}

/// Shows the client id and the hint; the secret and the token are redacted.
impl fmt::Debug for ClientRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRequest")
            .field("client_id", &self.client.id)
            .field("client_secret", &"<redacted>")
            .field("token", &"<redacted>")
            .field("token_type_hint", &self.token_type_hint)
            .finish()
    }
}

/// Shows the client id, grant and scopes; the secret, password and refresh token are redacted.
impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("TokenRequest");
        s.field("client_id", &self.client.id)
            .field("client_secret", &"<redacted>")
            .field("grant_type", &self.grant_type().as_str());
        match &self.grant {
            Grant::ClientCredentials => {}
            Grant::Password { username, .. } => {
                s.field("username", username)
                    .field("password", &"<redacted>");
            }
            Grant::RefreshToken { .. } => {
                s.field("refresh_token", &"<redacted>");
            }
        }
        s.field("scope", &self.scope.scopes()).finish()
    }
}

/// The known parameters of one request, each at most once.
struct Params {
    values: [Option<String>; KNOWN.len()],
}

impl Params {
    fn parse(body: &[u8]) -> Result<Self, TokenError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
            TokenError::request("the body is not an application/x-www-form-urlencoded form")
        })?;
        let mut values: [Option<String>; KNOWN.len()] = Default::default();
        for (name, value) in pairs {
            // RFC 6749 §3.1: a parameter without a value is treated as omitted.
            if value.is_empty() {
                continue;
            }
            let Some(i) = KNOWN.iter().position(|k| *k == name) else {
                continue;
            };
            if values[i].is_some() {
                return Err(TokenError::request(format!(
                    "parameter {} is repeated (RFC 6749 section 3.2)",
                    KNOWN[i]
                )));
            }
            values[i] = Some(value);
        }
        Ok(Self { values })
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let i = KNOWN.iter().position(|k| *k == name)?;
        self.values[i].take()
    }

    fn require(&mut self, name: &'static str) -> Result<String, TokenError> {
        self.take(name)
            .ok_or_else(|| TokenError::request(format!("missing parameter {name}")))
    }
}

/// The client credentials from exactly one method: HTTP Basic or the form fields.
///
/// A `client_id` form field beside HTTP Basic is allowed when it names the same client (RFC
/// 6749 §2.3.1 lets a client send its id in the body; Postman and others send both); naming
/// another client, or a `client_secret` field beside Basic, is two methods and refused.
fn client_credentials(
    authorization: Option<&str>,
    form_id: Option<String>,
    form_secret: Option<String>,
) -> Result<ClientCredentials, TokenError> {
    match (authorization, form_id, form_secret) {
        (Some(_), _, Some(_)) => Err(TokenError::request(
            "use one client authentication method: HTTP Basic or the client_id and \
             client_secret form fields, not both (RFC 6749 section 2.3)",
        )),
        (Some(header), Some(form_id), None) => {
            let credentials = basic(header)?;
            if credentials.id != form_id {
                return Err(TokenError::request(
                    "the client_id form field names another client than the HTTP Basic \
                     credentials (RFC 6749 section 2.3.1)",
                ));
            }
            Ok(credentials)
        }
        (Some(header), None, None) => basic(header),
        (None, Some(id), Some(secret)) => Ok(ClientCredentials { id, secret }),
        (None, Some(_), None) | (None, None, Some(_)) => Err(TokenError::client(
            "client authentication needs both client_id and client_secret",
        )),
        (None, None, None) => Err(TokenError::client(
            "client authentication is required (HTTP Basic or client_id and client_secret)",
        )),
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1, RFC 7617).
fn basic(header: &str) -> Result<ClientCredentials, TokenError> {
    let malformed =
        |what: &str| TokenError::client(format!("malformed HTTP Basic credentials: {what}"));
    let (scheme, encoded) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| malformed("expected `Basic <credentials>`"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::client(
            "unsupported authentication scheme; use HTTP Basic",
        ));
    }
    let decoded = BASIC
        .decode(encoded.trim())
        .map_err(|_| malformed("not base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| malformed("not UTF-8"))?;
    let (id, secret) = text.split_once(':').ok_or_else(|| malformed("no ':'"))?;
    let id = form_decode(id).ok_or_else(|| malformed("client id is not form-urlencoded UTF-8"))?;
    let secret =
        form_decode(secret).ok_or_else(|| malformed("secret is not form-urlencoded UTF-8"))?;
    if id.is_empty() {
        return Err(malformed("empty client id"));
    }
    Ok(ClientCredentials { id, secret })
}

/// Decodes `application/x-www-form-urlencoded` text strictly: `+` is a space, `%XX` a byte, a
/// broken escape or a non-UTF-8 result is `None`.
fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(bytes.next()?)?;
                let lo = hex(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
