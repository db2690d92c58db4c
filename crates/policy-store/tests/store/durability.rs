//! Restart durability across a real `SIGKILL`: a child process (this same test binary, running
//! [`child_writer`]) writes events and prints each acknowledged version; the parent kills it
//! mid-stream and checks that every acknowledged event is in the store.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use scopegate_policy_store::{PolicyBackend, PolicyStoreHandle};

use crate::support::{backend, reopen, role};

/// Set (to the data directory) only in the child process; [`child_writer`] is a no-op without it.
const CHILD_DIR: &str = "SCOPEGATE_STORE_CHILD_DIR";
/// The child's test name, for `--exact`.
const CHILD_TEST: &str = "durability::child_writer";
/// Acknowledgements the parent waits for before it kills the child.
const KILL_AFTER: u64 = 25;
/// The child stops writing (and waits to be killed) after this many events.
const CHILD_EVENTS: u64 = 2_000;

/// The child's body: apply events one at a time, printing `applied <version>` once each is
/// acknowledged, then wait to be killed.
#[actix::test]
async fn child_writer() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let store = PolicyStoreHandle::start(backend(Path::new(&dir)), None).unwrap();
    for i in 1..=CHILD_EVENTS {
        let version = store
            .apply(vec![role(&format!("role-{i}"))], None)
            .await
            .unwrap();
        // The parent must see the line as soon as the version is acknowledged: flush it.
        let mut out = std::io::stdout().lock();
        writeln!(out, "applied {version}").unwrap();
        out.flush().unwrap();
    }
    loop {
        actix::clock::sleep(Duration::from_secs(1)).await;
    }
}

#[actix::test]
async fn acknowledged_events_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();

    // Read acknowledgements on a thread, so a stuck child fails the test instead of hanging it.
    let stdout = child.stdout.take().unwrap();
    let (acks, acked) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(v) = line.strip_prefix("applied ") {
                let _ = acks.send(v.trim().parse::<u64>().unwrap());
            }
        }
    });
    let mut last_acked = 0;
    while last_acked < KILL_AFTER {
        last_acked = acked
            .recv_timeout(Duration::from_secs(60))
            .expect("the child acknowledged nothing for 60 s");
    }
    child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush, no clean shutdown
    child.wait().unwrap();
    reader.join().unwrap();
    // Lines the child wrote before it died are acknowledgements too.
    last_acked = acked.try_iter().fold(last_acked, u64::max);

    let policy = reopen(dir.path()).await.load().unwrap().unwrap();
    assert!(
        policy.version() >= last_acked,
        "acknowledged version {last_acked}, but the store reopened at {}",
        policy.version()
    );
    for i in 1..=policy.version() {
        assert!(
            policy.role(&format!("role-{i}")).is_some(),
            "role-{i} is missing"
        );
    }
    eprintln!(
        "killed after {last_acked} acknowledgements; reopened at version {}",
        policy.version()
    );
}
