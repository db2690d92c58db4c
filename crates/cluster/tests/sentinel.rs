//! `redis+sentinel://` for real: a master, a replica and a Sentinel, each its own process on a
//! free port. A `Redis` opened from a Sentinel URL reaches the master for commands
//! (`SyncConn::run`) and subscriptions (`conn::subscribe`); after a failover the same
//! `SyncConn` and the same listener follow the new master.
#![cfg(feature = "testing")]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scopegate_cluster::conn::{self, Subscriber, is_connection_error};
use scopegate_cluster::testing::{self, RedisServer, SentinelServer};
use scopegate_cluster::{ClusterSettings, Redis, SyncConn};
use tokio::sync::mpsc;

fn settings(sentinel: &SentinelServer) -> ClusterSettings {
    testing::settings(format!(
        "redis+sentinel://127.0.0.1:{}/mymaster",
        sentinel.port()
    ))
}

fn get(server: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut server.connection())
        .unwrap()
}

fn set(conn: &mut SyncConn, key: &str, value: &str) -> redis::RedisResult<()> {
    conn.run(|c| redis::cmd("SET").arg(key).arg(value).query::<()>(c))
}

/// `INFO replication` of `server` as a map.
fn replication(server: &RedisServer) -> HashMap<String, String> {
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut server.connection())
        .unwrap();
    info.lines()
        .filter_map(|l| l.trim_end().split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Polls `done` every 10 ms for up to 10 s, letting the runtime's tasks run in between.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting until {what}"
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What the probe listener saw.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Subscribed,
    Message(String),
}

/// A `Subscriber` that reports everything it sees to the test.
struct Probe(mpsc::UnboundedSender<Seen>);

impl Subscriber for Probe {
    fn on_subscribed(&mut self) {
        let _ = self.0.send(Seen::Subscribed);
    }

    fn on_message(&mut self, payload: &[u8]) {
        let _ = self
            .0
            .send(Seen::Message(String::from_utf8_lossy(payload).into_owned()));
    }
}

/// The next thing the probe saw, within 10 s.
async fn next(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .expect("the listener reported nothing within 10 s")
        .expect("the listener stopped")
}

/// Publishes on `server` directly; returns how many subscribers of *that* server received it.
fn publish(server: &RedisServer, channel: &str, payload: &str) -> i64 {
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query(&mut server.connection())
        .unwrap()
}

#[actix_rt::test]
async fn a_sentinel_url_reaches_the_master_for_commands_and_subscriptions() {
    let master = RedisServer::start();
    let sentinel = SentinelServer::start(&master);
    let redis = Redis::open(&settings(&sentinel)).unwrap();

    let mut sync = SyncConn::new(Arc::clone(&redis));
    set(&mut sync, "t:probe", "via-sentinel").unwrap();
    assert_eq!(get(&master, "t:probe").as_deref(), Some("via-sentinel"));
    let read: String = sync
        .run(|c| redis::cmd("GET").arg("t:probe").query(c))
        .unwrap();
    assert_eq!(read, "via-sentinel");
    assert!(redis.health().is_up());
    assert_eq!(
        redis.health().reconnects(),
        0,
        "a first connection is no reconnection"
    );

    let (tx, mut seen) = mpsc::unbounded_channel();
    let listener = conn::subscribe(Arc::clone(&redis), "t:events".into(), Probe(tx));
    assert_eq!(next(&mut seen).await, Seen::Subscribed);
    assert_eq!(
        publish(&master, "t:events", "hello"),
        1,
        "subscribed on the master"
    );
    assert_eq!(next(&mut seen).await, Seen::Message("hello".into()));
    listener.abort();
}

#[actix_rt::test]
async fn after_a_failover_the_same_connection_and_listener_follow_the_new_master() {
    let master = RedisServer::start();
    let replica = RedisServer::start_replica_of(&master);
    eventually("the replica is in sync", || {
        replication(&replica)
            .get("master_link_status")
            .map(String::as_str)
            == Some("up")
    })
    .await;
    // Started after the replica is attached, so the Sentinel's first INFO of the master lists it.
    let sentinel = SentinelServer::start(&master);
    let replica_port = replica.port().to_string();
    sentinel.wait_until("it knows a healthy replica", |s| {
        s.replicas().iter().any(|r| {
            r.get("port") == Some(&replica_port)
                && r.get("flags").map(String::as_str) == Some("slave")
                && r.get("master-link-status").map(String::as_str) == Some("ok")
        })
    });

    let redis = Redis::open(&settings(&sentinel)).unwrap();
    let mut sync = SyncConn::new(Arc::clone(&redis));
    set(&mut sync, "t:k", "before").unwrap();
    assert_eq!(get(&master, "t:k").as_deref(), Some("before"));
    let (tx, mut seen) = mpsc::unbounded_channel();
    let listener = conn::subscribe(Arc::clone(&redis), "t:events".into(), Probe(tx));
    assert_eq!(next(&mut seen).await, Seen::Subscribed);
    let reconnects = redis.health().reconnects();

    sentinel.failover();
    sentinel.wait_until("the replica is the master", |s| {
        s.master_info().is_some_and(|m| {
            m.get("port") == Some(&replica_port)
                && m.get("flags").map(String::as_str) == Some("master")
        })
    });
    // Sentinel demotes a former master that is still running only some ten seconds later (it
    // waits to see whether the master announces a newer configuration); do at once what it will
    // do, so that the old master answers writes with READONLY as it will then.
    redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(replica.port())
        .query::<()>(&mut master.connection())
        .unwrap();
    eventually("the old master replicates from the new one", || {
        replication(&master)
            .get("master_link_status")
            .map(String::as_str)
            == Some("up")
    })
    .await;

    // The open connection still points at the old master: its READONLY closes it and is
    // returned (a write is never retried)…
    let err = set(&mut sync, "t:k", "after").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
        ),
        "{err:?}"
    );
    assert!(is_connection_error(&err));
    assert!(!redis.health().is_up());
    // …and the next call asks Sentinel again and writes on the new master.
    set(&mut sync, "t:k", "after").unwrap();
    assert_eq!(get(&replica, "t:k").as_deref(), Some("after"));
    assert!(redis.health().is_up());
    assert_eq!(redis.health().reconnects(), reconnects + 1);

    // Sentinel also drops the demoted master's pub/sub clients; the listener then subscribes
    // again through Sentinel, on the new master, and catches up (`on_subscribed`).
    redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query::<i64>(&mut master.connection())
        .unwrap();
    assert_eq!(next(&mut seen).await, Seen::Subscribed);
    assert_eq!(
        publish(&replica, "t:events", "after failover"),
        1,
        "subscribed on the new master"
    );
    assert_eq!(
        next(&mut seen).await,
        Seen::Message("after failover".into())
    );
    listener.abort();
}
