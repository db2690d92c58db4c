//! The policy store on a real Redis: several nodes (each a `PolicyStoreHandle` with its own
//! connection and listener) sharing one store, changes propagating in version order, catching
//! up after missed messages, a trimmed log, concurrent seeding, stale writes, Redis going away
//! and coming back, and key prefixes that keep deployments apart.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use scopegate_cluster::spawn_policy_listener;
use scopegate_cluster::testing::RedisServer;
use scopegate_cluster::{ClusterSettings, Names, Redis, RedisPolicyBackend, SyncConn};
use scopegate_core::{Policy, PolicyDocument, PolicyError, PolicyEvent, Role, User};
use scopegate_policy_store::{LoadError, PolicyBackend, PolicyStoreHandle, StoreError};

/// A syntactically valid argon2id PHC string; the store never verifies it.
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

/// How often listeners catch up unasked, in tests that must not depend on it.
const NEVER: Duration = Duration::from_secs(3600);

fn settings(server: &RedisServer, prefix: &str) -> ClusterSettings {
    ClusterSettings {
        redis_url: Some(server.url()),
        key_prefix: prefix.to_owned(),
        connect_timeout_ms: 500,
        command_timeout_ms: 1_000,
        reconnect_max_backoff_ms: 100,
        ..Default::default()
    }
}

fn role(name: &str) -> PolicyEvent {
    PolicyEvent::PutRole(Role {
        name: name.to_owned(),
        permissions: Vec::new(),
        description: String::new(),
    })
}

