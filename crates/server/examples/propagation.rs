//! Propagation benchmark: how long after an admin write is acknowledged on node A the change is
//! in force on nodes B and C, next to the raw Redis pub/sub round trip measured in the same run,
//! and how many admin writes a node takes per second.
//!
//! ```sh
//! benches/cluster/propagation.sh            # builds release, runs 1,000 changes
//! ```
//!
//! It starts its own `redis-server` on a free port and three `scopegate serve` processes
//! (the binary given as the first argument), writes `CHANGES` scope changes one after another
//! through A's admin API recording when each answer arrived, then reads from B and C when they
//! published each version (`GET /api/v1/cluster/status`; every node keeps the last 4,096). All
//! processes share this machine's clock, so `applied_at(B) − acknowledged_at(A)` is the
//! propagation latency the admin sees. A negative value means B applied it before A's answer
//! reached the client.

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::cluster::{TestCluster, admin_token, http};
use serde_json::{Value, json};

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

fn summary(name: &str, mut samples: Vec<i64>) -> (f64, f64) {
    samples.sort_unstable();
    let (p50, p99) = (percentile(&samples, 50.0), percentile(&samples, 99.0));
    println!(
        "{name:<34} n={:<5} p50 {p50:>7.3} ms   p99 {p99:>7.3} ms   max {:>7.3} ms",
        samples.len(),
        percentile(&samples, 100.0)
    );
    (p50, p99)
}

/// Raw pub/sub: a publisher stamps each message with its send time, a subscriber on another
/// connection notes the arrival.
fn raw_pubsub(url: &str, n: usize) -> Vec<i64> {
    let client = redis::Client::open(url).expect("redis url");
    let mut sub = client.get_connection().expect("subscriber connection");
    let (tx, rx) = std::sync::mpsc::channel();
    let ready = Arc::new(std::sync::Barrier::new(2));
    let r = Arc::clone(&ready);
    let listener = std::thread::spawn(move || {
        let mut pubsub = sub.as_pubsub();
        pubsub.subscribe("bench:raw").expect("subscribe");
        r.wait();
        for _ in 0..n {
            let msg = pubsub.get_message().expect("message");
            let sent: i64 = msg.get_payload().expect("payload");
            tx.send(now_us() - sent).expect("send");
        }
    });
    ready.wait();
    std::thread::sleep(Duration::from_millis(50));
    let mut publisher = client.get_connection().expect("publisher connection");
    for _ in 0..n {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("bench:raw")
            .arg(now_us())
            .query(&mut publisher)
            .expect("publish");
        std::thread::sleep(Duration::from_micros(500));
    }
    listener.join().expect("listener");
    rx.try_iter().collect()
}

fn put_scope(base: &str, token: &str, key: &str, n: u64) -> reqwest::blocking::Response {
    http()
        .put(format!("{base}/api/v1/scopes/{key}"))
        .bearer_auth(token)
        .json(&json!({"key": key, "name": format!("bench change {n}"), "roles": ["manager"]}))
        .send()
        .expect("admin write")
}

/// Per version: (created on the writing node, applied on this node), microseconds.
fn applied(base: &str, token: &str) -> HashMap<u64, (Option<i64>, i64)> {
    let status: Value = http()
        .get(format!("{base}/api/v1/cluster/status"))
        .bearer_auth(token)
        .send()
        .expect("status")
        .json()
        .expect("status json");
    status["applied"]
        .as_array()
        .expect("applied")
        .iter()
        .map(|a| {
            (
                a["version"].as_u64().expect("version"),
                (
                    a["created_at_us"].as_i64(),
                    a["applied_at_us"].as_i64().expect("applied_at_us"),
                ),
            )
        })
        .collect()
}

fn main() {
    let bin = std::env::args()
        .nth(1)
        .expect("usage: propagation <path to the scopegate binary>");
    let changes: u64 = std::env::var("CHANGES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1000);
    let cluster = TestCluster::with_bin(&bin);
    let (a, b, c) = (cluster.node("a"), cluster.node("b"), cluster.node("c"));
    let token = admin_token(&a);
    let base_a = a.url("");
    println!(
        "scopegate propagation: 3 nodes + redis on {} cores, {changes} changes",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // 1. Raw Redis pub/sub, same machine, same run.
    let (_, raw_p99) = summary(
        "redis pub/sub (raw)",
        raw_pubsub(&cluster.redis.url(), changes as usize),
    );

    // 2. Admin writes on A, one at a time; when was each acknowledged?
    let mut acked: Vec<(u64, i64)> = Vec::with_capacity(changes as usize);
    for n in 0..changes {
        let resp = put_scope(&base_a, &token, "bench_scope", n);
        let at = now_us();
        assert!(resp.status().is_success(), "write {n}: {:?}", resp.text());
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.trim_matches('"')
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .to_owned()
            })
            .expect("etag");
        acked.push((etag.parse().expect("numeric etag"), at));
        std::thread::sleep(Duration::from_micros(500));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut worst_p99: f64 = 0.0;
    for (name, node) in [("B", &b), ("C", &c)] {
        let seen = applied(&node.url(""), &token);
        let lat: Vec<i64> = acked
            .iter()
            .filter_map(|(v, at)| seen.get(v).map(|(_, applied)| applied - at))
            .collect();
        assert_eq!(lat.len(), acked.len(), "node {name} applied every version");
        let (_, p99) = summary(&format!("admin ack on A → applied on {name}"), lat);
        worst_p99 = worst_p99.max(p99);
        let pipeline: Vec<i64> = acked
            .iter()
            .filter_map(|(v, _)| {
                seen.get(v)
                    .and_then(|(created, applied)| created.map(|c| applied - c))
            })
            .collect();
        summary(&format!("  committed on A → applied on {name}"), pipeline);
    }
    println!(
        "propagation p99 / raw pub/sub p99: {:.2} (target < 3, and p99 < 5 ms)",
        worst_p99 / raw_p99
    );

    // 3. Admin write throughput: 8 writers on A for 3 s.
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(3);
    let started = Instant::now();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (done, token, base) = (Arc::clone(&done), token.clone(), base_a.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while Instant::now() < deadline {
                    let resp = put_scope(&base, &token, &format!("bench_scope_{w}"), n);
                    assert!(resp.status().is_success(), "{:?}", resp.text());
                    done.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "admin writes on A, 8 concurrent writers: {:.0} writes/s",
        done.load(Ordering::Relaxed) as f64 / secs
    );
}
