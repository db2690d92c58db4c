//! Snapshot plus replay: a store that has written snapshots reloads to exactly the policy it
//! served.

use std::num::NonZeroU64;

use scopegate_core::PolicyEvent;
use scopegate_policy_store::{EmbeddedBackend, PolicyBackend, PolicyStoreHandle};

use crate::support::{backend, reopen, role, scope, seed, user};

#[actix::test]
async fn more_events_than_the_snapshot_interval_reload_to_the_same_policy() {
    let dir = tempfile::tempdir().unwrap();
    let store = PolicyStoreHandle::start(backend(dir.path()), Some(seed())).unwrap();
    // 1 (seed) + 100 in one batch + 200 one by one: past the default interval of 256.
    let batch: Vec<_> = (0..100).map(|i| role(&format!("role-{i}"))).collect();
    assert_eq!(store.apply(batch, None).await.unwrap(), 101);
    for i in 0..200 {
        let event = match i % 3 {
            0 => user(&format!("user-{i}"), &["manager"]),
            1 => scope(&format!("scope_{i}"), &[&format!("role-{}", i % 100)]),
            _ => PolicyEvent::DeleteUser {
                username: format!("user-{}", i - 2),
            },
        };
        store.apply(vec![event], None).await.unwrap();
    }
    let served = store.reader().current();
    assert_eq!(served.version(), 301);
    drop(store);

    let loaded = reopen(dir.path()).await.load().unwrap().unwrap();
    assert_eq!(loaded.version(), served.version());
    assert_eq!(loaded.to_document(), served.to_document());
}

#[actix::test]
async fn replace_all_and_frequent_snapshots_reload_to_the_same_policy() {
    let dir = tempfile::tempdir().unwrap();
    let every = NonZeroU64::new(7).unwrap();
    let open = |dir: &std::path::Path| -> Box<dyn PolicyBackend> {
        Box::new(
            EmbeddedBackend::open(dir)
                .unwrap()
                .with_snapshot_every(every),
        )
    };
    let store = PolicyStoreHandle::start(open(dir.path()), Some(seed())).unwrap();
    for i in 0..20 {
        store
            .apply(vec![role(&format!("r{i}"))], None)
            .await
            .unwrap();
    }
    let mut doc = store.reader().current().to_document();
    doc.roles.retain(|r| r.name != "r3");
    store
        .apply(vec![PolicyEvent::ReplaceAll(doc)], None)
        .await
        .unwrap();
    for i in 0..10 {
        store
            .apply(vec![user(&format!("u{i}"), &["r4"])], None)
            .await
            .unwrap();
    }
    let served = store.reader().current();
    assert_eq!(served.version(), 32);
    drop(store);

    let loaded = reopen(dir.path())
        .await
        .with_snapshot_every(every)
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(loaded.version(), 32);
    assert!(loaded.role("r3").is_none());
    assert_eq!(loaded.to_document(), served.to_document());
}
