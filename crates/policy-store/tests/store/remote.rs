//! The actor with a shared backend (an in-memory fake with Redis's semantics: a version check
//! on every write, a trimmed log): other nodes' events in version order, gaps, divergence,
//! stale writes, concurrent seeding, a store that went back, an unreachable store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scopegate_core::{Policy, PolicyDocument, PolicyError, PolicyEvent};
use scopegate_policy_store::{
    CatchUp, LoadError, LoggedEvent, MAX_RETRIES, Origin, PolicyBackend, PolicyStoreHandle,
    SaveError, StoreError,
};

use crate::support::{role, seed, user};

/// What the fake store holds, shared by every "node" on it.
#[derive(Default)]
struct Shared {
    /// The policy at the stored version (`None`: never written).
    state: Option<Policy>,
    /// The newest `retention` events.
    log: BTreeMap<u64, LoggedEvent>,
    /// How many events the log keeps (0: unbounded).
    retention: usize,
    /// Refuse every call, as an unreachable Redis would.
    down: bool,
    /// Let another node write this many times more, each just before a write of ours.
    interfere: u32,
    /// The event another node writes when interfering (default: a new role each time).
    interfering: Option<PolicyEvent>,
    /// How many writes were attempted.
    attempts: u32,
    /// What [`PolicyBackend::request_timeout`] answers.
    request_timeout: Option<Duration>,
    /// Each write takes this long and then gets no answer, as on a hung Redis.
    hang: Option<Duration>,
    /// Every deadline the store set, in order.
    deadlines: Vec<Option<Instant>>,
}

impl Shared {
    fn version(&self) -> u64 {
        self.state.as_ref().map_or(0, Policy::version)
    }

    /// Another node's write of `event`, on the stored version.
    fn write(&mut self, event: PolicyEvent) -> LoggedEvent {
        let policy = self
            .state
            .clone()
            .unwrap_or_default()
            .apply(&event)
            .unwrap();
        let entry = LoggedEvent {
            version: policy.version(),
            created_at_us: 42,
            event,
        };
        self.record(entry.clone(), policy);
        entry
    }

    fn record(&mut self, entry: LoggedEvent, policy: Policy) {
        self.log.insert(entry.version, entry);
        self.state = Some(policy);
        while self.retention > 0 && self.log.len() > self.retention {
            self.log.pop_first();
        }
    }
}

/// A handle on the fake store; each node gets a clone.
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Shared>>);

impl Fake {
    fn with(&self, f: impl FnOnce(&mut Shared)) {
        f(&mut self.0.lock().unwrap());
    }

    /// Another node's write.
    fn write(&self, event: PolicyEvent) -> LoggedEvent {
        self.0.lock().unwrap().write(event)
    }

    fn node(&self, seed: Option<PolicyDocument>) -> PolicyStoreHandle {
        PolicyStoreHandle::start(Box::new(self.clone()), seed).unwrap()
    }

    fn unavailable(&self) -> LoadError {
        LoadError::Unavailable {
            store: self.describe(),
            reason: "connection refused".to_owned(),
        }
    }
}

impl PolicyBackend for Fake {
    fn load(&mut self) -> Result<Option<Policy>, LoadError> {
        let shared = self.0.lock().unwrap();
        if shared.down {
            return Err(self.unavailable());
        }
        Ok(shared.state.clone())
    }

    fn append(&mut self, event: &PolicyEvent, policy: &Policy) -> Result<(), SaveError> {
        self.append_batch_at(&[(event.clone(), policy.clone())], 7)
    }

    fn append_batch_at(
        &mut self,
        items: &[(PolicyEvent, Policy)],
        created_at_us: u64,
    ) -> Result<(), SaveError> {
        let mut shared = self.0.lock().unwrap();
        let version = items.last().unwrap().1.version();
        if shared.down {
            return Err(SaveError::Unavailable {
                store: self.describe(),
                version,
                reason: "connection refused".to_owned(),
            });
        }
        shared.attempts += 1;
        if let Some(hang) = shared.hang {
            drop(shared);
            std::thread::sleep(hang);
            return Err(SaveError::OutcomeUnknown {
                store: self.describe(),
                version,
                reason: "timed out".to_owned(),
            });
        }
        if shared.interfere > 0 {
            shared.interfere -= 1;
            let n = shared.attempts;
            let event = shared
                .interfering
                .clone()
                .unwrap_or_else(|| role(&format!("other_{n}")));
            shared.write(event);
        }
        let base = items[0].1.version() - 1;
        if base != shared.version() {
            return Err(SaveError::Stale {
                stored: shared.version(),
            });
        }
        for (event, policy) in items {
            let entry = LoggedEvent {
                version: policy.version(),
                created_at_us,
                event: event.clone(),
            };
            shared.record(entry, policy.clone());
        }
        Ok(())
    }

