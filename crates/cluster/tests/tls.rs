//! Redis over TLS for real: a `redis-server` speaking TLS only (`--port 0 --tls-port N`) with a
//! certificate from a CA made in the test, and a Sentinel over TLS that requires a password.
//! The policy store writes and its listener hears other nodes' changes through `rediss://`;
//! a `rediss+sentinel://` URL finds the master and subscribes; a certificate the node does not
//! trust, a missing client certificate or a wrong Sentinel password are refused promptly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scopegate_cluster::testing::{RedisServer, SentinelServer, TestCa};
use scopegate_cluster::{
    ClusterSettings, Redis, RedisPolicyBackend, SyncConn, conn, describe, spawn_policy_listener,
};
use scopegate_core::{PolicyDocument, PolicyEvent, Role};
use scopegate_policy_store::PolicyStoreHandle;

fn settings(url: String, ca: &TestCa) -> ClusterSettings {
    ClusterSettings {
        redis_url: Some(url),
        key_prefix: "tls".into(),
        connect_timeout_ms: 1_000,
        command_timeout_ms: 2_000,
        reconnect_max_backoff_ms: 100,
        tls_ca_file: Some(ca.ca_file()),
        tls_cert_file: Some(ca.client_cert_file()),
        tls_key_file: Some(ca.client_key_file()),
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

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

/// SET then GET of one key through a fresh `SyncConn`.
fn round_trip(s: &ClusterSettings) -> redis::RedisResult<String> {
    let mut conn = SyncConn::new(Redis::open(s).expect("opens"));
    conn.run(|c| redis::cmd("SET").arg("tls:k").arg("v").query::<()>(c))?;
    conn.run(|c| redis::cmd("GET").arg("tls:k").query(c))
}

#[actix_rt::test]
async fn nodes_share_the_policy_through_rediss_with_a_test_ca() {
    let ca = TestCa::new();
    let server = RedisServer::start_tls(&ca, true);
    assert!(server.url().starts_with("rediss://"));
    let s = settings(server.url(), &ca);
    let doc: PolicyDocument =
        serde_json::from_value(serde_json::json!({"roles": [{"name": "manager"}]})).unwrap();

    let mut nodes = Vec::new();
    for _ in 0..2 {
        let redis = Redis::open(&s).unwrap();
        let backend = RedisPolicyBackend::new(SyncConn::new(Arc::clone(&redis)), &s.names(), 100);
        let store = PolicyStoreHandle::start(Box::new(backend), Some(doc.clone())).unwrap();
        let listener = spawn_policy_listener(
            Arc::clone(&redis),
            &s.names(),
            store.clone(),
            Duration::from_secs(3600),
        );
        nodes.push((redis, store, listener));
    }
    eventually("both listeners subscribed over TLS", || {
        nodes.iter().all(|(redis, _, _)| redis.health().is_up())
    })
    .await;
    assert_eq!(
        nodes[0].1.apply(vec![role("agent")], None).await.unwrap(),
        2
    );
    eventually("the other node heard it over TLS", || {
        nodes[1].1.reader().current().role("agent").is_some()
    })
    .await;
    let version: u64 = redis::cmd("GET")
        .arg(s.names().policy_version)
        .query(&mut server.connection())
        .unwrap();
    assert_eq!(version, 2);

    // Refusals come at once and say why, never hang: a server certificate from a CA the node
    // does not trust (here: the system's roots only)…
    let untrusted = ClusterSettings {
        tls_ca_file: None,
        ..s.clone()
    };
    let started = Instant::now();
    let err = round_trip(&untrusted).expect_err("the test CA is not trusted");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        describe(&err).to_lowercase().contains("certificate"),
        "{}",
        describe(&err)
    );
    // …and no client certificate for a server that requires one.
    let anonymous = ClusterSettings {
        tls_cert_file: None,
        tls_key_file: None,
        ..s.clone()
    };
    assert!(round_trip(&anonymous).is_err());
    // A plain connection to the TLS port is no Redis answer either.
    let plain = ClusterSettings {
        redis_url: Some(server.url().replacen("rediss", "redis", 1)),
        tls_ca_file: None,
        tls_cert_file: None,
        tls_key_file: None,
        ..s.clone()
    };
    assert!(round_trip(&plain).is_err());
    for (_, _, listener) in nodes {
        listener.abort();
    }
}

/// The next thing the probe saw, within 10 s.
async fn next(seen: &mut tokio::sync::mpsc::UnboundedReceiver<Option<String>>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .expect("the listener reported nothing within 10 s")
        .expect("the listener stopped")
}

/// Records what a subscription sees.
struct Probe(tokio::sync::mpsc::UnboundedSender<Option<String>>);

impl conn::Subscriber for Probe {
    fn on_subscribed(&mut self) {
        let _ = self.0.send(None);
    }

    fn on_message(&mut self, payload: &[u8]) {
        let _ = self
            .0
            .send(Some(String::from_utf8_lossy(payload).into_owned()));
    }
}

#[actix_rt::test]
async fn a_sentinel_over_tls_with_a_password_finds_the_master() {
    let ca = TestCa::new();
    let master = RedisServer::start_tls(&ca, true);
    let sentinel = SentinelServer::start_with(&master, Some("sentinel-secret"));
    assert!(sentinel.url().starts_with("rediss+sentinel://"));
    let mut s = settings(sentinel.url(), &ca);

    // Without the Sentinel's password, it refuses to say where the master is.
    let err = round_trip(&s).expect_err("no sentinel password");
    assert!(
        describe(&err).to_lowercase().contains("auth"),
        "{}",
        describe(&err)
    );
    s.sentinel_password = Some("wrong".into());
    assert!(round_trip(&s).is_err());

    s.sentinel_password = Some("sentinel-secret".into());
    assert_eq!(round_trip(&s).unwrap(), "v");
    let stored: String = redis::cmd("GET")
        .arg("tls:k")
        .query(&mut master.connection())
        .unwrap();
    assert_eq!(stored, "v", "written on the master found through Sentinel");

    let redis = Redis::open(&s).unwrap();
    let (tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let listener = conn::subscribe(Arc::clone(&redis), "tls:events".into(), Probe(tx));
    assert_eq!(next(&mut seen).await, None, "subscribed");
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("tls:events")
        .arg("hello")
        .query(&mut master.connection())
        .unwrap();
    assert_eq!(receivers, 1);
    assert_eq!(next(&mut seen).await, Some("hello".to_owned()));
    listener.abort();
}
