//! [`AppliedVersion`]: when each policy version was written and when this node published it,
//! kept in a bounded ring for the propagation benchmark and the cluster status endpoint.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// How many published versions the store remembers for [`crate::PolicyStoreHandle::applied`].
pub const APPLIED_CAPACITY: usize = 4096;

/// One policy version this node published to its readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AppliedVersion {
    /// The version.
    pub version: u64,
    /// When the writing node recorded it (its clock, microseconds since the Unix epoch).
    /// `None` when this node jumped to the version by reloading the whole stored policy (the
    /// log no longer held the events), so the time of the write is not known.
    pub created_at_us: Option<u64>,
    /// When this node published it to its readers (this node's clock, microseconds since the
    /// Unix epoch). For a local write it follows `created_at_us` by the store's commit time.
    pub applied_at_us: u64,
    /// Whether another node wrote it (this node applied it from the shared store's
    /// announcement or log); `false` for this node's own writes and for reloads.
    pub remote: bool,
}

/// The last [`APPLIED_CAPACITY`] published versions, oldest first. The store's actor appends;
/// anyone holding the handle reads without messaging the actor.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppliedLog {
    /// Behind a std mutex: the actor holds it for one push, readers for one copy, and neither
    /// ever waits on IO while holding it.
    ring: Arc<Mutex<VecDeque<AppliedVersion>>>,
}

// === impl AppliedLog ===

impl AppliedLog {
    /// Remembers `entry`, forgetting the oldest beyond [`APPLIED_CAPACITY`].
    pub(crate) fn push(&self, entry: AppliedVersion) {
        if let Ok(mut ring) = self.ring.lock() {
            if ring.len() == APPLIED_CAPACITY {
                ring.pop_front();
            }
            ring.push_back(entry);
        }
    }

    /// Every remembered version, oldest first.
    pub(crate) fn all(&self) -> Vec<AppliedVersion> {
        self.ring
            .lock()
            .map(|ring| ring.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The newest remembered version.
    pub(crate) fn last(&self) -> Option<AppliedVersion> {
        self.ring.lock().ok().and_then(|ring| ring.back().copied())
    }
}

/// Now, in microseconds since the Unix epoch (0 for a clock set before 1970).
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_entries_in_order() {
        let log = AppliedLog::default();
        assert_eq!(log.last(), None);
        for version in 1..=(APPLIED_CAPACITY as u64 + 10) {
            log.push(AppliedVersion {
                version,
                created_at_us: Some(version),
                applied_at_us: version + 1,
                remote: false,
            });
        }
        let all = log.all();
        assert_eq!(all.len(), APPLIED_CAPACITY);
        assert_eq!(all[0].version, 11);
        assert_eq!(
            log.last().map(|a| a.version),
            Some(APPLIED_CAPACITY as u64 + 10)
        );
        assert!(all.windows(2).all(|w| w[0].version + 1 == w[1].version));
    }

    #[test]
    fn serializes_as_plain_json() {
        let entry = AppliedVersion {
            version: 3,
            created_at_us: None,
            applied_at_us: 7,
            remote: true,
        };
        assert_eq!(
            serde_json::to_value(entry).unwrap(),
            serde_json::json!({"version": 3, "created_at_us": null, "applied_at_us": 7, "remote": true})
        );
    }
}