fn user(name: &str, roles: &[&str]) -> PolicyEvent {
    PolicyEvent::PutUser(User {
        username: name.to_owned(),
        password_hash: HASH.to_owned(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        enabled: true,
    })
}

/// Roles manager and employee, scopes news_read and news_write, user alex.
fn seed() -> PolicyDocument {
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

/// One node: its own Redis handle and connection, its store, and (once started) its listener.
struct Node {
    redis: Arc<Redis>,
    names: Names,
    store: PolicyStoreHandle,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl Node {
    /// Starts a node that is not listening yet (it misses every message until [`Node::listen`]).
    fn start(s: &ClusterSettings, seed: Option<PolicyDocument>, retention: u64) -> Self {
        let redis = Redis::open(s).unwrap();
        let names = s.names();
        let store = PolicyStoreHandle::start(backend(&redis, &names, retention), seed).unwrap();
        Self {
            redis,
            names,
            store,
            listener: None,
        }
    }

    /// Starts a listening node.
    fn listening(s: &ClusterSettings, seed: Option<PolicyDocument>, period: Duration) -> Self {
        let mut node = Self::start(s, seed, 100);
        node.listen(period);
        node
    }

    fn listen(&mut self, period: Duration) {
        self.listener = Some(spawn_policy_listener(
            Arc::clone(&self.redis),
            &self.names,
            self.store.clone(),
            period,
        ));
    }

    fn version(&self) -> u64 {
        self.store.reader().version()
    }

    fn policy(&self) -> Arc<Policy> {
        self.store.reader().current()
    }

    /// Waits until the node serves `version`.
    async fn reaches(&self, version: u64) {
        eventually(&format!("the node serves version {version}"), || {
            self.version() == version
        })
        .await;
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
    }
}

fn backend(redis: &Arc<Redis>, names: &Names, retention: u64) -> Box<dyn PolicyBackend> {
    Box::new(RedisPolicyBackend::new(
        SyncConn::new(Arc::clone(redis)),
        names,
        retention,
    ))
}

/// Writes `events` straight into the store under `names`, the way another node would, without
/// any store of this process knowing; returns the new version.
fn write_directly(backend: &mut dyn PolicyBackend, events: &[PolicyEvent]) -> u64 {
    let mut policy = backend.load().unwrap().unwrap_or_default();
    for event in events {
        policy = policy.apply(event).unwrap();
        backend.append(event, &policy).unwrap();
    }
    policy.version()
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_rt::test]
async fn a_write_on_one_node_reaches_the_other() {
    let server = RedisServer::start();
    let s = settings(&server, "prop");
    let a = Node::listening(&s, Some(seed()), NEVER);
    let b = Node::listening(&s, Some(seed()), NEVER);
    assert_eq!((a.version(), b.version()), (1, 1));

    assert_eq!(a.store.apply(vec![role("agent")], None).await.unwrap(), 2);
    assert_eq!(a.version(), 2, "the writer publishes before answering");
    b.reaches(2).await;
    assert!(b.policy().role("agent").is_some());
    assert_eq!(b.policy().to_document(), a.policy().to_document());

    // Both record when version 2 was written (the same instant) and when they published it.
    let on_a = a.store.last_applied().unwrap();
    let on_b = b.store.last_applied().unwrap();
    assert_eq!((on_a.version, on_b.version), (2, 2));
    assert_eq!(on_a.created_at_us, on_b.created_at_us);
    let created = on_b.created_at_us.unwrap();
    assert!(created <= on_a.applied_at_us && created <= on_b.applied_at_us);

    // And back the other way; A ignores the echo of its own write (applied once).
    assert_eq!(
        b.store
            .apply(vec![user("paul", &["agent"])], None)
            .await
            .unwrap(),
        3
    );
    a.reaches(3).await;
    assert_eq!(a.policy().user("paul").unwrap().roles, ["agent"]);
    let versions: Vec<u64> = a.store.applied().iter().map(|v| v.version).collect();
    assert_eq!(versions, [2, 3]);
}

#[actix_rt::test]
async fn the_redis_layout_is_as_documented() {
    let server = RedisServer::start();
    let s = settings(&server, "layout");
    let names = s.names();
    let a = Node::start(&s, Some(seed()), 100);
    let mut conn = server.connection();
    let mut pubsub = server.connection();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut pubsub = pubsub.as_pubsub();
    pubsub.subscribe(&names.policy_channel).unwrap();

    a.store.apply(vec![role("agent")], None).await.unwrap();

    let version: u64 = redis::cmd("GET")
        .arg(&names.policy_version)
        .query(&mut conn)
        .unwrap();
    assert_eq!(version, 2);
    let state: String = redis::cmd("GET")
        .arg(&names.policy_state)
        .query(&mut conn)
        .unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["version"], 2);
    let document: PolicyDocument = serde_json::from_value(state["document"].clone()).unwrap();
    assert_eq!(document, a.policy().to_document());

    let entry: String = redis::cmd("HGET")
        .arg(&names.policy_log)
        .arg(2)
        .query(&mut conn)
        .unwrap();
    let entry: serde_json::Value = serde_json::from_str(&entry).unwrap();
    assert_eq!(entry["version"], 2);
    assert!(entry["created_at_us"].as_u64().unwrap() > 1_600_000_000_000_000);
    assert_eq!(entry["event"]["type"], "put_role");
    assert_eq!(entry["event"]["name"], "agent");

    // The published message is the log entry, byte for byte.
    let message = pubsub.get_message().unwrap();
    assert_eq!(message.get_channel_name(), names.policy_channel);
    let payload: serde_json::Value = serde_json::from_slice(message.get_payload_bytes()).unwrap();
    assert_eq!(payload, entry);
}

#[actix_rt::test]
async fn a_node_that_missed_messages_catches_up_from_the_log() {
    let server = RedisServer::start();
    let s = settings(&server, "missed");
    let a = Node::start(&s, Some(seed()), 100);
    let mut b = Node::start(&s, Some(seed()), 100);

    a.store.apply(vec![role("agent")], None).await.unwrap();
    a.store
        .apply(vec![role("clerk"), user("paul", &["agent", "clerk"])], None)
        .await
        .unwrap();
    assert_eq!(a.version(), 4);
    assert_eq!(b.version(), 1, "b is not listening");

    // Subscribing catches up first, from the log: every version, in order, with its write time.
    b.listen(NEVER);
    b.reaches(4).await;
    assert_eq!(b.policy().to_document(), a.policy().to_document());
    let applied = b.store.applied();
    let versions: Vec<u64> = applied.iter().map(|v| v.version).collect();
    assert_eq!(versions, [2, 3, 4]);
    assert!(applied.iter().all(|v| v.created_at_us.is_some()));
    assert_eq!(
        applied[1].created_at_us, applied[2].created_at_us,
        "one batch"
    );

    // A message that skips versions (here: events another node recorded while this one did not
    // hear them) makes the node read the log instead of applying out of order.
    let mut other = RedisPolicyBackend::new(
        SyncConn::new(Redis::open(&s).unwrap()),
        &Names::new("missed", "elsewhere"),
        100,
    );
    write_directly(&mut other, &[role("auditor")]);
    a.store.apply(vec![role("intern")], None).await.unwrap(); // 5 is stale: a catches up, writes 6
    assert_eq!(a.version(), 6);
    b.reaches(6).await;
    assert!(b.policy().role("auditor").is_some());
    assert!(b.policy().role("intern").is_some());
}

#[actix_rt::test]
async fn a_node_behind_a_trimmed_log_reloads_the_whole_policy() {
    let server = RedisServer::start();
    let s = settings(&server, "trim");
    let names = s.names();
    let a = Node::start(&s, Some(seed()), 2);
    let b = Node::start(&s, Some(seed()), 2);
    for name in ["r1", "r2", "r3", "r4", "r5"] {
        a.store.apply(vec![role(name)], None).await.unwrap();
    }
    assert_eq!(a.version(), 6);
    let mut conn = server.connection();
    let mut kept: Vec<u64> = redis::cmd("HKEYS")
        .arg(&names.policy_log)
        .query(&mut conn)
        .unwrap();
    kept.sort_unstable();
    assert_eq!(
        kept,
        [5, 6],
        "the log keeps the newest `retention` versions"
    );

    b.store.catch_up();
    b.reaches(6).await;
    assert_eq!(b.policy().to_document(), a.policy().to_document());
    let applied = b.store.applied();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].version, 6);
    assert_eq!(
        applied[0].created_at_us, None,
        "a reload does not know when 6 was written"
    );

    // Lowering the retention trims the older entries on the next write.
    let mut small = RedisPolicyBackend::new(SyncConn::new(Redis::open(&s).unwrap()), &names, 1);
    write_directly(&mut small, &[role("r6")]);
    let kept: Vec<u64> = redis::cmd("HKEYS")
        .arg(&names.policy_log)
        .query(&mut conn)
        .unwrap();
    assert_eq!(kept, [7]);
}

