//! Unit tests of the embedded backend that need its private table definitions: they damage the
//! log the way a bug or a disk would, and check that loading refuses instead of skipping.

use super::*;
use scopegate_core::Role;

fn role(name: &str) -> PolicyEvent {
    PolicyEvent::PutRole(Role {
        name: name.to_owned(),
        permissions: Vec::new(),
        description: String::new(),
    })
}

/// Opens a backend in a fresh directory and records `n` role events (versions 1..=n).
fn store_with(n: u64, snapshot_every: u64) -> (tempfile::TempDir, EmbeddedBackend, Policy) {
    let dir = tempfile::tempdir().unwrap();
    let mut backend = EmbeddedBackend::open(dir.path())
        .unwrap()
        .with_snapshot_every(NonZeroU64::new(snapshot_every).unwrap());
    let mut policy = Policy::default();
    for i in 1..=n {
        let event = role(&format!("role-{i}"));
        policy = policy.apply(&event).unwrap();
        backend.append(&event, &policy).unwrap();
    }
    (dir, backend, policy)
}

fn snapshot_versions(backend: &EmbeddedBackend) -> Vec<u64> {
    let txn = backend.db.begin_read().unwrap();
    let table = txn.open_table(SNAPSHOT).unwrap();
    table
        .iter()
        .unwrap()
        .map(|e| e.unwrap().0.value())
        .collect()
}

fn corrupt_reason(result: Result<Option<Policy>, LoadError>) -> String {
    match result {
        Err(LoadError::Corrupt { reason, .. }) => reason,
        other => panic!("expected a corrupt-store error, got {other:?}"),
    }
}

#[test]
fn a_fresh_store_loads_as_never_written() {
    let (_dir, mut backend, _) = store_with(0, 4);
    assert!(backend.load().unwrap().is_none());
}

#[test]
fn snapshot_is_refreshed_every_n_events_and_kept_single() {
    let (_dir, mut backend, policy) = store_with(9, 4);
    assert_eq!(snapshot_versions(&backend), vec![8]);
    let loaded = backend.load().unwrap().unwrap();
    assert_eq!(loaded.version(), 9);
    assert_eq!(loaded.to_document(), policy.to_document());
}

#[test]
fn replace_all_writes_a_snapshot_at_once() {
    let (_dir, mut backend, policy) = store_with(2, 100);
    assert!(snapshot_versions(&backend).is_empty());
    let event = PolicyEvent::ReplaceAll(policy.to_document());
    let next = policy.apply(&event).unwrap();
    backend.append(&event, &next).unwrap();
    assert_eq!(snapshot_versions(&backend), vec![3]);
}

#[test]
fn a_gap_in_the_log_is_corruption_naming_the_missing_version() {
    let (_dir, mut backend, _) = store_with(5, 100);
    let txn = backend.db.begin_write().unwrap();
    txn.open_table(EVENTS).unwrap().remove(3).unwrap();
    txn.commit().unwrap();
    let reason = corrupt_reason(backend.load());
    assert!(reason.contains("policy event 3 is missing"), "{reason}");
}

#[test]
fn an_undecodable_event_is_corruption_naming_its_version() {
    let (_dir, mut backend, _) = store_with(3, 100);
    let txn = backend.db.begin_write().unwrap();
    txn.open_table(EVENTS)
        .unwrap()
        .insert(2, b"{not json".as_slice())
        .unwrap();
    txn.commit().unwrap();
    let reason = corrupt_reason(backend.load());
    assert!(reason.contains("policy event 2"), "{reason}");
}

#[test]
fn an_event_that_no_longer_applies_is_corruption() {
    let (_dir, mut backend, _) = store_with(3, 100);
    let bogus = serde_json::to_vec(&PolicyEvent::DeleteRole {
        name: "nobody".to_owned(),
    })
    .unwrap();
    let txn = backend.db.begin_write().unwrap();
    txn.open_table(EVENTS)
        .unwrap()
        .insert(4, bogus.as_slice())
        .unwrap();
    txn.commit().unwrap();
    let reason = corrupt_reason(backend.load());
    assert!(
        reason.contains("policy event 4 (delete_role) does not apply to version 3"),
        "{reason}"
    );
}

#[test]
fn an_unknown_format_version_is_incompatible() {
    let (dir, backend, _) = store_with(1, 100);
    let txn = backend.db.begin_write().unwrap();
    txn.open_table(META)
        .unwrap()
        .insert(FORMAT_KEY, FORMAT_VERSION + 1)
        .unwrap();
    txn.commit().unwrap();
    drop(backend);
    match EmbeddedBackend::open(dir.path()) {
        Err(e @ LoadError::Incompatible { .. }) => {
            let message = e.to_string();
            assert!(message.contains("uses storage format 2"), "{message}");
            assert!(message.contains(FILE_NAME), "{message}");
        }
        other => panic!("expected an incompatible-store error, got {other:?}"),
    }
}

#[test]
fn out_of_order_versions_are_refused_and_a_batch_is_all_or_nothing() {
    let (_dir, mut backend, policy) = store_with(2, 100);
    let first = role("third");
    let after_first = policy.apply(&first).unwrap();
    let stale = role("stale");
    let stale_policy = policy.apply(&stale).unwrap(); // version 3 again: out of order
    let err = backend
        .append_batch(&[(first, after_first), (stale, stale_policy)])
        .unwrap_err();
    assert!(
        matches!(
            err,
            SaveError::OutOfOrder {
                last: 3,
                got: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let loaded = backend.load().unwrap().unwrap();
    assert_eq!(loaded.version(), 2);
    assert!(loaded.role("third").is_none());
}
