//! [`RedisServer`]: a real `redis-server` on a free port in a temporary directory, killed when
//! dropped (plain or TLS, and it can be paused, to look hung, or restarted empty);
//! [`SentinelServer`]: a Redis Sentinel (`redis-server --sentinel`) monitoring one of them;
//! [`TestCa`]: a certificate authority made in the test, with server and client certificates;
//! [`Relay`]: a TCP relay that can stop forwarding, to blackhole a link without root. For this
//! workspace's tests (feature `testing`); never a server that was already running, never a
//! fixed port.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// TLS only (`--port 0 --tls-port`), with these certificates.
    tls: Option<ServerTls>,
}

/// The TLS setup of a [`RedisServer`] or [`SentinelServer`].
#[derive(Clone)]
struct ServerTls {
    /// The CA files and certificates.
    ca: Arc<TestCa>,
    /// Whether clients must present a certificate (`tls-auth-clients`).
    auth_clients: bool,
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
        Self::start_inner(Vec::new(), Some(password.to_owned()), None)
    }

    /// Starts a server that speaks TLS only, with `ca`'s server certificate, requiring a
    /// client certificate signed by `ca` when `auth_clients`.
    pub fn start_tls(ca: &Arc<TestCa>, auth_clients: bool) -> Self {
        Self::start_inner(
            Vec::new(),
            None,
            Some(ServerTls {
                ca: Arc::clone(ca),
                auth_clients,
            }),
        )
    }

    fn start_with(extra_args: Vec<String>) -> Self {
        Self::start_inner(extra_args, None, None)
    }

    fn start_inner(
        extra_args: Vec<String>,
        password: Option<String>,
        tls: Option<ServerTls>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory for redis");
        let port = free_port();
        let mut server = Self {
            child: None,
            port,
            dir,
            extra_args,
            password,
            tls,
        };
        server.spawn();
        server
    }

    /// `redis://127.0.0.1:{port}` (`rediss://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the process (SIGSTOP): it keeps its connections and port but answers nothing, as
    /// a hung Redis does. [`RedisServer::resume`] continues it.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Continues a paused process (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.pid().expect("redis-server is running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// Kills the server and starts it again on the same port with its data deleted: a Redis
    /// that restarted empty.
    pub fn restart_empty(&mut self) {
        self.kill();
        for entry in std::fs::read_dir(self.dir.path()).expect("list redis dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).expect("remove");
            } else {
                std::fs::remove_file(&path).expect("remove");
            }
        }
        self.spawn();
    }

    /// A client for this server (TLS with the test CA and client certificate when it is a TLS
    /// server; the password when it has one).
    fn client(&self) -> redis::Client {
        client_for(self.port, self.password.as_deref(), self.tls.as_ref())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A direct connection, bypassing scopegate (and Sentinel), to look at what landed where.
    /// For a server started without a password.
    pub fn connection(&self) -> redis::Connection {
        self.client()
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
        match &self.tls {
            Some(tls) => {
                command
                    .args(["--port", "0", "--tls-port"])
                    .arg(self.port.to_string())
                    .args(tls.server_args());
            }
            None => {
                command.arg("--port").arg(self.port.to_string());
            }
        }
        let child = command
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
        wait_for_ping(&self.client(), self.port, "redis-server");
    }
}

// === impl ServerTls ===

impl ServerTls {
    /// The `tls-*` options of a server (or Sentinel) with these certificates.
    fn server_args(&self) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        vec![
            "--tls-cert-file".into(),
            path(&self.ca.server_cert_file()),
            "--tls-key-file".into(),
            path(&self.ca.server_key_file()),
            "--tls-ca-cert-file".into(),
            path(&self.ca.ca_file()),
            "--tls-auth-clients".into(),
            if self.auth_clients { "yes" } else { "no" }.into(),
        ]
    }
}

/// A client for `127.0.0.1:{port}` with `password` and, for TLS, the test CA and client
/// certificate.
fn client_for(port: u16, password: Option<&str>, tls: Option<&ServerTls>) -> redis::Client {
    let scheme = if tls.is_some() { "rediss" } else { "redis" };
    let mut info =
        redis::IntoConnectionInfo::into_connection_info(format!("{scheme}://127.0.0.1:{port}"))
            .expect("redis url");
    if let Some(password) = password {
        info = info
            .clone()
            .set_redis_settings(info.redis_settings().clone().set_password(password));
    }
    match tls {
        Some(tls) => {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            redis::Client::build_with_tls(info, tls.ca.certificates()).expect("tls client")
        }
        None => redis::Client::open(info).expect("redis client"),
    }
}

/// A certificate authority made for one test, and the PEM files of its certificate, of a
/// server certificate for `127.0.0.1` and `localhost`, and of a client certificate, in a
/// temporary directory.
pub struct TestCa {
    /// Holds the PEM files.
    dir: tempfile::TempDir,
}