    fn catch_up(&mut self, from: u64) -> Result<CatchUp, LoadError> {
        let shared = self.0.lock().unwrap();
        if shared.down {
            return Err(self.unavailable());
        }
        let stored = shared.version();
        if stored < from {
            return Ok(CatchUp::Full(shared.state.clone().unwrap_or_default()));
        }
        let events: Option<Vec<LoggedEvent>> = (from + 1..=stored)
            .map(|v| shared.log.get(&v).cloned())
            .collect();
        Ok(match events {
            Some(events) => CatchUp::Events(events),
            None => CatchUp::Full(shared.state.clone().unwrap_or_default()),
        })
    }

    fn request_timeout(&self) -> Option<Duration> {
        self.0.lock().unwrap().request_timeout
    }

    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.0.lock().unwrap().deadlines.push(deadline);
    }

    fn describe(&self) -> String {
        "a fake shared store".to_owned()
    }
}

/// Waits until the actor has handled every message sent before (one mailbox, one thread).
async fn settle(node: &PolicyStoreHandle) {
    node.apply(Vec::new(), None).await.unwrap();
}

fn versions(node: &PolicyStoreHandle) -> Vec<(u64, Option<u64>)> {
    node.applied()
        .iter()
        .map(|a| (a.version, a.created_at_us))
        .collect()
}

#[actix::test]
async fn remote_events_apply_once_and_in_version_order() {
    let fake = Fake::default();
    let node = fake.node(Some(seed()));
    assert_eq!(
        node.last_applied(),
        None,
        "the starting policy is not a change"
    );
    let entry = fake.write(role("agent"));
    node.apply_remote(entry.clone());
    node.apply_remote(entry); // a duplicate, or the echo of our own write
    node.apply_remote(LoggedEvent {
        version: 1,
        created_at_us: 1,
        event: role("ignored"),
    });
    settle(&node).await;
    let policy = node.reader().current();
    assert_eq!(policy.version(), 2);
    assert!(policy.role("agent").is_some());
    assert!(policy.role("ignored").is_none());
    assert_eq!(versions(&node), [(2, Some(42))]);
    let last = node.last_applied().unwrap();
    assert!(last.applied_at_us > 42);
    assert!(last.remote, "another node wrote version 2");
    // This node's own write is not a propagated one.
    node.apply(vec![role("clerk")], None).await.unwrap();
    let own = node.last_applied().unwrap();
    assert_eq!((own.version, own.remote), (3, false));
}

#[actix::test]
async fn a_gap_is_closed_from_the_log_not_skipped() {
    let fake = Fake::default();
    let node = fake.node(Some(seed()));
    fake.write(role("agent"));
    fake.write(role("clerk"));
    let last = fake.write(user("paul", &["agent", "clerk"]));
    node.apply_remote(last); // versions 2 and 3 never arrived
    settle(&node).await;
    assert_eq!(node.reader().version(), 4);
    assert_eq!(
        node.reader().current().user("paul").unwrap().roles,
        ["agent", "clerk"]
    );
    assert_eq!(
        versions(&node),
        [(2, Some(42)), (3, Some(42)), (4, Some(42))]
    );
}

#[actix::test]
async fn a_trimmed_log_gives_the_whole_policy() {
    let fake = Fake::default();
    fake.with(|s| s.retention = 1);
    let node = fake.node(Some(seed()));
    fake.write(role("agent"));
    fake.write(role("clerk"));
    node.catch_up();
    settle(&node).await;
    assert_eq!(node.reader().version(), 3);
    assert!(node.reader().current().role("agent").is_some());
    assert_eq!(versions(&node), [(3, None)]);
}

#[actix::test]
async fn a_diverged_node_reloads_the_whole_policy() {
    let fake = Fake::default();
    let node = fake.node(Some(seed()));
    fake.write(role("agent"));
    // A version 2 that does not apply here (a bug somewhere): the node does not guess, it
    // reloads what the store holds.
    node.apply_remote(LoggedEvent {
        version: 2,
        created_at_us: 1,
        event: PolicyEvent::DeleteRole {
            name: "nobody".to_owned(),
        },
    });
    settle(&node).await;
    assert_eq!(node.reader().version(), 2);
    assert!(node.reader().current().role("agent").is_some());
    assert_eq!(versions(&node), [(2, None)]);
}

