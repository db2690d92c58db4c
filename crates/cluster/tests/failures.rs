//! Cluster failures on a real Redis, the way they happen: Redis hung (`SIGSTOP`), a link
//! blackholed (a relay that stops forwarding), Redis restarted empty, Redis down while a node
//! starts. What is checked is what an operator and a client are told, and that it is true:
//! a write that got no answer says its outcome is unknown (and is then applied when Redis
//! resumes); no request waits on Redis longer than `command_timeout_ms`; the health monitor
//! notices a hung Redis without any write and marks the node stale past `max_staleness_secs`;
//! a node starts from its local snapshot; an emptied Redis is detected and re-seeded.
//!
//! The time bounds asserted here are the feature (one budget per request), with margins of
//! half a budget for a loaded machine; the waits they replace were two to three budgets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scopegate_cluster::keyring::{Kek, KeyStore, RedisKeyStore};
use scopegate_cluster::testing::{RedisServer, Relay, SentinelServer};
use scopegate_cluster::{
    ClusterSettings, LocalSnapshot, Names, Redis, RedisPolicyBackend, RedisRevocationStore,
    SnapshotWriter, SyncConn, reseed, spawn_monitor, spawn_policy_listener,
};
use scopegate_core::{Policy, PolicyDocument, PolicyEvent, Role};
use scopegate_jwt::{Algorithm, SigningKey};
use scopegate_policy_store::{Origin, PolicyBackend, PolicyReader, PolicyStoreHandle, StoreError};
use scopegate_scope_validator::RevocationStore;

/// `cluster.command_timeout_ms` of these tests.
const BUDGET: Duration = Duration::from_millis(1_000);
/// What a refusal may take beyond the budget on a loaded machine.
const SLACK: Duration = Duration::from_millis(500);
const KEK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// How often listeners catch up unasked, in tests that must not depend on it.
const NEVER: Duration = Duration::from_secs(3600);

fn settings(url: String, prefix: &str) -> ClusterSettings {
    ClusterSettings {
        redis_url: Some(url),
        key_prefix: prefix.to_owned(),
        connect_timeout_ms: 300,
        command_timeout_ms: BUDGET.as_millis() as u64,
        reconnect_max_backoff_ms: 100,
        ping_interval_ms: 100,
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

fn seed() -> PolicyDocument {
    serde_json::from_value(serde_json::json!({
        "roles": [{"name": "manager"}],
        "scopes": [{"key": "news_write", "roles": ["manager"]}]
    }))
    .unwrap()
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting until {what}"
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// A node's policy side: its Redis handle, store and listener.
struct Node {
    redis: Arc<Redis>,
    store: PolicyStoreHandle,
    _listener: tokio::task::JoinHandle<()>,
}

impl Node {
    fn start(s: &ClusterSettings) -> Self {
        let redis = Redis::open(s).unwrap();
        let store = PolicyStoreHandle::start(backend(&redis, &s.names()), Some(seed())).unwrap();
        let listener = spawn_policy_listener(Arc::clone(&redis), &s.names(), store.clone(), NEVER);
        Self {
            redis,
            store,
            _listener: listener,
        }
    }

    fn version(&self) -> u64 {
        self.store.reader().version()
    }

    fn has_role(&self, name: &str) -> bool {
        self.store.reader().current().role(name).is_some()
    }
}

fn backend(redis: &Arc<Redis>, names: &Names) -> Box<dyn PolicyBackend> {
    Box::new(RedisPolicyBackend::new(
        SyncConn::new(Arc::clone(redis)),
        names,
        100,
    ))
}

#[actix_rt::test]
async fn a_refused_write_is_never_applied_and_an_unanswered_one_says_its_outcome_is_unknown() {
    // Redis hung: the write is refused without being sent, so it is never applied, not even
    // when Redis resumes (it used to be answered "not applied" and then applied).
    let server = RedisServer::start();
    let s = settings(server.url(), "unknown");
    let a = Node::start(&s);
    let b = Node::start(&s);
    assert_eq!(a.store.apply(vec![role("agent")], None).await.unwrap(), 2);
    server.pause();
    let err = a
        .store
        .apply(vec![role("auditor")], None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(reason) if reason.contains("did not record")),
        "{err:?}"
    );
    // While Redis is known not to answer, a write is refused at once, unsent.
    let started = Instant::now();
    let err = a.store.apply(vec![role("clerk")], None).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < SLACK, "{:?}", started.elapsed());
    server.resume();
    eventually("redis is known to answer again", || {
        a.redis.health().is_up() && !a.redis.health().is_hung()
    })
    .await;
    assert_eq!(a.store.apply(vec![role("writer")], None).await.unwrap(), 3);
    eventually("b applied the write made after the outage", || {
        b.has_role("writer")
    })
    .await;
    for node in [&a, &b] {
        assert!(!node.has_role("auditor") && !node.has_role("clerk"));
        assert_eq!(node.version(), 3);
    }

    // The link breaks just after the write went out: Redis ran it, the answer never came.
    let relay = Relay::start(server.port());
    let c = Node::start(&settings(relay.url(), "unknown"));
    eventually("c caught up", || c.version() == 3).await;
    relay.lose_replies_after_request(200);
    let started = Instant::now();
    let err = c
        .store
        .apply(vec![role("auditor")], None)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(err, StoreError::OutcomeUnknown(_)),
        "the script was sent, so its outcome is unknown: {err:?}"
    );
    assert!(err.to_string().contains("may or may not"), "{err}");
    assert!(waited < BUDGET + SLACK, "waited {waited:?}");
    assert!(!c.has_role("auditor"), "not published while unknown");
    // It was applied; every node learns it, the one that was told "unknown" too, once its
    // link works again.
    eventually("b applied it", || b.has_role("auditor")).await;
    relay.restore();
    eventually("c applied its own unanswered write", || {
        c.has_role("auditor")
    })
    .await;
    assert_eq!(c.version(), 4);
}

