//! [`PolicyReader`]: the lock-free read side of the policy store.

use std::sync::Arc;

use arc_swap::ArcSwap;
use scopegate_core::Policy;

/// A cheap-to-clone handle on the current policy snapshot.
///
/// Request handlers call [`PolicyReader::current`] on every request: it is an atomic load, never
/// a message to the actor, so reads neither wait for writes nor for the disk. The snapshot a
/// caller holds stays valid (and unchanged) for as long as it keeps the `Arc`.
#[derive(Clone, Debug)]
pub struct PolicyReader {
    /// The published snapshot. Only the [`crate::PolicyStore`] actor stores into it; everybody
    /// else only loads.
    snapshot: Arc<ArcSwap<Policy>>,
}

// === impl PolicyReader ===

impl PolicyReader {
    /// A reader over `snapshot`, which the store publishes into.
    pub(crate) fn new(snapshot: Arc<ArcSwap<Policy>>) -> Self {
        Self { snapshot }
    }

    /// A reader over a fixed policy that never changes: for unit tests of other crates and for
    /// benchmarks, where starting a store would only add noise.
    pub fn fixed(policy: Policy) -> Self {
        Self::new(Arc::new(ArcSwap::from_pointee(policy)))
    }

    /// The current policy snapshot.
    pub fn current(&self) -> Arc<Policy> {
        self.snapshot.load_full()
    }

    /// The version of the current snapshot.
    pub fn version(&self) -> u64 {
        self.snapshot.load().version()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_reader_serves_the_given_policy() {
        let doc: scopegate_core::PolicyDocument =
            serde_json::from_str(r#"{"scopes": [{"key": "news_read"}]}"#).unwrap();
        let reader = PolicyReader::fixed(Policy::from_document(7, doc).unwrap());
        let clone = reader.clone();
        assert_eq!(clone.version(), 7);
        assert_eq!(clone.current().version(), 7);
        assert!(clone.current().scope("news_read").is_some());
    }
}
