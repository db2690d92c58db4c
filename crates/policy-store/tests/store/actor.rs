//! The actor through its handle: seeding, publishing to readers, refusals that change nothing.

use scopegate_core::{Policy, PolicyError, PolicyEvent};
use scopegate_policy_store::{LoadError, PolicyBackend, PolicyStoreHandle, SaveError, StoreError};

use crate::support::{backend, reopen, role, scope, seed, user};

/// Loads what the store in `dir` persisted, once the stopped store has released it.
async fn persisted(dir: &std::path::Path) -> Option<Policy> {
    reopen(dir).await.load().unwrap()
}

#[actix::test]
async fn seed_is_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = PolicyStoreHandle::start(backend(dir.path()), Some(seed())).unwrap();
    let reader = store.reader();
    assert_eq!(reader.version(), 1);
    assert!(reader.current().scope("news_read").is_some());
    assert_eq!(store.apply(vec![role("agent")], None).await.unwrap(), 2);
    drop((store, reader));

    // A second start with a (different) policy file keeps the stored policy.
    let mut other_seed = seed();
    other_seed.scopes.clear();
    let store =
        PolicyStoreHandle::start(Box::new(reopen(dir.path()).await), Some(other_seed)).unwrap();
    let policy = store.reader().current();
    assert_eq!(policy.version(), 2);
    assert!(policy.scope("news_read").is_some());
    assert!(policy.role("agent").is_some());
}

#[actix::test]
async fn an_empty_store_without_seed_starts_empty_and_stays_unwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = PolicyStoreHandle::start(backend(dir.path()), None).unwrap();
    assert_eq!(store.reader().version(), 0);
    drop(store);
    assert!(persisted(dir.path()).await.is_none());
}

#[actix::test]
async fn an_invalid_seed_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = seed();
    bad.users[0].roles.push("Manager".to_owned()); // role names are case sensitive
    match PolicyStoreHandle::start(backend(dir.path()), Some(bad)) {
        Err(StoreError::SeedInvalid(PolicyError::Invalid(problems))) => {
            assert!(
                problems[0].message.contains("did you mean \"manager\""),
                "{problems:?}"
            );
        }
        Err(other) => panic!("expected SeedInvalid, got {other:?}"),
        Ok(_) => panic!("an invalid seed must not start"),
    }
    assert!(persisted(dir.path()).await.is_none());
}

#[actix::test]
async fn readers_see_applied_events_without_messaging_the_actor() {
    let dir = tempfile::tempdir().unwrap();
    let store = PolicyStoreHandle::start(backend(dir.path()), Some(seed())).unwrap();
    let reader = store.reader();
    let before = reader.current();

    let version = store
        .apply(vec![role("agent"), user("paul", &["agent"])], None)
        .await
        .unwrap();
    assert_eq!(version, 3);
    assert_eq!(reader.version(), 3);
    let now = reader.current();
    assert_eq!(now.user("paul").unwrap().roles, ["agent"]);
    // A snapshot already handed out is immutable.
    assert_eq!(before.version(), 1);
    assert!(before.user("paul").is_none());

    drop(store);
    let stored = persisted(dir.path()).await.unwrap();
    assert_eq!(stored.version(), 3);
    assert_eq!(stored.to_document(), now.to_document());
}

#[actix::test]
async fn an_invalid_event_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = PolicyStoreHandle::start(backend(dir.path()), Some(seed())).unwrap();
    let err = store
        .apply(
            vec![PolicyEvent::DeleteRole {
                name: "nobody".to_owned(),
            }],
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(PolicyError::NotFound { kind: "role", name }) if name == "nobody"),
        "{err:?}"
    );
    assert_eq!(store.reader().version(), 1);
    drop(store);
    assert_eq!(persisted(dir.path()).await.unwrap().version(), 1);
}

#[actix::test]
async fn a_batch_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = PolicyStoreHandle::start(backend(dir.path()), Some(seed())).unwrap();
    let err = store
        .apply(
            vec![role("agent"), scope("order_add", &["Agent"])], // second names an undefined role
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(PolicyError::Invalid(_))),
        "{err:?}"
    );
    let policy = store.reader().current();
    assert_eq!(policy.version(), 1);
    assert!(
        policy.role("agent").is_none(),
        "the first event must not be applied"
    );
    drop((store, policy));
    let stored = persisted(dir.path()).await.unwrap();
    assert_eq!(stored.version(), 1);
    assert!(
        stored.role("agent").is_none(),
        "the first event must not be persisted"
    );
}

#[actix::test]
async fn expected_version_guards_against_concurrent_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = PolicyStoreHandle::start(backend(dir.path()), Some(seed())).unwrap();
    let err = store.apply(vec![role("agent")], Some(0)).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::VersionConflict {
                expected: 0,
                actual: 1
            }
        ),
        "{err:?}"
    );
    assert_eq!(store.reader().version(), 1);
    assert_eq!(store.apply(vec![role("agent")], Some(1)).await.unwrap(), 2);
    // An empty change applies nothing and reports the current version (still checked).
    assert_eq!(store.apply(Vec::new(), Some(2)).await.unwrap(), 2);
    assert!(store.apply(Vec::new(), Some(1)).await.is_err());
}

/// A backend whose writes always fail, as a full disk would.
struct FullDisk;

impl PolicyBackend for FullDisk {
    fn load(&mut self) -> Result<Option<Policy>, LoadError> {
        Ok(None)
    }

    fn append(&mut self, _: &PolicyEvent, policy: &Policy) -> Result<(), SaveError> {
        Err(SaveError::Write {
            store: self.describe(),
            version: policy.version(),
            reason: "No space left on device".to_owned(),
        })
    }

    fn describe(&self) -> String {
        "a full disk".to_owned()
    }
}

#[actix::test]
async fn a_failed_write_publishes_nothing() {
    let store = PolicyStoreHandle::start(Box::new(FullDisk), None).unwrap();
    let err = store.apply(vec![role("agent")], None).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Save(SaveError::Write { version: 1, .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("No space left on device"), "{err}");
    let policy = store.reader().current();
    assert_eq!(policy.version(), 0);
    assert!(policy.role("agent").is_none());
}

#[actix::test]
async fn a_seed_that_cannot_be_written_fails_start() {
    match PolicyStoreHandle::start(Box::new(FullDisk), Some(seed())) {
        Err(StoreError::Save(SaveError::Write { version: 1, .. })) => {}
        Err(other) => panic!("expected a write error, got {other:?}"),
        Ok(_) => panic!("a seed that was not persisted must not start"),
    }
}

#[test]
fn start_outside_an_actix_system_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    match PolicyStoreHandle::start(backend(dir.path()), None) {
        Err(StoreError::Unavailable(reason)) => assert!(reason.contains("actix System")),
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("start must refuse without a System"),
    }
}
