//! [`RevocationEvent`]: one revocation as nodes announce it to each other.
//!
//! The cluster's store publishes one per write (`{"type":"token","jti":…,"exp":…}` or
//! `{"type":"subject","subject":…,"before":…,"keep_until":…}`), and every node's listener hands
//! it to [`crate::ScopeValidator::apply_remote`]. The type lives here so that the writer and the
//! reader cannot disagree on the format.

use serde::{Deserialize, Serialize};

/// A revocation made on some node, already durable in the shared store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RevocationEvent {
    /// The access token `jti` is revoked until its `exp`.
    Token {
        /// The token's `jti` claim.
        jti: String,
        /// The token's `exp` claim.
        exp: u64,
    },
    /// Every token of `subject` issued at or before `before` is revoked, until `keep_until`.
    Subject {
        /// The tokens' `sub` claim.
        subject: String,
        /// Tokens with `iat <= before` are refused.
        before: u64,
        /// When the entry may be forgotten.
        keep_until: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_format_is_tagged_json() {
        let token = RevocationEvent::Token {
            jti: "j1".into(),
            exp: 1_700_003_600,
        };
        let json = serde_json::to_string(&token).unwrap();
        assert_eq!(json, r#"{"type":"token","jti":"j1","exp":1700003600}"#);
        assert_eq!(
            serde_json::from_str::<RevocationEvent>(&json).unwrap(),
            token
        );

        let subject: RevocationEvent = serde_json::from_str(
            r#"{"type":"subject","subject":"alex","before":10,"keep_until":20}"#,
        )
        .unwrap();
        assert_eq!(
            subject,
            RevocationEvent::Subject {
                subject: "alex".into(),
                before: 10,
                keep_until: 20
            }
        );
        for bad in [
            r#"{"type":"everything"}"#,
            r#"{"jti":"j1","exp":1}"#,
            r#"{"type":"token","jti":"j1"}"#,
            r#"{"type":"token","jti":"j1","exp":-1}"#,
        ] {
            assert!(
                serde_json::from_str::<RevocationEvent>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
