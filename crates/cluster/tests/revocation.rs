//! Revocations in a real Redis: the store's layout and publications, then two validators
//! ("nodes") sharing one Redis, each with its listener: a revocation through one is in force on
//! the other, a late node loads it, a node that missed messages resyncs, and a Redis outage
//! fails revocations promptly while decisions go on from the snapshot.
#![cfg(feature = "testing")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use scopegate_cluster::testing::{self, RedisServer};
use scopegate_cluster::{
    ClusterSettings, Names, Redis, RedisRevocationStore, SyncConn, spawn_revocation_listener,
};
use scopegate_core::{Policy, PolicyDocument};
use scopegate_jwt::{AccessTokenClaims, Algorithm, Audience, KeySet, SigningKey};
use scopegate_policy_store::PolicyReader;
use scopegate_scope_validator::{
    Decision, RevocationEvent, RevocationStore, ScopeValidator, StoreError, SubjectRevocation,
    UnmatchedPath, ValidatorConfig, ValidatorError, ValidatorSettings,
};

const ISSUER: &str = "https://scopegate.test";
const AUDIENCE: &str = "scopegate";
/// Access-token lifetime of the test tokens.
const TTL: u64 = 3600;
/// The validators' leeway (the default).
const LEEWAY: u64 = 30;

fn now() -> u64 {
    scopegate_jwt::unix_now()
}

fn settings(server: &RedisServer) -> ClusterSettings {
    testing::settings(server.url())
}

/// How many connections are subscribed to the revocation channel.
fn subscribers(server: &RedisServer) -> i64 {
    let (_, n): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(Names::new("t", "t").revocation_channel)
        .query(&mut server.connection())
        .unwrap();
    n
}

/// Polls `done` every 5 ms for up to 10 s; returns how long it took.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting until {what}"
        );
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

/// The signing key every node trusts, and tokens signed with it.
struct Issuer {
    key: SigningKey,
    keys: Arc<ArcSwap<KeySet>>,
    next: std::sync::atomic::AtomicU64,
}

impl Issuer {
    fn new() -> Self {
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let keys = Arc::new(ArcSwap::from_pointee(KeySet::new(key.clone())));
        Self {
            key,
            keys,
            next: Default::default(),
        }
    }

    /// Claims for `sub` issued at `iat`, valid now, with a fresh `jti`.
    fn claims(&self, sub: &str, iat: u64) -> AccessTokenClaims {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        AccessTokenClaims {
            iss: ISSUER.into(),
            sub: sub.into(),
            aud: Audience::from(AUDIENCE),
            exp: now() + TTL,
            iat,
            nbf: now(),
            jti: format!("jti-{n}-{}", now()),
            client_id: "shopping-app".into(),
            scope: "order_view".into(),
            username: Some(sub.into()),
            sid: None,
        }
    }

    fn sign(&self, claims: &AccessTokenClaims) -> String {
        self.key.sign(claims).unwrap()
    }
}

/// One node: a validator over the shared Redis and, unless told otherwise, its listener.
struct Node {
    validator: ScopeValidator,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl Node {
    fn start(s: &ClusterSettings, issuer: &Issuer) -> Self {
        let mut node = Self::without_listener(s, issuer);
        let redis = Redis::open(s).unwrap();
        node.listener = Some(spawn_revocation_listener(
            redis,
            &s.names(),
            node.validator.clone(),
            None,
        ));
        node
    }

    fn without_listener(s: &ClusterSettings, issuer: &Issuer) -> Self {
        let redis = Redis::open(s).unwrap();
        let store = RedisRevocationStore::new(SyncConn::new(redis), &s.names());
        let config = ValidatorConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            settings: ValidatorSettings {
                unmatched_path: UnmatchedPath::Allow,
                ..ValidatorSettings::default()
            },
        };
        let policy =
            PolicyReader::fixed(Policy::from_document(1, PolicyDocument::default()).unwrap());
        let keys = Arc::clone(&issuer.keys);
        let validator = ScopeValidator::start(config, policy, keys, Box::new(store)).unwrap();
        Self {
            validator,
            listener: None,
        }
    }

    fn allows(&self, token: &str) -> bool {
        matches!(
            self.validator
                .decide(Some(token), "GET", "/api/orders", now()),
            Decision::Allow { .. }
        )
    }

