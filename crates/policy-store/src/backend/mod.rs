//! [`PolicyBackend`]: where the policy store keeps its events, behind a trait so that the
//! embedded database and (later) Redis are interchangeable.
//!
//! A backend is owned by the [`crate::PolicyStore`] actor and called only from its thread, so
//! its methods take `&mut self` and may block (an embedded commit waits for `fsync`).

use scopegate_core::{Policy, PolicyEvent};

use crate::error::{LoadError, SaveError};

pub mod embedded;

/// Durable storage for the policy's event log.
///
/// The contract the store relies on: after [`PolicyBackend::append`] (or
/// [`PolicyBackend::append_batch`]) returns `Ok`, a later [`PolicyBackend::load`], in this
/// process or after a crash, returns a policy at least that new; after it returns `Err`, nothing
/// of that call is visible.
pub trait PolicyBackend: Send + 'static {
    /// Loads persisted state; `Ok(None)` when the store has never been written.
    ///
    /// A store whose content is damaged must fail with [`LoadError::Corrupt`], never look empty.
    fn load(&mut self) -> Result<Option<Policy>, LoadError>;

    /// Durably records `event`, which produced `policy` (at `policy.version()`), before
    /// returning.
    fn append(&mut self, event: &PolicyEvent, policy: &Policy) -> Result<(), SaveError>;

    /// Durably records several events, each with the policy it produced, in version order, as
    /// one unit: all of them or none.
    ///
    /// The default records them one by one, which is *not* atomic if a later one fails; backends
    /// that can do better (every real one should) override it.
    fn append_batch(&mut self, items: &[(PolicyEvent, Policy)]) -> Result<(), SaveError> {
        for (event, policy) in items {
            self.append(event, policy)?;
        }
        Ok(())
    }

    /// Short human name for logs (`embedded redb at /var/lib/scopegate/policy.redb`).
    fn describe(&self) -> String;
}

pub use embedded::EmbeddedBackend;