#[actix_rt::test]
async fn no_request_waits_on_redis_longer_than_the_command_timeout() {
    // A hung Redis behind a connection that sat idle: the PING before the write, reconnecting
    // and the write used to wait one budget each.
    let server = RedisServer::start();
    let s = settings(server.url(), "budget");
    let a = Node::start(&s);
    assert_eq!(a.store.apply(vec![role("agent")], None).await.unwrap(), 2);
    // Idle longer than the connection check's threshold (1 s), the condition under test.
    actix_rt::time::sleep(Duration::from_millis(1_100)).await;
    server.pause();
    let started = Instant::now();
    let err = a
        .store
        .apply(vec![role("auditor")], None)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(waited < BUDGET + SLACK, "waited {waited:?} for {err}");
    assert!(
        matches!(err, StoreError::Unavailable(_)),
        "the PING got no answer, the write was never sent: {err:?}"
    );
    server.resume();
    eventually("redis answers again", || !a.redis.health().is_hung()).await;
    assert!(!a.has_role("auditor"));

    // A blackholed link to a Redis that is fine.
    let relay = Relay::start(server.port());
    let s = settings(relay.url(), "budget");
    let redis = Redis::open(&s).unwrap();
    let mut conn = SyncConn::new(Arc::clone(&redis));
    conn.run(|c| redis::cmd("SET").arg("t:k").arg("1").query::<()>(c))
        .unwrap();
    relay.blackhole();
    let started = Instant::now();
    let err = conn
        .write(|c| redis::cmd("SET").arg("t:k").arg("2").query::<()>(c))
        .unwrap_err();
    let waited = started.elapsed();
    assert!(waited < BUDGET + SLACK, "waited {waited:?}");
    assert!(!err.sent, "the PING before it found the link dead: {err:?}");
    // Reconnecting through the dead link is not tried again and again.
    let started = Instant::now();
    let err = conn
        .write(|c| redis::cmd("SET").arg("t:k").arg("3").query::<()>(c))
        .unwrap_err();
    assert!(!err.sent && started.elapsed() < SLACK, "{err:?}");
    relay.restore();

    // Asking Sentinel through a blackholed link: redis-rs's own lookup has no timeout at all.
    let sentinel = SentinelServer::start(&server);
    let relay = Relay::start(sentinel.port());
    let s = settings(
        format!("redis+sentinel://127.0.0.1:{}/mymaster", relay.port()),
        "budget",
    );
    let redis = Redis::open(&s).unwrap();
    relay.blackhole();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let started = Instant::now();
        let result = SyncConn::new(redis).run(|c| redis::cmd("PING").query::<String>(c));
        let _ = done.send((result, started.elapsed()));
    });
    let (result, waited) = finished
        .recv_timeout(BUDGET * 5)
        .expect("the Sentinel lookup did not return within five budgets");
    assert!(result.is_err());
    assert!(waited < BUDGET + SLACK, "waited {waited:?}");
}

