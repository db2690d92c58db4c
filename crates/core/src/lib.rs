//! Pure domain of scopegate: the policy model, the events that change it, scope granting and
//! resource matching.
//!
//! Nothing in this crate performs IO, spawns tasks or reads the clock: callers pass `now` and get
//! values back. That keeps every decision reproducible in a unit test and lets the actors around
//! it (policy store, token issuer, scope validator) own all effects.
//!
//! # Layout
//! - [`model`]: scopes, roles, users, clients, API definitions: the nouns of a policy.
//! - [`permission`]: permission paths and whole-segment coverage (`/a/b` covers `/a/b/c`).
//! - [`document`]: [`PolicyDocument`], the declarative file format, and its validation.
//! - [`event`]: [`PolicyEvent`], every change a policy can undergo.
//! - [`policy`]: [`Policy`], a versioned immutable snapshot with the indexes the hot paths need,
//!   and the one pure function that applies an event to it.
//! - [`grant`]: [`ScopeRequest`] parsing (RFC 6749 §3.3) and [`grant_scopes`].
//! - [`matching`]: [`normalize_path`], and the [`Requirement`] a request has under
//!   [`Policy::match_request`]; [`satisfies`] checks granted scopes against it.
//! - [`error`]: [`PolicyError`] and [`Problem`].
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms, missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod document;
pub mod error;
pub mod event;
pub mod grant;
pub mod matching;
pub mod model;
pub mod permission;
pub mod policy;

pub use document::PolicyDocument;
pub use error::{PolicyError, Problem};
pub use event::PolicyEvent;
pub use grant::{EmptyGrant, GrantError, ScopeRequest, grant_scopes, is_scope_token};
pub use matching::{PathError, Requirement, RouteMatch, normalize_path, satisfies};
pub use model::{Api, Client, GrantType, Method, Resource, Role, Scope, ScopeMode, User};
pub use permission::Permission;
pub use policy::Policy;