#[actix::test]
async fn a_stale_write_is_recomputed_on_the_new_policy() {
    let fake = Fake::default();
    let node = fake.node(Some(seed()));
    fake.with(|s| s.interfere = 2);
    assert_eq!(node.apply(vec![role("agent")], None).await.unwrap(), 4);
    let policy = node.reader().current();
    assert!(policy.role("other_2").is_some() && policy.role("other_3").is_some());
    assert!(policy.role("agent").is_some());
    fake.with(|s| {
        assert_eq!(s.version(), 4);
        assert_eq!(s.log[&4].event, role("agent"));
    });
    let recorded: Vec<u64> = versions(&node).iter().map(|v| v.0).collect();
    assert_eq!(recorded, [2, 3, 4]);
}

#[actix::test]
async fn a_write_that_keeps_losing_gives_up_after_the_retries() {
    let fake = Fake::default();
    let node = fake.node(Some(seed()));
    fake.with(|s| {
        s.interfere = 100;
        s.attempts = 0;
    });
    let err = node.apply(vec![role("agent")], None).await.unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict { .. }), "{err:?}");
    fake.with(|s| assert_eq!(s.attempts, MAX_RETRIES + 1));
    assert!(node.reader().current().role("agent").is_none());
    assert_eq!(node.reader().version(), 1 + u64::from(MAX_RETRIES) + 1);
}

#[actix::test]
async fn a_stale_write_with_an_expected_version_is_a_conflict() {
    let fake = Fake::default();
    let node = fake.node(Some(seed()));
    fake.with(|s| s.interfere = 1);
    let err = node.apply(vec![role("agent")], Some(1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::VersionConflict {
                expected: 1,
                actual: 2
            }
        ),
        "{err:?}"
    );
    assert_eq!(node.reader().version(), 2, "caught up while refusing");
    assert!(node.reader().current().role("agent").is_none());
}

#[actix::test]
async fn a_change_invalid_on_the_new_policy_is_refused() {
    let fake = Fake::default();
    let node = fake.node(Some(seed()));
    fake.with(|s| {
        s.interfere = 1;
        s.interfering = Some(PolicyEvent::DeleteUser {
            username: "alex".to_owned(),
        });
    });
    let err = node
        .apply(
            vec![PolicyEvent::SetUserRoles {
                username: "alex".to_owned(),
                roles: vec!["manager".to_owned()],
            }],
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::Invalid(PolicyError::NotFound { kind: "user", .. })
        ),
        "{err:?}"
    );
    assert_eq!(node.reader().version(), 2);
}

#[actix::test]
async fn a_concurrent_seed_wins_and_ours_is_not_recorded() {
    let fake = Fake::default();
    let mut theirs = seed();
    theirs.scopes.clear();
    fake.with(|s| {
        s.interfere = 1;
        s.interfering = Some(PolicyEvent::ReplaceAll(theirs.clone()));
    });
    let node = fake.node(Some(seed()));
    assert_eq!(node.reader().version(), 1);
    assert_eq!(
        node.reader().current().to_document(),
        Policy::from_document(1, theirs).unwrap().to_document()
    );
    fake.with(|s| assert_eq!(s.log.len(), 1));
}

#[actix::test]
async fn a_store_that_went_back_is_not_followed() {
    let fake = Fake::default();
    let node = fake.node(Some(seed()));
    node.apply(vec![role("agent")], None).await.unwrap();
    node.apply(vec![role("clerk")], None).await.unwrap();
    // The store loses its last two versions (restored from an old backup).
    fake.with(|s| {
        s.log.retain(|v, _| *v == 1);
        s.state = Some(Policy::from_document(1, seed()).unwrap());
    });
    node.catch_up();
    settle(&node).await;
    assert_eq!(
        node.reader().version(),
        3,
        "readers keep the newest policy they saw"
    );
    let err = node.apply(vec![role("intern")], None).await.unwrap_err();
    match &err {
        StoreError::StoreBehind {
            stored, current, ..
        } => assert_eq!((*stored, *current), (1, 3)),
        other => panic!("expected StoreBehind, got {other:?}"),
    }
    assert!(err.to_string().contains("lost policy changes"), "{err}");
    assert_eq!(node.reader().version(), 3);
    fake.with(|s| assert_eq!(s.version(), 1, "nothing written on the older store"));
}

