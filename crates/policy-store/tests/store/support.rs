//! Builders for events and documents, and store helpers shared by the tests.

use std::path::Path;
use std::time::{Duration, Instant};

use scopegate_core::{PolicyDocument, PolicyEvent, Role, Scope, User};
use scopegate_policy_store::{EmbeddedBackend, LoadError, PolicyBackend};

/// A syntactically valid argon2id PHC string; the store never verifies it.
pub const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

pub fn role(name: &str) -> PolicyEvent {
    PolicyEvent::PutRole(Role {
        name: name.to_owned(),
        permissions: Vec::new(),
        description: String::new(),
    })
}

pub fn scope(key: &str, roles: &[&str]) -> PolicyEvent {
    PolicyEvent::PutScope(Scope {
        key: key.to_owned(),
        name: String::new(),
        description: String::new(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        permission: None,
    })
}

pub fn user(name: &str, roles: &[&str]) -> PolicyEvent {
    PolicyEvent::PutUser(User {
        username: name.to_owned(),
        password_hash: HASH.to_owned(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        enabled: true,
    })
}

/// A small seed: roles manager and employee, scopes news_read and news_write, user alex.
pub fn seed() -> PolicyDocument {
    serde_json::from_value(serde_json::json!({
        "roles": [{"name": "manager"}, {"name": "employee"}],
        "scopes": [
            {"key": "news_read", "roles": ["employee"]},
            {"key": "news_write", "roles": ["manager"]}
        ],
        "users": [{"username": "alex", "password_hash": HASH, "roles": ["manager", "employee"]}]
    }))
    .unwrap()
}

/// The embedded backend in `dir`, boxed for `PolicyStoreHandle::start`.
pub fn backend(dir: &Path) -> Box<dyn PolicyBackend> {
    Box::new(EmbeddedBackend::open(dir).unwrap())
}

/// Opens the store in `dir` once a store that was stopped has released it: the actor's thread
/// closes the database shortly after the last handle is dropped, not synchronously.
pub async fn reopen(dir: &Path) -> EmbeddedBackend {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match EmbeddedBackend::open(dir) {
            Ok(backend) => return backend,
            Err(LoadError::Locked { .. }) if Instant::now() < deadline => {
                actix::clock::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("reopening {}: {e}", dir.display()),
        }
    }
}
