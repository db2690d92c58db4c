//! [`ClusterError`]: what can go wrong talking to Redis or reading cluster configuration.

use thiserror::Error;

/// A cluster-mode failure.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// The `[cluster]` configuration cannot work (bad URL, bad key-encryption key).
    #[error("cluster configuration: {0}")]
    Config(String),
    /// Redis refused or could not be reached. The message never contains a password.
    #[error("redis unavailable: {0}")]
    Unavailable(String),
    /// Redis holds something this node cannot decode; never treated as empty.
    #[error("redis holds corrupt data at {key}: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// What was wrong.
        reason: String,
    },
}

impl From<redis::RedisError> for ClusterError {
    fn from(e: redis::RedisError) -> Self {
        Self::Unavailable(describe(&e))
    }
}

/// A Redis error as text that is safe to log and answer with: kind and detail, never the URL
/// (which may carry a password).
pub fn describe(e: &redis::RedisError) -> String {
    match e.detail() {
        Some(detail) => format!("{:?}: {detail}", e.kind()),
        None => format!("{:?}: {e}", e.kind()),
    }
}
