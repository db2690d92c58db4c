//! The RFC 9068 access-token claim set.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The claims of a scopegate access token (RFC 9068 §2.2).
///
/// Every token scopegate issues carries all of these; a token missing one is
/// refused as malformed, so holders of a verified `AccessTokenClaims` never
/// have to handle absent values.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AccessTokenClaims {
    /// Issuer: the scopegate base URL that signed the token.
    pub iss: String,
    /// Subject: the user name for user grants, the client id for `client_credentials`.
    pub sub: String,
    /// Audience: the resource server(s) the token is meant for.
    pub aud: Audience,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: u64,
    /// Not-before time, seconds since the Unix epoch (usually equal to `iat`).
    pub nbf: u64,
    /// Unique token id; the revocation list is keyed by it.
    pub jti: String,
    /// The OAuth2 client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space separated (RFC 6749 §3.3).
    pub scope: String,
    /// The resource owner's name for user grants; absent for `client_credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The grant family (session) the token belongs to: the id shared by every access and
    /// refresh token obtained from one password grant and its refreshes. Revoking the family
    /// (refresh-token revocation, reuse detection) revokes every access token carrying it.
    /// The registered `sid` claim (OpenID Connect Front-Channel Logout §3); absent for
    /// `client_credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

// === impl AccessTokenClaims ===

impl AccessTokenClaims {
    /// The granted scopes, split on spaces.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }
}

/// The `aud` claim: one audience or several (RFC 7519 §4.1.3).
///
/// Serializes a single audience as a bare string (also when it is a
/// one-element [`Audience::Many`]) and accepts either form when parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// A single audience, written as a JSON string.
    One(String),
    /// Several audiences, written as a JSON array.
    Many(Vec<String>),
}

// === impl Audience ===

impl Audience {
    /// Whether `audience` is (one of) the token's audiences.
    pub fn contains(&self, audience: &str) -> bool {
        self.iter().any(|a| a == audience)
    }

    /// All audiences in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let all: &[String] = match self {
            Audience::One(one) => std::slice::from_ref(one),
            Audience::Many(many) => many,
        };
        all.iter().map(String::as_str)
    }
}

impl From<String> for Audience {
    fn from(value: String) -> Self {
        Audience::One(value)
    }
}

impl From<&str> for Audience {
    fn from(value: &str) -> Self {
        Audience::One(value.to_owned())
    }
}

impl From<Vec<String>> for Audience {
    fn from(value: Vec<String>) -> Self {
        Audience::Many(value)
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Audience::One(one) => serializer.serialize_str(one),
            Audience::Many(many) if many.len() == 1 => serializer.serialize_str(&many[0]),
            Audience::Many(many) => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            One(String),
            Many(Vec<String>),
        }
        Ok(match Wire::deserialize(deserializer)? {
            Wire::One(one) => Audience::One(one),
            Wire::Many(many) => Audience::Many(many),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_audience_serializes_as_a_string() {
        let one = serde_json::to_string(&Audience::from("api")).unwrap();
        assert_eq!(one, r#""api""#);
        let many_of_one = serde_json::to_string(&Audience::Many(vec!["api".into()])).unwrap();
        assert_eq!(many_of_one, r#""api""#);
        let many = serde_json::to_string(&Audience::Many(vec!["a".into(), "b".into()])).unwrap();
        assert_eq!(many, r#"["a","b"]"#);
    }

    #[test]
    fn audience_parses_string_or_array() {
        let one: Audience = serde_json::from_str(r#""api""#).unwrap();
        assert!(one.contains("api"));
        let many: Audience = serde_json::from_str(r#"["a","api"]"#).unwrap();
        assert!(many.contains("api") && !many.contains("b"));
        assert!(serde_json::from_str::<Audience>("42").is_err());
    }

    #[test]
    fn username_is_optional_and_scopes_split() {
        let json = r#"{"iss":"i","sub":"s","aud":"a","exp":2,"iat":1,"nbf":1,
            "jti":"j","client_id":"c","scope":"a  b"}"#;
        let claims: AccessTokenClaims = serde_json::from_str(json).unwrap();
        assert_eq!(claims.username, None);
        assert_eq!(claims.scopes().collect::<Vec<_>>(), ["a", "b"]);
        assert!(!serde_json::to_string(&claims).unwrap().contains("username"));
    }
}