    fn refuses_as_revoked(&self, token: &str) -> bool {
        match self
            .validator
            .decide(Some(token), "GET", "/api/orders", now())
        {
            Decision::Deny(deny) => {
                assert!(deny.description.contains("revoked"), "{deny:?}");
                true
            }
            Decision::Allow { .. } => false,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
    }
}

/// A store of its own, for looking at the layout.
fn store(server: &RedisServer) -> RedisRevocationStore {
    let s = settings(server);
    RedisRevocationStore::new(SyncConn::new(Redis::open(&s).unwrap()), &s.names())
}

#[test]
fn the_store_keeps_the_later_times_publishes_every_write_and_prunes() {
    let server = RedisServer::start();
    let names = Names::new("t", "t");
    let mut listener = server.connection();
    listener
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut pubsub = listener.as_pubsub();
    pubsub.subscribe(&names.revocation_channel).unwrap();

    let mut store = store(&server);
    store.insert("a", 50).unwrap();
    store.insert("a", 80).unwrap();
    store.insert("a", 60).unwrap();
    store.insert("b", 10).unwrap();
    store.insert_subject("alex", 100, 500).unwrap();
    store.insert_subject("alex", 90, 600).unwrap();
    store.insert_subject("paul", 100, 200).unwrap();

    let mut events = Vec::new();
    for _ in 0..7 {
        let payload: Vec<u8> = pubsub.get_message().unwrap().get_payload().unwrap();
        events.push(serde_json::from_slice::<RevocationEvent>(&payload).unwrap());
    }
    assert_eq!(
        events[1],
        RevocationEvent::Token {
            jti: "a".into(),
            exp: 80
        }
    );
    assert_eq!(
        events[5],
        RevocationEvent::Subject {
            subject: "alex".into(),
            before: 90,
            keep_until: 600
        }
    );
    drop(pubsub);

    let mut conn = server.connection();
    let score: u64 = redis::cmd("ZSCORE")
        .arg(&names.revoked_jti)
        .arg("a")
        .query(&mut conn)
        .unwrap();
    assert_eq!(score, 80, "ZADD GT keeps the later exp");
    let alex: String = redis::cmd("HGET")
        .arg(&names.revoked_subjects)
        .arg("alex")
        .query(&mut conn)
        .unwrap();
    assert_eq!(alex, r#"{"before":100,"keep_until":600}"#);

    let revocation = |before, keep_until| SubjectRevocation { before, keep_until };
    let mut loaded = store.load(50).unwrap();
    loaded.subjects.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(loaded.tokens, [("a".to_owned(), 80)], "exp >= now only");
    assert_eq!(
        loaded.subjects,
        [
            ("alex".to_owned(), revocation(100, 600)),
            ("paul".to_owned(), revocation(100, 200)),
        ]
    );
    assert_eq!(store.prune(80).unwrap(), 1, "b; a (exp == now) stays");
    assert_eq!(store.prune(201).unwrap(), 2, "a and paul");
    assert_eq!(store.prune(201).unwrap(), 0);
    let loaded = store.load(0).unwrap();
    assert!(loaded.tokens.is_empty());
    assert_eq!(loaded.subjects, [("alex".to_owned(), revocation(100, 600))]);
}

#[actix_rt::test]
async fn a_token_revoked_through_one_node_is_refused_by_the_other() {
    let server = RedisServer::start();
    let s = settings(&server);
    let issuer = Issuer::new();
    let (a, b) = (Node::start(&s, &issuer), Node::start(&s, &issuer));
    let claims = issuer.claims("paul", now());
    let token = issuer.sign(&claims);
    let sibling = issuer.sign(&issuer.claims("paul", now()));
    assert!(b.allows(&token), "cached on b");
    assert!(b.allows(&sibling));
    eventually("both listeners are subscribed", || {
        subscribers(&server) == 2
    })
    .await;

    a.validator
        .revoke(claims.jti.clone(), claims.exp)
        .await
        .unwrap();
    assert!(
        a.refuses_as_revoked(&token),
        "at once on the node that revoked"
    );
    let took = eventually("b refuses the token", || b.refuses_as_revoked(&token)).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(b.allows(&sibling));
    assert_eq!(b.validator.revoked_len(), 1);
}

#[actix_rt::test]
async fn a_subject_revocation_propagates_and_spares_tokens_issued_after_it() {
    let server = RedisServer::start();
    let s = settings(&server);
    let issuer = Issuer::new();
    let (a, b) = (Node::start(&s, &issuer), Node::start(&s, &issuer));
    let before = now();
    let earlier = issuer.sign(&issuer.claims("alex", before - 5));
    let at = issuer.sign(&issuer.claims("alex", before));
    let later = issuer.sign(&issuer.claims("alex", before + 1));
    let paul = issuer.sign(&issuer.claims("paul", before - 5));
    assert!(b.allows(&earlier), "cached on b");
    eventually("both listeners are subscribed", || {
        subscribers(&server) == 2
    })
    .await;

    a.validator
        .revoke_subject("alex".into(), before, before + TTL + LEEWAY)
        .await
        .unwrap();
    eventually("b refuses alex's earlier token", || {
        b.refuses_as_revoked(&earlier)
    })
    .await;
    assert!(b.refuses_as_revoked(&at), "iat == before is refused");
    assert!(b.allows(&later), "issued after the revocation");
    assert!(b.allows(&paul), "another subject");
    assert_eq!(b.validator.revoked_subjects_len(), 1);
}

#[actix_rt::test]
async fn a_node_started_after_the_revocations_loads_them() {
    let server = RedisServer::start();
    let s = settings(&server);
    let issuer = Issuer::new();
    let a = Node::start(&s, &issuer);
    let claims = issuer.claims("paul", now());
    let token = issuer.sign(&claims);
    let alex = issuer.sign(&issuer.claims("alex", now()));
    a.validator
        .revoke(claims.jti.clone(), claims.exp)
        .await
        .unwrap();
    a.validator
        .revoke_subject("alex".into(), now(), now() + TTL + LEEWAY)
        .await
        .unwrap();

    let b = Node::start(&s, &issuer);
    // Loaded at start: in force before the listener has done anything.
    assert!(b.refuses_as_revoked(&token));
    assert!(b.refuses_as_revoked(&alex));
    assert_eq!(b.validator.revoked_len(), 2);
}

#[actix_rt::test]
async fn a_node_whose_listener_was_down_resyncs_when_it_reconnects() {
    let mut server = RedisServer::start();
    let s = settings(&server);
    let issuer = Issuer::new();
    // b's listener backs off up to 5 s, so it is still waiting when the revocation is made.
    let slow = ClusterSettings {
        reconnect_max_backoff_ms: 5_000,
        ..s.clone()
    };
    let a = Node::without_listener(&s, &issuer);
    let b = Node::start(&slow, &issuer);
    let claims = issuer.claims("paul", now());
    let token = issuer.sign(&claims);
    assert!(b.allows(&token));
    eventually("b's listener is subscribed", || subscribers(&server) == 1).await;

    server.kill();
    // Long enough for b's listener to reach a backoff of 1.6 s.
    actix_rt::time::sleep(Duration::from_millis(1_800)).await;
    server.restart();
    assert_eq!(subscribers(&server), 0, "b is not listening yet");
    // a's connection died with the server: its first command fails, the next reconnects.
    let _ = a.validator.revoke(claims.jti.clone(), claims.exp).await;
    a.validator
        .revoke(claims.jti.clone(), claims.exp)
        .await
        .unwrap();
    // Published while b was not subscribed: b learns it only by reloading.
    eventually("b resyncs and refuses the token", || {
        b.refuses_as_revoked(&token)
    })
    .await;
    assert_eq!(subscribers(&server), 1);
}

#[actix_rt::test]
async fn an_undecodable_event_makes_the_listener_reload() {
    let server = RedisServer::start();
    let s = settings(&server);
    let names = s.names();
    let issuer = Issuer::new();
    let b = Node::start(&s, &issuer);
    let claims = issuer.claims("paul", now());
    let token = issuer.sign(&claims);
    eventually("b's listener is subscribed", || subscribers(&server) == 1).await;

    // Recorded without an announcement, then a message nobody can read.
    let mut conn = server.connection();
    let _: i64 = redis::cmd("ZADD")
        .arg(&names.revoked_jti)
        .arg(claims.exp)
        .arg(&claims.jti)
        .query(&mut conn)
        .unwrap();
    assert!(b.allows(&token));
    let _: i64 = redis::cmd("PUBLISH")
        .arg(&names.revocation_channel)
        .arg("{\"type\":\"from-the-future\"}")
        .query(&mut conn)
        .unwrap();
    eventually("b reloads and refuses the token", || {
        b.refuses_as_revoked(&token)
    })
    .await;
}

#[actix_rt::test]
async fn while_redis_is_down_revocations_fail_promptly_and_decisions_go_on() {
    let mut server = RedisServer::start();
    let s = settings(&server);
    let issuer = Issuer::new();
    let a = Node::start(&s, &issuer);
    let revoked = issuer.claims("paul", now());
    let revoked_token = issuer.sign(&revoked);
    let live = issuer.claims("paul", now());
    let live_token = issuer.sign(&live);
    a.validator
        .revoke(revoked.jti.clone(), revoked.exp)
        .await
        .unwrap();

    server.kill();
    let started = Instant::now();
    let err = a.validator.revoke(live.jti.clone(), live.exp).await;
    assert!(
        matches!(err, Err(ValidatorError::Store(StoreError::Unavailable(_)))),
        "{err:?}"
    );
    let err = a
        .validator
        .revoke_subject("paul".into(), now(), now() + TTL + LEEWAY)
        .await;
    assert!(matches!(err, Err(ValidatorError::Store(_))), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Decisions run from the snapshot: what was revoked stays revoked, the rest is allowed.
    assert!(a.refuses_as_revoked(&revoked_token));
    assert!(a.allows(&live_token));
    assert_eq!(
        a.validator.revoked_len(),
        1,
        "a failed revocation is not applied"
    );

    server.restart();
    a.validator
        .revoke(live.jti.clone(), live.exp)
        .await
        .unwrap();
    assert!(a.refuses_as_revoked(&live_token));
}