#[test]
fn concurrent_first_starts_seed_exactly_once() {
    const NODES: usize = 6;
    let server = RedisServer::start();
    let s = settings(&server, "seed");
    let barrier = Arc::new(Barrier::new(NODES));
    let threads: Vec<_> = (0..NODES)
        .map(|i| {
            let s = s.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let redis = Redis::open(&s).unwrap();
                    let mut conn = SyncConn::new(Arc::clone(&redis));
                    conn.run(|c| redis::cmd("PING").query::<String>(c)).unwrap();
                    let backend = Box::new(RedisPolicyBackend::new(conn, &s.names(), 100));
                    // Each node has its own policy file, so the test can tell whose seed won.
                    let mut doc = seed();
                    doc.roles.push(Role {
                        name: format!("node_{i}"),
                        permissions: Vec::new(),
                        description: String::new(),
                    });
                    barrier.wait();
                    let store = PolicyStoreHandle::start(backend, Some(doc)).unwrap();
                    let policy = store.reader().current();
                    (policy.version(), policy.to_document())
                })
            })
        })
        .collect();
    let started: Vec<(u64, PolicyDocument)> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    for (version, doc) in &started {
        assert_eq!(*version, 1);
        assert_eq!(
            doc, &started[0].1,
            "every node serves the one seed that won"
        );
    }
    let winners = started[0]
        .1
        .roles
        .iter()
        .filter(|r| r.name.starts_with("node_"))
        .count();
    assert_eq!(winners, 1);

    let mut conn = server.connection();
    let names = s.names();
    let version: u64 = redis::cmd("GET")
        .arg(&names.policy_version)
        .query(&mut conn)
        .unwrap();
    let logged: u64 = redis::cmd("HLEN")
        .arg(&names.policy_log)
        .query(&mut conn)
        .unwrap();
    assert_eq!((version, logged), (1, 1), "seeded exactly once");
}

