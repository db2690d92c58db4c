//! `cluster.redis_password_file` against a real `redis-server --requirepass`: the password from
//! a mounted-secret file (trailing newline and all) opens the connection, directly and through
//! Sentinel; without it, or with a wrong one, Redis refuses and the error does not show it.
#![cfg(feature = "testing")]

use scopegate_cluster::testing::{self, RedisServer, SentinelServer};
use scopegate_cluster::{ClusterSettings, Redis, SyncConn, describe};

/// Characters a URL or a config line would trip on: the file carries it as it is.
const PASSWORD: &str = r#"pw "Zq7": /@x\y"#;

fn settings(url: String, password_file: Option<std::path::PathBuf>) -> ClusterSettings {
    ClusterSettings {
        redis_password_file: password_file,
        ..testing::settings(url)
    }
}

/// SET then GET through a `SyncConn` on `settings`.
fn round_trip(settings: &ClusterSettings) -> redis::RedisResult<String> {
    let mut conn = SyncConn::new(Redis::open(settings).expect("opens"));
    conn.run(|c| redis::cmd("SET").arg("t:k").arg("v").query::<()>(c))?;
    conn.run(|c| redis::cmd("GET").arg("t:k").query(c))
}

/// A Kubernetes Secret mounted as a file, written the way `echo` and editors leave it.
fn password_file(dir: &tempfile::TempDir, content: &str) -> std::path::PathBuf {
    let file = dir.path().join("redis-password");
    std::fs::write(&file, content).expect("write password file");
    file
}

#[test]
fn a_password_file_opens_a_redis_that_requires_it() {
    let server = RedisServer::start_with_password(PASSWORD);
    let dir = tempfile::tempdir().expect("tempdir");

    let err = round_trip(&settings(server.url(), None)).expect_err("no password");
    assert!(err.to_string().contains("NOAUTH"), "{err}");

    let wrong = password_file(&dir, "not-it\n");
    let err = round_trip(&settings(server.url(), Some(wrong))).expect_err("wrong password");
    assert!(
        !err.to_string().contains("not-it") && !describe(&err).contains("not-it"),
        "{err}"
    );

    let right = password_file(&dir, &format!("{PASSWORD}\n"));
    assert_eq!(
        round_trip(&settings(server.url(), Some(right))).expect("authenticated"),
        "v"
    );
}

#[test]
fn a_password_file_reaches_the_master_found_through_sentinel() {
    let master = RedisServer::start_with_password(PASSWORD);
    let sentinel = SentinelServer::start(&master);
    let dir = tempfile::tempdir().expect("tempdir");

    assert!(round_trip(&settings(sentinel.url(), None)).is_err());

    let file = password_file(&dir, &format!("{PASSWORD}\r\n"));
    assert_eq!(
        round_trip(&settings(sentinel.url(), Some(file))).expect("authenticated"),
        "v"
    );
}