#[actix::test]
async fn an_unreachable_store_fails_writes_and_keeps_the_snapshot() {
    let fake = Fake::default();
    let node = fake.node(Some(seed()));
    fake.with(|s| s.down = true);
    let err = node.apply(vec![role("agent")], None).await.unwrap_err();
    match &err {
        StoreError::Unavailable(reason) => {
            assert!(reason.contains("did not record version 2"), "{reason}");
            assert!(reason.contains("connection refused"), "{reason}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    node.catch_up();
    settle(&node).await;
    assert_eq!(node.reader().version(), 1);
    assert!(node.reader().current().user("alex").is_some());

    fake.with(|s| s.down = false);
    fake.write(role("clerk"));
    node.catch_up();
    assert_eq!(node.apply(vec![role("agent")], None).await.unwrap(), 3);
}

#[actix::test]
async fn a_change_waits_at_most_the_stores_timeout_queue_included() {
    let fake = Fake::default();
    fake.with(|s| s.request_timeout = Some(Duration::from_millis(300)));
    let node = fake.node(Some(seed()));
    // Every write now hangs for longer than the timeout and gets no answer.
    fake.with(|s| s.hang = Some(Duration::from_millis(400)));
    let started = Instant::now();
    let (first, second) = futures_util::future::join(
        node.apply(vec![role("agent")], None),
        node.apply(vec![role("clerk")], None),
    )
    .await;
    match first.unwrap_err() {
        StoreError::OutcomeUnknown(reason) => assert!(reason.contains("version 2"), "{reason}"),
        other => panic!("expected OutcomeUnknown, got {other:?}"),
    }
    // The second waited behind the first until its own time was up: refused unsent, not
    // written after a wait of its own.
    match second.unwrap_err() {
        StoreError::Unavailable(reason) => assert!(reason.contains("not sent"), "{reason}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    fake.with(|s| {
        assert_eq!(
            s.attempts, 2,
            "the seed and the first change; the queued one never reached the store"
        );
        // The write ran with a deadline, cleared afterwards.
        assert!(
            matches!(s.deadlines[..], [Some(_), None]),
            "{:?}",
            s.deadlines
        );
    });
}

#[actix::test]
async fn a_node_resumes_from_its_snapshot_when_the_store_is_down_or_lost_its_data() {
    let published = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&published);
    let observer: scopegate_policy_store::Observer =
        Arc::new(move |p: &Arc<Policy>| seen.lock().unwrap().push(p.version()));
    let snapshot = || {
        Policy::default()
            .apply(&PolicyEvent::ReplaceAll(seed()))
            .unwrap()
            .apply(&role("agent"))
            .unwrap()
    };

    // Down: without a snapshot the store cannot start; with one it starts from it.
    let fake = Fake::default();
    fake.with(|s| s.down = true);
    match PolicyStoreHandle::start_or_resume(Box::new(fake.clone()), Some(seed()), None, None) {
        Err(StoreError::Load(LoadError::Unavailable { .. })) => {}
        other => panic!(
            "expected an unavailable store, got {:?}",
            other.map(|(_, o)| o)
        ),
    }
    let (node, origin) = PolicyStoreHandle::start_or_resume(
        Box::new(fake.clone()),
        Some(seed()),
        Some(snapshot()),
        Some(observer),
    )
    .unwrap();
    assert_eq!(origin, Origin::Resumed);
    assert_eq!(node.reader().version(), 2);
    // Back: the node catches up on what it missed and writes again.
    fake.with(|s| {
        s.down = false;
        let _ = s.write(PolicyEvent::ReplaceAll(seed()));
        let _ = s.write(role("agent"));
        let _ = s.write(role("clerk"));
    });
    node.catch_up();
    settle(&node).await;
    assert_eq!(node.reader().version(), 3);
    assert_eq!(node.apply(vec![role("intern")], None).await.unwrap(), 4);
    assert_eq!(
        *published.lock().unwrap(),
        [2, 3, 4],
        "the observer saw the starting policy and every later one"
    );

    // Empty although the snapshot holds a policy: the store lost its data. The node starts
    // from the snapshot and does not seed the store from the policy file.
    let fake = Fake::default();
    let (node, origin) = PolicyStoreHandle::start_or_resume(
        Box::new(fake.clone()),
        Some(seed()),
        Some(snapshot()),
        None,
    )
    .unwrap();
    assert_eq!(origin, Origin::Resumed);
    assert_eq!(node.reader().version(), 2);
    fake.with(|s| assert_eq!((s.attempts, s.version()), (0, 0), "nothing seeded"));
    let err = node.apply(vec![role("intern")], None).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::StoreBehind {
                stored: 0,
                current: 2,
                ..
            }
        ),
        "{err:?}"
    );

    // A first start (no snapshot) on an empty store seeds it as before.
    let fake = Fake::default();
    let (node, origin) =
        PolicyStoreHandle::start_or_resume(Box::new(fake.clone()), Some(seed()), None, None)
            .unwrap();
    assert_eq!((origin, node.reader().version()), (Origin::Seeded, 1));
}
