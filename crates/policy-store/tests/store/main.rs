//! Integration tests of the policy store, in one binary (see STYLE.md: one test binary per
//! crate): actor replies, persistence across restarts and a real `SIGKILL`, damaged stores, and
//! the actor on a shared backend (other nodes' changes, stale writes).

mod actor;
mod corrupt;
mod durability;
mod remote;
mod snapshot;
mod support;