impl TestCa {
    /// Makes the CA and both certificates (ECDSA P-256).
    pub fn new() -> Arc<Self> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
        let dir = tempfile::tempdir().expect("temporary directory for certificates");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "scopegate test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::CrlSign,
        ];
        let ca_key = KeyPair::generate().expect("ca key");
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>, client: bool| {
            let mut params = CertificateParams::new(names).expect("leaf params");
            // A server's certificate is also its client certificate when it connects to
            // another server (a Sentinel to its master, a replica to its master).
            params.extended_key_usages = if client {
                vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth]
            } else {
                vec![
                    rcgen::ExtendedKeyUsagePurpose::ServerAuth,
                    rcgen::ExtendedKeyUsagePurpose::ClientAuth,
                ]
            };
            params.use_authority_key_identifier_extension = true;
            let key = KeyPair::generate().expect("leaf key");
            let cert = params.signed_by(&key, &issuer).expect("leaf certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(vec!["127.0.0.1".into(), "localhost".into()], false);
        let (client_cert, client_key) = leaf(vec!["scopegate-node".into()], true);
        for (name, pem) in [
            ("ca.pem", ca_cert.pem()),
            ("server.pem", server_cert),
            ("server.key", server_key),
            ("client.pem", client_cert),
            ("client.key", client_key),
        ] {
            std::fs::write(dir.path().join(name), pem).expect("write pem");
        }
        Arc::new(Self { dir })
    }

    /// The CA certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The server certificate (PEM), for 127.0.0.1 and localhost.
    pub fn server_cert_file(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }

    /// The server certificate's key (PEM, PKCS#8).
    pub fn server_key_file(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }

    /// The client certificate (PEM).
    pub fn client_cert_file(&self) -> PathBuf {
        self.dir.path().join("client.pem")
    }

    /// The client certificate's key (PEM, PKCS#8).
    pub fn client_key_file(&self) -> PathBuf {
        self.dir.path().join("client.key")
    }

    /// The CA and client certificate as redis-rs takes them.
    pub fn certificates(&self) -> redis::TlsCertificates {
        let read = |p: PathBuf| std::fs::read(p).expect("read pem");
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: read(self.client_cert_file()),
                client_key: read(self.client_key_file()),
            }),
            root_cert: Some(read(self.ca_file())),
        }
    }
}

/// A TCP relay from a free port of its own to `127.0.0.1:{target}`, one thread pair per
/// connection. [`Relay::blackhole`] stops it forwarding anything, in either direction, on open
/// connections and new ones alike, as a network partition does (the bytes wait, as TCP
/// retransmits them, until [`Relay::restore`]).
pub struct Relay {
    /// Its port.
    port: u16,
    /// While set, nothing is forwarded.
    blackholed: Arc<AtomicBool>,
    /// Set by [`Relay::lose_replies_after_request`]: the size of request after which replies
    /// stop (0: off).
    cut_after: Arc<std::sync::atomic::AtomicUsize>,
    /// While set, nothing flows back from the server.
    replies_held: Arc<AtomicBool>,
    /// Set on drop: every thread ends.
    stopped: Arc<AtomicBool>,
}

