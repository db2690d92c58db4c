//! [`TokenResponse`]: the successful token response (RFC 6749 §5.1).

use std::fmt;

use serde::Serialize;

/// The JSON body of a successful token response. The server adds `Cache-Control: no-store`.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// The signed JWT access token (RFC 9068).
    pub access_token: String,
    /// Always `Bearer` (RFC 6750): whoever holds the token may use it.
    pub token_type: &'static str,
    /// Seconds until the access token expires, so clients can refresh ahead of time.
    pub expires_in: u64,
    /// The granted scopes, space separated; may differ from the requested ones (RFC 6749 §3.3).
    pub scope: String,
    /// A new refresh token (password and refresh grants); absent for `client_credentials`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Redacts both tokens: they are bearer credentials and must not reach logs.
impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(refresh: Option<&str>) -> TokenResponse {
        TokenResponse {
            access_token: "eyJ.secret.sig".into(),
            token_type: "Bearer",
            expires_in: 3600,
            scope: "a b".into(),
            refresh_token: refresh.map(str::to_owned),
        }
    }

    #[test]
    fn serializes_without_absent_refresh_token() {
        let json = serde_json::to_value(response(None)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"access_token": "eyJ.secret.sig", "token_type": "Bearer",
                "expires_in": 3600, "scope": "a b"})
        );
        let json = serde_json::to_value(response(Some("r1"))).unwrap();
        assert_eq!(json["refresh_token"], "r1");
    }

    #[test]
    fn debug_redacts_tokens() {
        let debug = format!("{:?}", response(Some("refresh-value")));
        assert!(!debug.contains("eyJ.secret.sig") && !debug.contains("refresh-value"));
        assert!(debug.contains("a b"));
    }
}
