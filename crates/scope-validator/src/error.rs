//! Errors of the validator's effects: [`StartError`], [`ValidatorError`] (a revocation that
//! could not be recorded) and [`StoreError`] (the revocation store).
//!
//! A *decision* never fails: a refused request is a [`crate::Deny`] value, not an error. These
//! enums cover only the operator-facing failures around it; the server maps them to 500/503 and
//! logs the cause. None of them carries a token.

use thiserror::Error;

/// A revocation store failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("revocation store: {0}")]
    Database(String),
    /// The data directory could not be created.
    #[error("revocation store directory: {0}")]
    Io(#[from] std::io::Error),
    /// A shared store (Redis) could not be reached in time. A write that timed out may or may
    /// not have been applied; decisions keep running from the last snapshot.
    #[error("revocation store unavailable: {0}")]
    Unavailable(String),
}

/// Why [`crate::ScopeValidator::revoke`] (or a subject revocation, or a prune) did not
/// complete.
#[derive(Debug, Error)]
pub enum ValidatorError {
    /// The store refused the write; the revocation is not in effect.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The actor is gone (the system is shutting down) or its mailbox is closed (503).
    #[error("the scope validator is not running: {0}")]
    Unavailable(#[from] actix::MailboxError),
}

/// Why [`crate::ScopeValidator::start`] could not start the validator.
#[derive(Debug, Error)]
pub enum StartError {
    /// `start` was called outside a running actix `System`.
    #[error("the scope validator must be started inside a running actix System")]
    NoSystem,
    /// A configuration value makes the validator unusable.
    #[error("invalid validation configuration: {0}")]
    Config(&'static str),
    /// The revocation list could not be loaded; starting without it would accept revoked tokens.
    #[error("could not load the revocation list: {0}")]
    Load(#[from] StoreError),
}
