//! Errors of the policy domain.

use std::fmt;

/// One thing wrong with a policy, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// Where the problem is, as a path into the document: `scopes[2] "order_add" .roles[0]`.
    pub location: String,
    /// What is wrong, in a sentence a policy author can act on.
    pub message: String,
}

impl Problem {
    /// A problem at `location`.
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Why an event could not be applied to a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The policy the event would produce is not valid; nothing was changed.
    #[error("the change would make the policy invalid: {}", join(.0))]
    Invalid(Vec<Problem>),
    /// The event names something that does not exist.
    #[error("{kind} {name:?} does not exist")]
    NotFound {
        /// What kind of thing: `scope`, `role`, `user`, `client`, `api`.
        kind: &'static str,
        /// Its key.
        name: String,
    },
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
