//! [`RedisServer`]: a real `redis-server` on a free port in a temporary directory, killed when
//! dropped, and [`SentinelServer`]: a Redis Sentinel (`redis-server --sentinel`) monitoring one
//! of them. For this workspace's tests (feature `testing`); never a server that was already
//! running, never a fixed port.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` owned by a test.
pub struct RedisServer {
    /// The process.
    child: Option<Child>,
    /// Its port.
    port: u16,
    /// Its data directory (RDB/AOF live here, so a restart finds the data).
    dir: tempfile::TempDir,
    /// Arguments beyond the defaults (`--replicaof …`), kept for a restart.
    extra_args: Vec<String>,
    /// The `requirepass` password, if the server demands one.
    password: Option<String>,
}

impl RedisServer {
    /// Starts a server with append-only persistence on a free port and waits until it answers.
    ///
    /// Panics with a clear message if `redis-server` is not installed (`.ci/run` installs it).
    pub fn start() -> Self {
        Self::start_with(Vec::new())
    }

    /// Starts a replica of `master` (`--replicaof`). It answers before its first sync is done;
    /// callers that need the data wait for `master_link_status:up`.
    pub fn start_replica_of(master: &RedisServer) -> Self {
        Self::start_with(vec![
            "--replicaof".to_owned(),
            "127.0.0.1".to_owned(),
            master.port.to_string(),
        ])
    }

    /// Starts a server that refuses every command until a client authenticates with
    /// `password` (`--requirepass`). [`RedisServer::url`] carries no password.
    pub fn start_with_password(password: &str) -> Self {
        Self::start_inner(Vec::new(), Some(password.to_owned()))
    }

    fn start_with(extra_args: Vec<String>) -> Self {
        Self::start_inner(extra_args, None)
    }

    fn start_inner(extra_args: Vec<String>, password: Option<String>) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory for redis");
        let port = free_port();
        let mut server = Self {
            child: None,
            port,
            dir,
            extra_args,
            password,
        };
        server.spawn();
        server
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A direct connection, bypassing scopegate (and Sentinel), to look at what landed where.
    /// For a server started without a password.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("redis url")
            .get_connection_with_timeout(Duration::from_secs(2))
            .expect("connect to redis")
    }

    /// The password it requires, if any.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server (SIGKILL: no final save beyond what the AOF already holds).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    fn spawn(&mut self) {
        let mut command = Command::new(redis_server());
        if let Some(password) = &self.password {
            command.arg("--requirepass").arg(password);
        }
        let child = command
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(self.dir.path())
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                // A replica's first sync starts at once instead of after the default 5 s wait
                // for more replicas to share the transfer.
                "--repl-diskless-sync-delay",
                "0",
            ])
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("could not start redis-server: install it (apt-get install redis-server)");
        self.child = Some(child);
        wait_for_ping(self.port, self.password.as_deref(), "redis-server");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Sentinel monitoring one [`RedisServer`] as master [`SentinelServer::MASTER_NAME`]
/// with quorum 1, on a free port, killed when dropped.
///
/// It is `redis-server <conf> --sentinel`: Debian's `redis-server` binary has Sentinel mode built
/// in (the `redis-sentinel` package only adds a service and a symlink), so `.ci/run` installs
/// nothing more for it.
pub struct SentinelServer {
    /// The process.
    child: Option<Child>,
    /// Its port.
    port: u16,
    /// Holds `sentinel.conf`, which Sentinel rewrites as it learns the topology.
    dir: tempfile::TempDir,
}

impl SentinelServer {
    /// The name under which the master is monitored.
    pub const MASTER_NAME: &'static str = "mymaster";