#[actix_rt::test]
async fn the_monitor_notices_a_hung_redis_without_writes_and_marks_the_node_stale() {
    let server = RedisServer::start();
    let relay = Relay::start(server.port());
    let mut s = settings(relay.url(), "monitor");
    s.ping_interval_ms = 200;
    let redis = Redis::open(&s).unwrap();
    let policy = PolicyReader::fixed(Policy::default());
    let max_staleness = Some(Duration::from_secs(1));
    let monitor = spawn_monitor(Arc::clone(&redis), &s.names(), policy, max_staleness);
    let health = Arc::clone(redis.health());
    eventually("the monitor reached redis", || health.is_up()).await;
    assert!(!health.is_stale());

    // Nothing is written; the link goes dark. Reported within about one interval (the probe
    // waits at most one interval for its answer).
    relay.blackhole();
    let noticed = eventually("redis is reported unreachable", || !health.is_up()).await;
    assert!(
        noticed < Duration::from_millis(1_000),
        "noticed after {noticed:?}"
    );
    assert!(!health.is_stale(), "not yet past max_staleness");
    eventually("the node is stale", || health.is_stale()).await;
    assert!(health.contact_age().expect("was in contact") >= Duration::from_secs(1));

    relay.restore();
    eventually("in contact again", || health.is_up() && !health.is_stale()).await;

    // The same through a hung Redis.
    server.pause();
    let noticed = eventually("a hung redis is reported", || !health.is_up()).await;
    assert!(
        noticed < Duration::from_millis(1_000),
        "noticed after {noticed:?}"
    );
    server.resume();
    eventually("redis answers again", || health.is_up()).await;
    monitor.abort();
}

/// A node as a cluster server builds it: policy store, key ring store and revocation store,
/// each keeping the node's local snapshot in `data`.
struct SnapshotNode {
    redis: Arc<Redis>,
    store: PolicyStoreHandle,
    origin: Origin,
    keys: RedisKeyStore,
    revocations: RedisRevocationStore,
    writer: SnapshotWriter,
}

impl SnapshotNode {
    fn start(s: &ClusterSettings, data: &std::path::Path) -> Result<Self, StoreError> {
        let redis = Redis::open(s).unwrap();
        let names = s.names();
        let snapshot = LocalSnapshot::open(data, &s.key_prefix).unwrap();
        let resume = snapshot.load_policy().unwrap();
        let writer = SnapshotWriter::start(snapshot.clone()).unwrap();
        let observer = writer.clone();
        let (store, origin) = PolicyStoreHandle::start_or_resume(
            backend(&redis, &names),
            Some(seed()),
            resume,
            Some(Arc::new(move |p| observer.policy(p))),
        )?;
        let keys = RedisKeyStore::new(
            SyncConn::new(Arc::clone(&redis)),
            &names,
            Kek::from_base64(KEK).unwrap(),
        )
        .with_snapshot(Arc::new(snapshot));
        let revocations = RedisRevocationStore::new(SyncConn::new(Arc::clone(&redis)), &names)
            .with_snapshot(writer.clone());
        Ok(Self {
            redis,
            store,
            origin,
            keys,
            revocations,
            writer,
        })
    }
}

