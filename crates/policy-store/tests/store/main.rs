//! Integration tests of the policy store, in one binary (see STYLE.md: one test binary per
//! crate): actor replies, persistence across restarts and a real `SIGKILL`, damaged stores.

mod actor;
mod corrupt;
mod durability;
mod snapshot;
mod support;