    /// Starts a Sentinel monitoring `master` and waits until it is connected to it. A master
    /// that requires a password is monitored with it (`sentinel auth-pass`); the Sentinel
    /// itself requires none.
    pub fn start(master: &RedisServer) -> Self {
        let auth_pass = master.password.as_deref().map_or_else(String::new, |p| {
            let quoted = p.replace('\\', "\\\\").replace('"', "\\\"");
            format!("sentinel auth-pass {} \"{quoted}\"\n", Self::MASTER_NAME)
        });
        let dir = tempfile::tempdir().expect("temporary directory for sentinel");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\n\
                 bind 127.0.0.1\n\
                 dir {dir}\n\
                 sentinel monitor {name} 127.0.0.1 {master} 1\n\
                 sentinel down-after-milliseconds {name} 1000\n\
                 sentinel failover-timeout {name} 10000\n\
                 {auth_pass}",
                dir = dir.path().display(),
                name = Self::MASTER_NAME,
                master = master.port,
            ),
        )
        .expect("write sentinel.conf");
        let child = Command::new(redis_server())
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("could not start redis-server --sentinel: install redis-server");
        let sentinel = Self {
            child: Some(child),
            port,
            dir,
        };
        wait_for_ping(port, None, "redis sentinel");
        sentinel.wait_until("it is connected to the master", |s| {
            s.master_info()
                .is_some_and(|m| m.get("flags").map(String::as_str) == Some("master"))
        });
        sentinel
    }

    /// `redis+sentinel://127.0.0.1:{port}/mymaster`, the form `cluster.redis_url` takes.
    pub fn url(&self) -> String {
        format!(
            "redis+sentinel://127.0.0.1:{}/{}",
            self.port,
            Self::MASTER_NAME
        )
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding `sentinel.conf`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A connection to the Sentinel itself (for `SENTINEL …` commands).
    pub fn connection(&self) -> redis::Connection {
        let conn = redis::Client::open(format!("redis://127.0.0.1:{}", self.port))
            .expect("sentinel url")
            .get_connection_with_timeout(Duration::from_secs(2))
            .expect("connect to sentinel");
        conn.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("read timeout");
        conn
    }

    /// `SENTINEL MASTER mymaster` as a map (`ip`, `port`, `flags`, …), if the Sentinel answers.
    pub fn master_info(&self) -> Option<HashMap<String, String>> {
        redis::cmd("SENTINEL")
            .arg("MASTER")
            .arg(Self::MASTER_NAME)
            .query(&mut self.connection())
            .ok()
    }

    /// `SENTINEL REPLICAS mymaster`: one map per replica the Sentinel knows.
    pub fn replicas(&self) -> Vec<HashMap<String, String>> {
        redis::cmd("SENTINEL")
            .arg("REPLICAS")
            .arg(Self::MASTER_NAME)
            .query(&mut self.connection())
            .unwrap_or_default()
    }

    /// Forces a failover (`SENTINEL FAILOVER mymaster`), retrying for up to 10 s while the
    /// Sentinel has no replica it considers good yet (`NOGOODSLAVE`).
    pub fn failover(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let result: redis::RedisResult<String> = redis::cmd("SENTINEL")
                .arg("FAILOVER")
                .arg(Self::MASTER_NAME)
                .query(&mut self.connection());
            match result {
                Ok(_) => return,
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "SENTINEL FAILOVER was refused until the deadline: {e}"
                ),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls `done` every 20 ms for up to 10 s, panicking with `what` after that.
    pub fn wait_until(&self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the sentinel on port {} until {what}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SentinelServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits (up to 10 s) until the server on `port` answers PING (authenticated with `password`).
fn wait_for_ping(port: u16, password: Option<&str>, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut info =
        redis::IntoConnectionInfo::into_connection_info(format!("redis://127.0.0.1:{port}"))
            .expect("redis url");
    if let Some(password) = password {
        info = info
            .clone()
            .set_redis_settings(info.redis_settings().clone().set_password(password));
    }
    let client = redis::Client::open(info).expect("redis client");
    loop {
        if let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(200))
            && redis::cmd("PING").query::<String>(&mut conn).is_ok()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `redis-server` binary: `$REDIS_SERVER` if set, else from `PATH`.
fn redis_server() -> PathBuf {
    std::env::var_os("REDIS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("redis-server"))
}

/// Cluster settings for tests: `redis_url`, key prefix `t`, and timeouts short enough that an
/// outage is noticed within a test's patience.
pub fn settings(redis_url: String) -> crate::ClusterSettings {
    crate::ClusterSettings {
        redis_url: Some(redis_url),
        key_prefix: "t".into(),
        connect_timeout_ms: 300,
        command_timeout_ms: 500,
        reconnect_max_backoff_ms: 200,
        ..Default::default()
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