#[actix_rt::test]
async fn a_write_on_a_stale_node_is_recomputed_or_refused() {
    let server = RedisServer::start();
    let s = settings(&server, "stale");
    let a = Node::listening(&s, Some(seed()), NEVER);
    let b = Node::start(&s, Some(seed()), 100); // not listening: stays behind

    // Without an expected version: b catches up and applies its change on top.
    a.store.apply(vec![role("agent")], None).await.unwrap();
    assert_eq!(b.version(), 1);
    assert_eq!(b.store.apply(vec![role("clerk")], None).await.unwrap(), 3);
    assert!(b.policy().role("agent").is_some(), "a's change is kept");
    assert!(b.policy().role("clerk").is_some());
    a.reaches(3).await;
    assert_eq!(a.policy().to_document(), b.policy().to_document());

    // With an expected version: b catches up and refuses.
    a.store.apply(vec![role("intern")], None).await.unwrap();
    let err = b
        .store
        .apply(vec![role("auditor")], Some(3))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::VersionConflict {
                expected: 3,
                actual: 4
            }
        ),
        "{err:?}"
    );
    assert_eq!(b.version(), 4, "b caught up while refusing");
    assert!(b.policy().role("auditor").is_none());

    // A change that no longer makes sense on the new policy is refused, not forced.
    a.store
        .apply(
            vec![PolicyEvent::DeleteRole {
                name: "clerk".to_owned(),
            }],
            None,
        )
        .await
        .unwrap();
    let err = b
        .store
        .apply(vec![user("paul", &["clerk"])], None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(PolicyError::Invalid(_))),
        "{err:?}"
    );
    assert_eq!(b.version(), 5);
    assert!(b.policy().user("paul").is_none());
    let version: u64 = redis::cmd("GET")
        .arg(s.names().policy_version)
        .query(&mut server.connection())
        .unwrap();
    assert_eq!(version, 5);
}