#[actix_rt::test]
async fn a_node_starts_from_its_local_snapshot_while_redis_is_down() {
    let mut server = RedisServer::start();
    let s = settings(server.url(), "resume");
    let data = tempfile::tempdir().unwrap();
    let far = scopegate_jwt::unix_now() + 3_600;
    let kid = {
        let mut node = SnapshotNode::start(&s, data.path()).unwrap();
        assert_eq!(node.origin, Origin::Seeded);
        assert_eq!(
            node.store.apply(vec![role("agent")], None).await.unwrap(),
            2
        );
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let ring_key = scopegate_cluster::keyring::RingKey {
            key: key.clone(),
            created_at: 1,
            activate_at: 0,
        };
        assert!(node.keys.seed(&ring_key).unwrap());
        node.keys.load().unwrap();
        node.revocations.load(0).unwrap();
        node.revocations.insert("revoked-jti", far).unwrap();
        node.writer.flush();
        key.kid().to_owned()
    };
    let snapshot = LocalSnapshot::open(data.path(), "resume").unwrap();
    assert_eq!(
        snapshot.load_policy().unwrap().map(|p| p.version()),
        Some(2),
        "written as the node applied its changes"
    );

    // Without a snapshot a node still cannot start while Redis is down…
    server.kill();
    let empty = tempfile::tempdir().unwrap();
    match SnapshotNode::start(&s, empty.path()) {
        Err(StoreError::Load(_)) => {}
        Err(other) => panic!("expected a load error, got {other:?}"),
        Ok(_) => panic!("started without Redis and without a snapshot"),
    }
    // …with one it starts from it: the policy, the signing keys, the revocations.
    let mut node = SnapshotNode::start(&s, data.path()).unwrap();
    assert_eq!(node.origin, Origin::Resumed);
    assert_eq!(node.store.reader().version(), 2);
    assert!(node.store.reader().current().role("agent").is_some());
    let keys = node.keys.load().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key.kid(), kid);
    let revoked = node.revocations.load(scopegate_jwt::unix_now()).unwrap();
    assert_eq!(revoked.tokens, vec![("revoked-jti".to_owned(), far)]);
    // Writes fail until Redis is back; then the node catches up and writes.
    assert!(node.store.apply(vec![role("clerk")], None).await.is_err());
    server.restart();
    let _listener = spawn_policy_listener(
        Arc::clone(&node.redis),
        &s.names(),
        node.store.clone(),
        Duration::from_millis(100),
    );
    let mut version = 0;
    let started = Instant::now();
    while version == 0 {
        assert!(started.elapsed() < Duration::from_secs(15), "never wrote");
        match node.store.apply(vec![role("clerk")], None).await {
            Ok(v) => version = v,
            Err(_) => actix_rt::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert_eq!(version, 3);
}

#[actix_rt::test]
async fn a_redis_that_restarted_empty_is_detected_and_reseeded_from_a_snapshot() {
    let mut server = RedisServer::start();
    let s = settings(server.url(), "lost");
    let data = tempfile::tempdir().unwrap();
    let mut node = SnapshotNode::start(&s, data.path()).unwrap();
    let _listener = spawn_policy_listener(
        Arc::clone(&node.redis),
        &s.names(),
        node.store.clone(),
        Duration::from_millis(100),
    );
    let monitor = spawn_monitor(
        Arc::clone(&node.redis),
        &s.names(),
        node.store.reader(),
        None,
    );
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    node.keys
        .seed(&scopegate_cluster::keyring::RingKey {
            key: key.clone(),
            created_at: 1,
            activate_at: 0,
        })
        .unwrap();
    node.keys.load().unwrap();
    let far = scopegate_jwt::unix_now() + 3_600;
    node.revocations.insert("revoked-jti", far).unwrap();
    assert_eq!(
        node.store.apply(vec![role("agent")], None).await.unwrap(),
        2
    );
    node.writer.flush();
    let health = Arc::clone(node.redis.health());
    assert_eq!(health.data_lost(), None);

    server.restart_empty();
    eventually("the monitor reports the lost data", || {
        health.data_lost().is_some()
    })
    .await;
    let detail = health.data_lost().unwrap();
    assert!(
        detail.contains("no policy") && detail.contains('2'),
        "{detail}"
    );
    // A write is refused, saying why; the node keeps serving its policy.
    let err = node
        .store
        .apply(vec![role("clerk")], None)
        .await
        .unwrap_err();
    match &err {
        StoreError::StoreBehind {
            stored, current, ..
        } => assert_eq!((*stored, *current), (0, 2)),
        other => panic!("expected StoreBehind, got {other:?}"),
    }
    assert!(err.to_string().contains("re-seeded"), "{err}");
    assert_eq!(node.store.reader().version(), 2);
    // The key ring keeps its keys rather than follow an empty Redis.
    assert_eq!(node.keys.load().unwrap().len(), 1);

    // Re-seeded from the node's snapshot: writes work again, Redis has the keys and the
    // revocation back.
    let snapshot = LocalSnapshot::open(data.path(), "lost").unwrap();
    let done = reseed(&node.redis, &s.names(), &snapshot).unwrap();
    assert_eq!((done.version, done.keys, done.revocations), (2, 1, 1));
    eventually("the lost data is no longer reported", || {
        health.data_lost().is_none()
    })
    .await;
    assert_eq!(
        node.store.apply(vec![role("clerk")], None).await.unwrap(),
        3
    );
    let names = s.names();
    let mut conn = server.connection();
    let kids: Vec<String> = redis::cmd("HKEYS")
        .arg(&names.keys)
        .query(&mut conn)
        .unwrap();
    assert_eq!(kids, vec![key.kid().to_owned()]);
    let exp: Option<u64> = redis::cmd("ZSCORE")
        .arg(&names.revoked_jti)
        .arg("revoked-jti")
        .query(&mut conn)
        .unwrap();
    assert_eq!(exp, Some(far));
    // A second re-seed finds nothing to do and changes nothing.
    let err = reseed(&node.redis, &s.names(), &snapshot).unwrap_err();
    assert!(err.to_string().contains("nothing to re-seed"), "{err}");
    monitor.abort();
}
