//! [`ValidatorSettings`] (the `[validation]` configuration section) and [`ValidatorConfig`].

use serde::Deserialize;

/// The tunable part of validation: the server embeds it as its `[validation]` section.
///
/// Every field has a default, so an empty section (or none) gives a working validator, and
/// unknown keys are refused so a typo is an error rather than a silently ignored setting.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidatorSettings {
    /// Clock skew tolerated on `exp` and `nbf`, in seconds. Also how long a revocation is kept
    /// past its token's `exp`, since the token stays acceptable for that long.
    pub leeway_secs: u64,
    /// Most verified tokens remembered at once (whole token → verified principal), so a repeat
    /// of a token skips the signature check. Bounds the cache's memory; 0 disables it.
    pub cache_capacity: usize,
    /// What to answer for a path that no registered API claims.
    pub unmatched_path: UnmatchedPath,
}

impl Default for ValidatorSettings {
    fn default() -> Self {
        Self {
            leeway_secs: 30,
            cache_capacity: 100_000,
            unmatched_path: UnmatchedPath::Deny,
        }
    }
}

/// The answer for a valid token on a path outside every registered API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnmatchedPath {
    /// 403 `access_denied`: only registered APIs are reachable (the safe default).
    #[default]
    Deny,
    /// Allow any valid token: the gateway protects registered APIs and merely authenticates
    /// everything else.
    Allow,
}

/// Everything [`crate::ScopeValidator::start`] needs besides its collaborators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorConfig {
    /// The only accepted `iss`: this service's issuer URL, compared byte for byte.
    pub issuer: String,
    /// Must appear in a token's `aud`.
    pub audience: String,
    /// The `[validation]` section.
    pub settings: ValidatorSettings,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_section_gives_defaults() {
        let settings: ValidatorSettings = toml::from_str("").unwrap();
        assert_eq!(settings, ValidatorSettings::default());
        assert_eq!(settings.leeway_secs, 30);
        assert_eq!(settings.cache_capacity, 100_000);
        assert_eq!(settings.unmatched_path, UnmatchedPath::Deny);
    }

    #[test]
    fn fields_override_and_unknown_keys_are_refused() {
        let settings: ValidatorSettings =
            toml::from_str("unmatched_path = \"allow\"\ncache_capacity = 0").unwrap();
        assert_eq!(settings.unmatched_path, UnmatchedPath::Allow);
        assert_eq!(settings.cache_capacity, 0);
        assert_eq!(settings.leeway_secs, 30);
        let err = toml::from_str::<ValidatorSettings>("leway_secs = 5").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = toml::from_str::<ValidatorSettings>("unmatched_path = \"maybe\"").unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }
}
