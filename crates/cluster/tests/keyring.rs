//! The key ring in a real Redis: seeded once, rotation announced to every node before anyone
//! signs with the new key, private halves never in clear.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scopegate_cluster::keyring::{
    Kek, KeyRingHandle, KeyStatus, RedisKeyStore, RingSettings, spawn_key_listener,
};
use scopegate_cluster::testing::{self, RedisServer};
use scopegate_cluster::{ClusterSettings, Redis, SyncConn};
use scopegate_jwt::{Algorithm, SigningKey};

const KEK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn settings(redis: &RedisServer) -> ClusterSettings {
    testing::settings(redis.url())
}

fn ring_settings(announce_secs: u64) -> RingSettings {
    RingSettings {
        announce_secs,
        retain_secs: 60,
        algorithm: Algorithm::EdDSA,
    }
}

fn start_node(s: &ClusterSettings, kek: &str, announce_secs: u64) -> (KeyRingHandle, Arc<Redis>) {
    let redis = Redis::open(s).unwrap();
    let store = RedisKeyStore::new(
        SyncConn::new(Arc::clone(&redis)),
        &s.names(),
        Kek::from_base64(kek).unwrap(),
    );
    let ring = KeyRingHandle::start(
        Box::new(store),
        SigningKey::generate(Algorithm::EdDSA).unwrap(),
        ring_settings(announce_secs),
    )
    .unwrap();
    spawn_key_listener(Arc::clone(&redis), &s.names(), ring.clone());
    (ring, redis)
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_rt::test]
async fn nodes_share_one_seeded_key_and_learn_a_rotation_before_it_signs() {
    let server = RedisServer::start();
    let s = settings(&server);
    let (a, _) = start_node(&s, KEK, 2);
    let (b, _) = start_node(&s, KEK, 2);
    let first = a.key_set().load().signing().kid().to_owned();
    assert_eq!(
        b.key_set().load().signing().kid(),
        first,
        "the ring was seeded once"
    );

    let new = a.rotate(None).await.unwrap();
    assert_eq!(new.status, KeyStatus::Pending);
    // B verifies the new key well before anyone signs with it …
    eventually("B knows the announced key", || {
        b.key_set().load().get(&new.kid).is_some()
    })
    .await;
    assert_eq!(b.key_set().load().signing().kid(), first);
    assert_eq!(a.key_set().load().signing().kid(), first);
    // … then both switch on their own timers, and the old key keeps verifying.
    eventually("both nodes sign with the new key", || {
        a.key_set().load().signing().kid() == new.kid
            && b.key_set().load().signing().kid() == new.kid
    })
    .await;
    assert!(
        b.key_set().load().get(&first).is_some(),
        "old key still verifies"
    );
    let infos = b.keys();
    assert_eq!(
        infos.iter().find(|k| k.kid == first).unwrap().status,
        KeyStatus::Retiring
    );
}

#[actix_rt::test]
async fn redis_never_holds_a_private_key_in_clear_and_a_wrong_kek_cannot_start() {
    let server = RedisServer::start();
    let s = settings(&server);
    let (_a, _) = start_node(&s, KEK, 1);
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let all: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg("t:keys")
        .query(&mut conn)
        .unwrap();
    assert_eq!(all.len(), 1);
    assert!(!all[0].1.contains("PRIVATE KEY"), "{}", all[0].1);

    let redis = Redis::open(&s).unwrap();
    let wrong = RedisKeyStore::new(
        SyncConn::new(redis),
        &s.names(),
        Kek::from_base64("MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=").unwrap(),
    );
    let err = KeyRingHandle::start(
        Box::new(wrong),
        SigningKey::generate(Algorithm::EdDSA).unwrap(),
        ring_settings(1),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("key-encryption key"), "{err}");
}

#[actix_rt::test]
async fn a_rotation_while_redis_is_down_is_refused_and_nothing_changes() {
    let mut server = RedisServer::start();
    let s = settings(&server);
    let (a, _) = start_node(&s, KEK, 1);
    let before = a.key_set().load().signing().kid().to_owned();
    server.kill();
    let err = a.rotate(None).await.unwrap_err().to_string();
    assert!(err.contains("unavailable"), "{err}");
    assert_eq!(a.keys().len(), 1);
    assert_eq!(a.key_set().load().signing().kid(), before, "still signing");
}