impl Relay {
    /// Starts relaying to `target`.
    pub fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let port = listener.local_addr().expect("relay address").port();
        let link = Link {
            blackholed: Arc::new(AtomicBool::new(false)),
            cut_after: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            replies_held: Arc::new(AtomicBool::new(false)),
            stopped: Arc::new(AtomicBool::new(false)),
        };
        let shared = link.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if shared.stopped.load(Ordering::Acquire) {
                    return;
                }
                let Ok(client) = client else { continue };
                let link = shared.clone();
                std::thread::spawn(move || {
                    while link.blackholed.load(Ordering::Acquire)
                        && !link.stopped.load(Ordering::Acquire)
                    {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else {
                        return;
                    };
                    for (from, to, request) in
                        [(&client, &upstream, true), (&upstream, &client, false)]
                    {
                        let (from, to) = (from.try_clone(), to.try_clone());
                        let (Ok(from), Ok(to)) = (from, to) else {
                            return;
                        };
                        let link = link.clone();
                        std::thread::spawn(move || pump(from, to, &link, request));
                    }
                });
            }
        });
        Self {
            port,
            blackholed: link.blackholed,
            cut_after: link.cut_after,
            replies_held: link.replies_held,
            stopped: link.stopped,
        }
    }

    /// From the next request of at least `bytes` bytes on, forwards requests but no replies:
    /// the link breaks just after a command went out, so the client cannot know whether it
    /// ran. [`Relay::restore`] lets the held replies through.
    pub fn lose_replies_after_request(&self, bytes: usize) {
        self.cut_after.store(bytes, Ordering::Release);
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops forwarding.
    pub fn blackhole(&self) {
        self.blackholed.store(true, Ordering::Release);
    }

    /// Forwards again, including what waited meanwhile.
    pub fn restore(&self) {
        self.cut_after.store(0, Ordering::Release);
        self.replies_held.store(false, Ordering::Release);
        self.blackholed.store(false, Ordering::Release);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Release);
        // Wakes the accepting thread so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The switches every connection of a [`Relay`] obeys.
#[derive(Clone)]
struct Link {
    blackholed: Arc<AtomicBool>,
    cut_after: Arc<std::sync::atomic::AtomicUsize>,
    replies_held: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
}

impl Link {
    /// Whether `request`'s direction is held now.
    fn held(&self, request: bool) -> bool {
        !self.stopped.load(Ordering::Acquire)
            && (self.blackholed.load(Ordering::Acquire)
                || (!request && self.replies_held.load(Ordering::Acquire)))
    }
}

/// Copies `from` to `to` until either closes or the relay stops, holding what the link's
/// switches hold. `request`: client to server.
fn pump(mut from: TcpStream, mut to: TcpStream, link: &Link, request: bool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = [0_u8; 64 * 1024];
    while !link.stopped.load(Ordering::Acquire) {
        if link.held(request) {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // Bytes read just as the link went dark wait with the rest.
                while link.held(request) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let cut = link.cut_after.load(Ordering::Acquire);
                if request && cut > 0 && n >= cut {
                    link.replies_held.store(true, Ordering::Release);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
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
    /// The Sentinel's own `requirepass`, if any.
    password: Option<String>,
    /// TLS only, with these certificates (and TLS to the master: `tls-replication yes`).
    tls: Option<ServerTls>,
}

impl SentinelServer {
    /// The name under which the master is monitored.
    pub const MASTER_NAME: &'static str = "mymaster";

    /// Starts a Sentinel monitoring `master` and waits until it is connected to it. A master
    /// that requires a password is monitored with it (`sentinel auth-pass`); the Sentinel
    /// itself requires none.
    pub fn start(master: &RedisServer) -> Self {
        Self::start_with(master, None)
    }

    /// Starts a Sentinel that requires `password` of its clients (`requirepass`, and
    /// `sentinel sentinel-pass` for its peers) and, when `master` is a TLS server, speaks TLS
    /// only, with the same test CA, and reaches the master over TLS.
    pub fn start_with(master: &RedisServer, password: Option<&str>) -> Self {
        let quote = |p: &str| p.replace('\\', "\\\\").replace('"', "\\\"");
        let auth_pass = master.password.as_deref().map_or_else(String::new, |p| {
            format!(
                "sentinel auth-pass {} \"{}\"\n",
                Self::MASTER_NAME,
                quote(p)
            )
        });
        let own_pass = password.map_or_else(String::new, |p| {
            format!(
                "requirepass \"{0}\"\nsentinel sentinel-pass \"{0}\"\n",
                quote(p)
            )
        });
        let tls = master.tls.clone();
        let tls_conf = tls.as_ref().map_or_else(String::new, |t| {
            let args = t.server_args();
            let mut conf = String::from("tls-replication yes\n");
            for pair in args.chunks(2) {
                conf.push_str(&format!(
                    "{} \"{}\"\n",
                    pair[0].trim_start_matches("--"),
                    pair[1]
                ));
            }
            conf
        });
        let dir = tempfile::tempdir().expect("temporary directory for sentinel");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "{listen}\n\
                 bind 127.0.0.1\n\
                 dir {dir}\n\
                 sentinel monitor {name} 127.0.0.1 {master} 1\n\
                 sentinel down-after-milliseconds {name} 1000\n\
                 sentinel failover-timeout {name} 10000\n\
                 {auth_pass}{own_pass}{tls_conf}",
                listen = if tls.is_some() {
                    format!("port 0\ntls-port {port}")
                } else {
                    format!("port {port}")
                },
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
            password: password.map(str::to_owned),
            tls,
        };
        wait_for_ping(&sentinel.client(), port, "redis sentinel");
        sentinel.wait_until("it is connected to the master", |s| {
            s.master_info()
                .is_some_and(|m| m.get("flags").map(String::as_str) == Some("master"))
        });
        sentinel
    }

    /// `redis+sentinel://127.0.0.1:{port}/mymaster` (`rediss+sentinel://` for TLS), the form
    /// `cluster.redis_url` takes.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss+sentinel"
        } else {
            "redis+sentinel"
        };
        format!("{scheme}://127.0.0.1:{}/{}", self.port, Self::MASTER_NAME)
    }

    fn client(&self) -> redis::Client {
        client_for(self.port, self.password.as_deref(), self.tls.as_ref())
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
        let conn = self
            .client()
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

/// Waits (up to 10 s) until the server on `port` answers PING through `client`.
fn wait_for_ping(client: &redis::Client, port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
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
