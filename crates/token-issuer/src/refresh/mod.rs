//! Refresh tokens: opaque random values, stored only as SHA-256 hashes, rotated on every use
//! and revoked by family on reuse (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
//!
//! [`RefreshStore`] is the storage boundary: [`EmbeddedRefreshStore`] (redb) for a single node,
//! `scopegate_cluster::RedisRefreshStore` in cluster mode. Only the
//! [`crate::actor::TokenIssuer`] actor calls it: the actor serializes the writes of its node, and
//! each rotation is one atomic check-and-mark (across nodes too, for a shared store).

mod embedded;

use std::fmt;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::TokenError;

pub use embedded::EmbeddedRefreshStore;

/// The SHA-256 hash of a refresh token: the only form in which a refresh token is stored, so a
/// copy of the store does not yield usable tokens.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

// === impl TokenHash ===

impl TokenHash {
    /// The hash of a presented refresh token.
    pub fn of(token: &str) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        Self(out)
    }
}

/// Prints only a short prefix: enough to correlate, not to look a token up.
impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// `N` random bytes from the system generator, base64url without padding. Used for refresh
/// tokens (32 bytes), family ids and `jti`s (16 bytes).
pub(crate) fn random_id<const N: usize>() -> Result<String, TokenError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| TokenError::internal("random generator failed", &"aws-lc rand::fill"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A new opaque refresh token: 256 random bits, base64url (43 characters).
pub(crate) fn new_token() -> Result<String, TokenError> {
    random_id::<32>()
}

/// What is stored for one refresh token (under its [`TokenHash`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// The family: every token obtained by rotating the one first issued at login shares it, so
    /// a detected reuse can revoke all of them at once.
    pub family: String,
    /// The user the token was issued for; the new access token's `sub`.
    pub subject: String,
    /// The client the token was issued to; only that client may refresh with it.
    pub client_id: String,
    /// The scopes of the original grant; a refresh may narrow them, never widen (RFC 6749 §6).
    pub scopes: Vec<String>,
    /// When the token was issued, seconds since the Unix epoch.
    pub issued_at: u64,
    /// When the token stops being usable (and may be pruned), seconds since the Unix epoch.
    pub expires_at: u64,
    /// Whether the token has already been exchanged; presenting it again is a reuse.
    pub rotated: bool,
    /// When the whole family ends, however often it is rotated: the absolute lifetime of one
    /// sign-in (`tokens.refresh_family_lifetime_secs` after the password grant). No token of
    /// the family expires later. `None` only in records written before the limit existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_expires_at: Option<u64>,
}

// === impl RefreshRecord ===

impl RefreshRecord {
    /// The record of the token that replaces this one at `now`: same family, subject, client
    /// and original scopes, not rotated, expiring at `expires_at` or at the end of the
    /// family's absolute lifetime, whichever comes first (rotation never extends a family).
    pub fn successor(&self, now: u64, expires_at: u64) -> RefreshRecord {
        RefreshRecord {
            issued_at: now,
            expires_at: self
                .family_expires_at
                .map_or(expires_at, |end| expires_at.min(end)),
            rotated: false,
            ..self.clone()
        }
    }
}

/// The result of presenting a refresh token for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The presented token is now marked rotated and the replacement stored in its family.
    Rotated {
        /// The presented token's record (before it was marked).
        record: RefreshRecord,
        /// The scopes the new access token carries, as decided by the caller.
        scopes: Vec<String>,
    },
    /// No such token: never issued, pruned, or its family was revoked.
    Unknown,
    /// The token has expired; nothing changed.
    Expired,
    /// The token was issued to another client; nothing changed.
    WrongClient,
    /// The token had already been rotated: its whole family is now revoked.
    Reused {
        /// The revoked family; the caller revokes its access tokens too.
        family: String,
    },
    /// The caller's decision refused the refresh (user gone, scope too wide); nothing changed.
    Refused(TokenError),
}

/// A rotation request as the store sees it.
#[derive(Debug, Clone, Copy)]
pub struct Rotate<'a> {
    /// Hash of the presented token.
    pub presented: &'a TokenHash,
    /// Hash of the token that replaces it.
    pub replacement: &'a TokenHash,
    /// The authenticated client presenting it.
    pub client_id: &'a str,
    /// The current time, seconds since the Unix epoch (injected so tests control it).
    pub now: u64,
    /// When the replacement expires.
    pub expires_at: u64,
}

/// Decides the new access token's scopes from the presented token's record, inside the
/// rotation's transaction: `Err` refuses the refresh and leaves the store unchanged.
pub type Decide<'a> = &'a mut dyn FnMut(&RefreshRecord) -> Result<Vec<String>, TokenError>;

/// A refresh store failed; the request gets `server_error` and the cause is logged.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("refresh store: {0}")]
    Database(String),
    /// A stored record could not be decoded.
    #[error("refresh store holds a corrupt record: {0}")]
    Corrupt(String),
    /// The data directory could not be created.
    #[error("refresh store directory: {0}")]
    Io(#[from] std::io::Error),
    /// A shared store (Redis) could not be reached in time; the request gets
    /// `temporarily_unavailable` (503). A write that timed out may or may not have been applied.
    #[error("refresh store unavailable: {0}")]
    Unavailable(String),
}

/// Where refresh tokens live. Called only from the TokenIssuer actor, one call at a time.
///
/// Every method is one atomic unit: a crash in the middle leaves the store as before the call.
pub trait RefreshStore: Send + 'static {
    /// Stores a newly issued token (the first of a new family).
    fn insert(&mut self, hash: &TokenHash, record: &RefreshRecord) -> Result<(), StoreError>;

    /// Presents a token for rotation. In one transaction: unknown → [`RotateOutcome::Unknown`];
    /// already rotated → revoke the family, [`RotateOutcome::Reused`]; another client →
    /// [`RotateOutcome::WrongClient`]; expired → [`RotateOutcome::Expired`]; then `decide`;
    /// if it agrees, mark the token rotated and store the replacement in the same family with
    /// the same subject, client and original scopes.
    fn rotate(
        &mut self,
        rotate: Rotate<'_>,
        decide: Decide<'_>,
    ) -> Result<RotateOutcome, StoreError>;

    /// The record stored under `hash`, if any (introspection, tests).
    fn get(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, StoreError>;

    /// Deletes every token of the family `hash` belongs to, if the token was issued to
    /// `client_id` (RFC 7009 §2.1: a client may only revoke its own tokens).
    fn revoke_family(
        &mut self,
        hash: &TokenHash,
        client_id: &str,
    ) -> Result<Revocation, StoreError>;

    /// Deletes every family the subject (user) holds a token of: all their refresh tokens,
    /// whichever client they were issued to ("sign out everywhere", an account disabled or
    /// compromised). Returns how many families were revoked (0 if none).
    fn revoke_subject(&mut self, subject: &str) -> Result<usize, StoreError>;

    /// Deletes tokens that expired at or before `now`; returns how many. A store whose entries
    /// expire by themselves (Redis TTLs) returns 0.
    fn prune_expired(&mut self, now: u64) -> Result<usize, StoreError>;
}

/// What a family revocation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// The token was known; its whole family is gone.
    Revoked {
        /// The revoked family; the caller revokes its access tokens too.
        family: String,
    },
    /// No such token (never issued, already revoked or pruned).
    Unknown,
    /// The token belongs to another client; nothing was changed.
    OtherClient,
}
