//! [`Links`]: what the token service needs from the rest of its node, passed in at start so the
//! crate depends on neither the validator nor Redis.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::throttle::ThrottleStore;

/// Revokes every access token of a grant family (the `sid` claim) wherever access tokens are
/// checked. The server passes the scope validator's revocation set, so a revoked family is
/// refused on every node and through cached verifications.
pub trait FamilyRevoker: Send + Sync + 'static {
    /// Revokes the access tokens of `family` until `last_exp`, the latest `exp` any of them
    /// can have. Resolves once the revocation is in force.
    fn revoke_family(
        &self,
        family: String,
        last_exp: u64,
    ) -> BoxFuture<'static, Result<(), String>>;
}

/// The token service's collaborators.
#[derive(Clone)]
pub struct Links {
    /// Where a revoked refresh family's access tokens are revoked (reuse detection, RFC 7009
    /// revocation of a refresh token).
    pub families: Arc<dyn FamilyRevoker>,
    /// The cluster's shared sign-in throttle counters (Redis); `None`: this node's memory only.
    pub throttle: Option<Arc<dyn ThrottleStore>>,
}
