//! The sign-in throttle's counters in a real Redis: the Lua script keeps the rule of the
//! in-memory throttle (the `failures`-th failure within the window locks, lockouts double up to
//! the maximum, a lift resets budget and strikes), and an unreachable Redis is reported as an
//! error the token service falls back on.
#![cfg(feature = "testing")]

use std::net::IpAddr;
use std::time::Duration;

use scopegate_cluster::testing::RedisServer;
use scopegate_cluster::{Redis, RedisThrottleStore};
use scopegate_token_issuer::{ThrottleConfig, ThrottleKey, ThrottleStore};

fn config() -> ThrottleConfig {
    ThrottleConfig {
        enabled: true,
        user_failures: 3,
        source_failures: 2,
        window_secs: 60,
        lockout_secs: 30,
        max_lockout_secs: 100,
    }
}

fn store(server: &RedisServer) -> RedisThrottleStore {
    let redis = Redis::open(&scopegate_cluster::testing::settings(server.url())).unwrap();
    RedisThrottleStore::new(redis, "it", config(), Duration::from_millis(500))
}

fn alex() -> ThrottleKey {
    ThrottleKey::User {
        username: "alex".into(),
    }
}

#[actix_rt::test]
async fn failures_lock_double_and_lift_as_on_one_node() {
    let server = RedisServer::start();
    let store = store(&server);
    let keys = [alex()];
    let t0 = 1_700_000_000;
    // The third failure locks, for 30 s.
    assert!(store.record_failure(&keys, t0).await.unwrap().is_empty());
    assert!(store.record_failure(&keys, t0).await.unwrap().is_empty());
    let started = store.record_failure(&keys, t0).await.unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].until, t0 + 30);
    assert_eq!(
        store.locked(&keys, t0 + 29).await.unwrap().unwrap().until,
        t0 + 30
    );
    assert_eq!(store.locked(&keys, t0 + 30).await.unwrap(), None);
    let others = [ThrottleKey::User {
        username: "paul".into(),
    }];
    assert_eq!(store.locked(&others, t0).await.unwrap(), None);
    // Failures while locked are not counted again.
    assert!(
        store
            .record_failure(&keys, t0 + 1)
            .await
            .unwrap()
            .is_empty()
    );
    // After it: 20 s of budget came back (one failure per 20 s), one more is tolerated, the
    // next locks for twice as long, then capped at the maximum.
    let mut now = t0 + 30;
    let mut lengths = Vec::new();
    for _ in 0..3 {
        let lockout = loop {
            if let Some(l) = store.record_failure(&keys, now).await.unwrap().pop() {
                break l;
            }
        };
        lengths.push(lockout.until - now);
        now = lockout.until;
    }
    assert_eq!(lengths, [60, 100, 100]);
    assert_eq!(store.lockouts(now - 1).await.unwrap().len(), 1);
    // A lift ends the lockout and resets the budget: two failures are tolerated again.
    assert!(store.clear(&keys[0], now - 1).await.unwrap());
    assert_eq!(store.locked(&keys, now - 1).await.unwrap(), None);
    assert!(store.record_failure(&keys, now).await.unwrap().is_empty());
    assert!(store.record_failure(&keys, now).await.unwrap().is_empty());
    assert_eq!(
        store.record_failure(&keys, now).await.unwrap()[0].until,
        now + 30
    );
}

#[actix_rt::test]
async fn sources_have_their_own_budget_and_any_locked_key_refuses() {
    let server = RedisServer::start();
    let store = store(&server);
    let address: IpAddr = "203.0.113.5".parse().unwrap();
    let source = ThrottleKey::Source {
        client_id: "shopping-app".into(),
        address,
    };
    let t0 = 1_700_000_000;
    let keys = [alex(), source.clone()];
    assert!(store.record_failure(&keys, t0).await.unwrap().is_empty());
    // The source's budget (2) is spent first.
    let started = store.record_failure(&keys, t0).await.unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].key, source);
    let locked = store.locked(&keys, t0).await.unwrap().unwrap();
    assert_eq!(locked.key, source);
    let listed = store.lockouts(t0).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, source);
}

#[actix_rt::test]
async fn an_unreachable_redis_is_reported() {
    let mut server = RedisServer::start();
    let store = store(&server);
    assert_eq!(store.locked(&[alex()], 0).await.unwrap(), None);
    server.kill();
    assert!(store.record_failure(&[alex()], 0).await.is_err());
    assert!(store.locked(&[alex()], 0).await.is_err());
}