#[actix_rt::test]
async fn while_redis_is_down_writes_fail_and_readers_keep_their_snapshot() {
    let mut server = RedisServer::start();
    let s = settings(&server, "outage");
    let a = Node::listening(&s, Some(seed()), NEVER);
    let b = Node::listening(&s, Some(seed()), NEVER);
    let c = Node::start(&s, Some(seed()), 100); // idle: its connection dies unnoticed

    server.kill();
    let err = a.store.apply(vec![role("agent")], None).await.unwrap_err();
    match &err {
        StoreError::Unavailable(reason) => {
            assert!(reason.contains("did not record version 2"), "{reason}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(!a.redis.health().is_up());
    assert_eq!(a.version(), 1);
    assert!(a.policy().role("agent").is_none());
    assert!(
        a.policy().user("alex").is_some(),
        "still serving the last snapshot"
    );
    assert_eq!(b.version(), 1);

    // A node cannot start without the store.
    let redis = Redis::open(&s).unwrap();
    match PolicyStoreHandle::start(backend(&redis, &s.names(), 100), Some(seed())) {
        Err(StoreError::Load(LoadError::Unavailable { .. })) => {}
        Err(other) => panic!("expected an unavailable store, got {other:?}"),
        Ok(_) => panic!("a node must not start without its store"),
    }

    // Back, with its data: writes work again, nothing was half-written, nobody re-seeds.
    server.restart();
    let mut other = RedisPolicyBackend::new(
        SyncConn::new(Redis::open(&s).unwrap()),
        &Names::new("outage", "elsewhere"), // recorded, but b hears no message for it
        100,
    );
    assert_eq!(write_directly(&mut other, &[role("auditor")]), 2);
    let version = a.store.apply(vec![role("agent")], None).await.unwrap();
    assert_eq!(version, 3);
    assert!(a.redis.health().is_up());
    b.reaches(3).await;
    assert!(b.policy().role("auditor").is_some());
    assert!(b.policy().role("agent").is_some());
    assert_eq!(b.policy().to_document(), a.policy().to_document());

    // A node whose connection died while it was idle writes on the first try: the connection
    // is checked before the write, which itself is never repeated.
    actix_rt::time::sleep(Duration::from_millis(1_100)).await; // idle longer than the check
    assert_eq!(c.version(), 1);
    assert_eq!(c.store.apply(vec![role("clerk")], None).await.unwrap(), 4);
    b.reaches(4).await;
}

#[actix_rt::test]
async fn an_undecodable_message_or_the_timer_triggers_a_catch_up() {
    let server = RedisServer::start();
    let s = settings(&server, "garbage");
    let b = Node::listening(&s, Some(seed()), NEVER);
    let mut other = RedisPolicyBackend::new(
        SyncConn::new(Redis::open(&s).unwrap()),
        &Names::new("garbage", "elsewhere"),
        100,
    );
    eventually("b is subscribed", || b.redis.health().is_up()).await;
    // Give the subscription a moment to be registered before publishing to it.
    let mut conn = server.connection();
    eventually("b's subscription is registered", || {
        let counts: Vec<(String, u64)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&s.names().policy_channel)
            .query(&mut conn)
            .unwrap();
        counts[0].1 == 1
    })
    .await;
    assert_eq!(write_directly(&mut other, &[role("agent")]), 2);
    let _: u64 = redis::cmd("PUBLISH")
        .arg(&s.names().policy_channel)
        .arg("{not json")
        .query(&mut conn)
        .unwrap();
    b.reaches(2).await;

    // The periodic catch-up needs no message at all.
    let c = Node::listening(&s, Some(seed()), Duration::from_millis(50));
    c.reaches(2).await;
    assert_eq!(write_directly(&mut other, &[role("clerk")]), 3);
    c.reaches(3).await;
}

#[actix_rt::test]
async fn key_prefixes_keep_deployments_apart() {
    let server = RedisServer::start();
    let one = settings(&server, "one");
    let two = settings(&server, "two");
    let one_a = Node::listening(&one, Some(seed()), NEVER);
    let one_b = Node::listening(&one, Some(seed()), NEVER);
    let mut other_seed = seed();
    other_seed.scopes.clear();
    let two_a = Node::listening(&two, Some(other_seed), Duration::from_millis(50));
    assert_eq!(two_a.version(), 1, "each deployment seeds its own store");
    assert!(two_a.policy().scope("news_read").is_none());

    one_a.store.apply(vec![role("agent")], None).await.unwrap();
    one_a.store.apply(vec![role("clerk")], None).await.unwrap();
    one_b.reaches(3).await;
    // two_a's timer has caught up many times meanwhile; it still serves its own policy.
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(two_a.version(), 1);
    assert!(two_a.policy().role("agent").is_none());

    let mut conn = server.connection();
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("two:*").query(&mut conn).unwrap();
    keys.sort();
    assert_eq!(
        keys,
        ["two:policy:log", "two:policy:state", "two:policy:version"]
    );
}

#[actix_rt::test]
async fn damaged_data_is_an_error_never_an_empty_store() {
    let server = RedisServer::start();
    let s = settings(&server, "bad");
    let names = s.names();
    let redis = Redis::open(&s).unwrap();
    let mut conn = server.connection();
    let mut set = |key: &str, value: &str| {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query(&mut conn)
            .unwrap();
    };
    let corrupt = |backend: &mut dyn PolicyBackend| match backend.load() {
        Err(LoadError::Corrupt { path, reason }) => format!("{}: {reason}", path.display()),
        other => panic!("expected Corrupt, got {other:?}"),
    };
    let mut backend = RedisPolicyBackend::new(SyncConn::new(Arc::clone(&redis)), &names, 100);

    set(&names.policy_version, "3");
    assert!(corrupt(&mut backend).contains("bad:policy:state: it is missing"));
    set(&names.policy_state, "{\"version\": 3, \"document\": ");
    assert!(corrupt(&mut backend).contains("undecodable JSON"));
    set(
        &names.policy_state,
        &serde_json::json!({"version": 2, "document": seed()}).to_string(),
    );
    assert!(corrupt(&mut backend).contains("holds version 2"));
    set(&names.policy_version, "three");
    assert!(corrupt(&mut backend).contains("not a number"));
    set(&names.policy_version, "3");
    let _: () = redis::cmd("DEL")
        .arg(&names.policy_state)
        .query(&mut server.connection())
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(&names.policy_state)
        .arg("version")
        .arg(3)
        .query(&mut server.connection())
        .unwrap();
    assert!(corrupt(&mut backend).contains("wrong kind of value"));
    match PolicyStoreHandle::start(Box::new(backend), Some(seed())) {
        Err(StoreError::Load(LoadError::Corrupt { .. })) => {}
        Err(other) => panic!("expected a corrupt store, got {other:?}"),
        Ok(_) => panic!("a corrupt store must not start, nor be re-seeded"),
    }

    // A damaged log entry fails a catch-up instead of being skipped.
    let good = settings(&server, "log");
    let names = good.names();
    let mut writer = RedisPolicyBackend::new(SyncConn::new(Arc::clone(&redis)), &names, 100);
    write_directly(
        &mut writer,
        &[PolicyEvent::ReplaceAll(seed()), role("agent")],
    );
    let _: () = redis::cmd("HSET")
        .arg(&names.policy_log)
        .arg(2)
        .arg("{}")
        .query(&mut server.connection())
        .unwrap();
    match writer.catch_up(1) {
        Err(LoadError::Corrupt { reason, .. }) => {
            assert!(reason.contains("version 2 is undecodable"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
