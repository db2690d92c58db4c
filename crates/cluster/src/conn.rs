//! [`Redis`]: how this node reaches Redis (a plain URL, TLS, or Sentinel), [`SyncConn`] for the
//! actors that write from their own threads, [`subscribe`] for the pub/sub listeners, and
//! [`Health`], the shared view of whether Redis is reachable.
//!
//! Writes go through blocking connections on the owning actor's thread (the stores are
//! `SyncArbiter` actors, as the embedded stores are, so a write is one call with a timeout).
//! Listening is async: one task per channel on the actix/tokio runtime, reconnecting with
//! backoff and calling the handler's `on_subscribed` after every (re)subscription so that the
//! owner catches up on what it missed while disconnected.
//!
//! # One budget per request
//!
//! Everything one call of [`SyncConn::run`] may wait on (asking Sentinel for the master,
//! connecting, checking an idle connection with a PING, the command itself) shares a single
//! deadline: `cluster.command_timeout_ms` from the call, or an earlier one the caller set with
//! [`SyncConn::set_deadline`] for a request that makes several calls. Socket timeouts are set
//! to what is left of it before each step, so no request waits twice.
//!
//! While the last attempt to reach Redis timed out and nothing answered since
//! ([`Health::is_hung`]), calls fail at once without sending anything: a hung or blackholed
//! Redis would only make every queued request wait its full budget again. The health monitor
//! ([`crate::monitor`]) is what notices that Redis answers again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use redis::{ConnectionAddr, IntoConnectionInfo as _, TlsCertificates};

use crate::config::ClusterSettings;
use crate::error::{ClusterError, describe};

/// How to reach the Redis master.
enum Target {
    /// A single Redis (or a proxy in front of one), plain or TLS.
    Direct(redis::Client),
    /// Ask Sentinel for the current master on every (re)connect.
    Sentinel(SentinelTarget),
}

/// A Sentinel deployment: the Sentinels to ask and how to reach the master they name.
///
/// The lookup is done here rather than with redis-rs's blocking Sentinel client, whose
/// connections to the Sentinels and to the master have no timeouts: through a blackholed link
/// one lookup could wait for the operating system's TCP timeout, minutes.
struct SentinelTarget {
    /// One client per Sentinel, with TLS and the Sentinels' password applied.
    sentinels: Vec<redis::Client>,
    /// The monitored master's name.
    master: String,
    /// Database, user and password of the connections to the master.
    redis: redis::RedisConnectionInfo,
    /// TLS to the master (`rediss+sentinel://`): the CA bundle and client certificate.
    tls: Option<TlsCertificates>,
}

/// A handle on the configured Redis, shared by every store and listener of the node.
pub struct Redis {
    /// Where the master is.
    target: Target,
    /// Connect timeout (one attempt; the call's deadline may cut it shorter).
    connect_timeout: Duration,
    /// The budget of one call ([`SyncConn::run`]) when the caller set no deadline.
    command_timeout: Duration,
    /// Longest backoff between reconnection attempts.
    max_backoff: Duration,
    /// How often the health monitor PINGs.
    ping_interval: Duration,
    /// Reachability, shared with `/readyz` and metrics.
    health: Arc<Health>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.target {
            Target::Direct(_) => "direct",
            Target::Sentinel(_) => "sentinel",
        };
        f.debug_struct("Redis")
            .field("target", &kind)
            .finish_non_exhaustive()
    }
}

// === impl Redis ===

impl Redis {
    /// Parses `settings.redis_url` (see [`ClusterSettings::redis_url`]) and reads the TLS
    /// files it needs. Does not connect.
    pub fn open(settings: &ClusterSettings) -> Result<Arc<Self>, ClusterError> {
        let url = settings
            .redis_url
            .as_deref()
            .ok_or_else(|| ClusterError::Config("cluster.redis_url is not set".into()))?;
        let password = settings.redis_password()?;
        let (tls, sentinel) = if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            (false, Some(rest))
        } else if let Some(rest) = url.strip_prefix("rediss+sentinel://") {
            (true, Some(rest))
        } else {
            (url.starts_with("rediss://"), None)
        };
        let certificates = tls_certificates(settings, tls)?;
        let target = match sentinel {
            Some(rest) => Target::Sentinel(SentinelTarget::parse(
                rest,
                password.as_deref(),
                settings.sentinel_password()?.as_deref(),
                certificates,
            )?),
            None => {
                if settings.sentinel_password.is_some() || settings.sentinel_password_file.is_some()
                {
                    return Err(ClusterError::Config(
                        "cluster.sentinel_password is set but cluster.redis_url is not a \
                         redis+sentinel:// URL"
                            .into(),
                    ));
                }
                let bad = |e: redis::RedisError| {
                    ClusterError::Config(format!(
                        "cluster.redis_url is not a Redis URL ({:?})",
                        e.kind()
                    ))
                };
                let mut info = url.into_connection_info().map_err(bad)?;
                if let Some(password) = &password {
                    let redis = info.redis_settings().clone().set_password(password);
                    info = info.set_redis_settings(redis);
                }
                Target::Direct(client(info, certificates.as_ref()).map_err(tls_error)?)
            }
        };
        Ok(Arc::new(Self {
            target,
            connect_timeout: settings.connect_timeout(),
            command_timeout: settings.command_timeout(),
            max_backoff: Duration::from_millis(settings.reconnect_max_backoff_ms.max(50)),
            ping_interval: settings.ping_interval(),
            health: Arc::new(Health::default()),
        }))
    }

    /// The shared reachability state.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// The budget of one call when its caller set no deadline (`cluster.command_timeout_ms`).
    pub fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// How often the health monitor PINGs (`cluster.ping_interval_ms`).
    pub fn ping_interval(&self) -> Duration {
        self.ping_interval
    }

    /// A client for the current master; Sentinel is asked each time, within one command
    /// timeout.
    pub fn client(&self) -> redis::RedisResult<redis::Client> {
        self.client_by(Instant::now() + self.command_timeout)
    }

    /// A client for the current master; Sentinel is asked each time, within `deadline`.
    pub fn client_by(&self, deadline: Instant) -> redis::RedisResult<redis::Client> {
        match &self.target {
            Target::Direct(c) => Ok(c.clone()),
            Target::Sentinel(s) => s.master(deadline, self.connect_timeout),
        }
    }

    /// A new blocking connection with one command timeout for opening it and for each command.
    pub fn connect(&self) -> redis::RedisResult<redis::Connection> {
        self.connect_by(Instant::now() + self.command_timeout)
    }

    /// A new blocking connection, opened within `deadline` (and the connect timeout), its
    /// socket timeouts set to what is left of `deadline`.
    pub fn connect_by(&self, deadline: Instant) -> redis::RedisResult<redis::Connection> {
        let client = self.client_by(deadline)?;
        let conn =
            client.get_connection_with_timeout(remaining(deadline)?.min(self.connect_timeout))?;
        set_timeouts(&conn, deadline)?;
        Ok(conn)
    }
}

/// A client for `info`, over TLS with `certificates` when the address is a TLS one.
fn client(
    info: redis::ConnectionInfo,
    certificates: Option<&TlsCertificates>,
) -> redis::RedisResult<redis::Client> {
    match (info.addr(), certificates) {
        (ConnectionAddr::TcpTls { .. }, Some(certs)) => {
            redis::Client::build_with_tls(info, certs.clone())
        }
        _ => redis::Client::open(info),
    }
}

/// A client-side TLS configuration that redis-rs refused (an unreadable PEM), as a
/// configuration error.
fn tls_error(e: redis::RedisError) -> ClusterError {
    ClusterError::Config(format!(
        "cluster TLS settings (tls_ca_file, tls_cert_file, tls_key_file): {}",
        describe(&e)
    ))
}

/// The CA bundle and client certificate for a TLS URL (`None` for a plain one, which must not
/// name any TLS file). Also makes sure rustls has its crypto provider.
fn tls_certificates(
    settings: &ClusterSettings,
    tls: bool,
) -> Result<Option<TlsCertificates>, ClusterError> {
    let files = [
        &settings.tls_ca_file,
        &settings.tls_cert_file,
        &settings.tls_key_file,
    ];
    if !tls {
        if files.iter().any(|f| f.is_some()) {
            return Err(ClusterError::Config(
                "cluster.tls_ca_file, tls_cert_file and tls_key_file apply to TLS only: use a \
                 rediss:// (or rediss+sentinel://) URL"
                    .into(),
            ));
        }
        return Ok(None);
    }
    // aws-lc-rs is the only provider built in; installing it makes that explicit (an error
    // only means it is installed already).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let read = |name: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            ClusterError::Config(format!(
                "cannot read cluster.{name} {}: {e}",
                path.display()
            ))
        })
    };
    let root_cert = match &settings.tls_ca_file {
        Some(path) => {
            let pem = read("tls_ca_file", path)?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(ClusterError::Config(format!(
                    "cluster.tls_ca_file {} holds no PEM certificate",
                    path.display()
                )));
            }
            Some(pem)
        }
        None => None,
    };
    let client_tls = match (&settings.tls_cert_file, &settings.tls_key_file) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: read("tls_cert_file", cert)?,
            client_key: read("tls_key_file", key)?,
        }),
        (None, None) => None,
        _ => {
            return Err(ClusterError::Config(
                "set cluster.tls_cert_file and cluster.tls_key_file together (a client \
                 certificate and its key)"
                    .into(),
            ));
        }
    };
    Ok(Some(TlsCertificates {
        client_tls,
        root_cert,
    }))
}

// === impl SentinelTarget ===

impl SentinelTarget {
    /// Parses `h1:p1,h2:p2/master[/db]` with optional `user:password@` (the master's).
    /// `password` (from `cluster.redis_password[_file]`) replaces the URL's password for the
    /// connections to the master; `sentinel_password` is the Sentinels' own.
    fn parse(
        rest: &str,
        password: Option<&str>,
        sentinel_password: Option<&str>,
        tls: Option<TlsCertificates>,
    ) -> Result<Self, ClusterError> {
        let bad = |why: &str| {
            ClusterError::Config(format!(
                "cluster.redis_url: a Sentinel URL is redis+sentinel://[user:password@]host:port[,host:port…]/master-name[/db]; {why}"
            ))
        };
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((auth, rest)) => (Some(auth), rest),
            None => (None, rest),
        };
        let (hosts, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("the master name is missing"))?;
        let mut path = path.split('/');
        let master = path
            .next()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| bad("the master name is missing"))?;
        let db: i64 = match path.next() {
            Some(db) if !db.is_empty() => db
                .parse()
                .map_err(|_| bad("the database is not a number"))?,
            _ => 0,
        };
        let scheme = if tls.is_some() { "rediss" } else { "redis" };
        let mut sentinels = Vec::new();
        for host in hosts.split(',').filter(|h| !h.is_empty()) {
            let mut info = format!("{scheme}://{host}")
                .into_connection_info()
                .map_err(|_| bad("a sentinel address is not host:port"))?;
            if let Some(password) = sentinel_password {
                let settings = info.redis_settings().clone().set_password(password);
                info = info.set_redis_settings(settings);
            }
            sentinels.push(client(info, tls.as_ref()).map_err(tls_error)?);
        }
        if sentinels.is_empty() {
            return Err(bad("no sentinel address"));
        }
        let mut redis = redis::RedisConnectionInfo::default().set_db(db);
        if let Some(auth) = auth {
            let (user, url_password) = auth.split_once(':').unwrap_or(("", auth));
            if !user.is_empty() {
                redis = redis.set_username(user);
            }
            if !url_password.is_empty() {
                redis = redis.set_password(url_password);
            }
        }
        if let Some(password) = password {
            redis = redis.set_password(password);
        }
        Ok(Self {
            sentinels,
            master: master.to_owned(),
            redis,
            tls,
        })
    }

    /// Asks the Sentinels in turn for the master's address, within `deadline`; a client for
    /// the first answer.
    fn master(
        &self,
        deadline: Instant,
        connect_timeout: Duration,
    ) -> redis::RedisResult<redis::Client> {
        let mut last = None;
        for sentinel in &self.sentinels {
            let asked = (|| {
                let mut conn = sentinel
                    .get_connection_with_timeout(remaining(deadline)?.min(connect_timeout))?;
                set_timeouts(&conn, deadline)?;
                redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(&self.master)
                    .query::<Option<(String, u16)>>(&mut conn)
            })();
            match asked {
                Ok(Some((host, port))) => {
                    let addr = match &self.tls {
                        Some(_) => ConnectionAddr::TcpTls {
                            host,
                            port,
                            insecure: false,
                            tls_params: None,
                        },
                        None => ConnectionAddr::Tcp(host, port),
                    };
                    let info = addr
                        .into_connection_info()?
                        .set_redis_settings(self.redis.clone());
                    return client(info, self.tls.as_ref());
                }
                Ok(None) => {
                    last = Some(redis::RedisError::from((
                        redis::ErrorKind::MasterNameNotFoundBySentinel,
                        "a Sentinel does not know the configured master name",
                    )));
                }
                Err(e) => {
                    let out_of_time = e.is_timeout();
                    last = Some(e);
                    if out_of_time && Instant::now() >= deadline {
                        break;
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| timed_out("no time left to ask Sentinel")))
    }
}

/// What is left until `deadline`, or a timeout error when nothing is.
fn remaining(deadline: Instant) -> redis::RedisResult<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(timed_out("the request's time budget for Redis is spent"));
    }
    Ok(left)
}

/// Sets both socket timeouts of `conn` to what is left until `deadline`.
fn set_timeouts(conn: &redis::Connection, deadline: Instant) -> redis::RedisResult<()> {
    let left = remaining(deadline)?;
    conn.set_read_timeout(Some(left))?;
    conn.set_write_timeout(Some(left))
}

/// A timeout error (`is_timeout()` holds) saying `what`.
fn timed_out(what: &'static str) -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, what))
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether Redis is reachable, as last observed by any connection of this node, and what the
/// health monitor concluded from it.
#[derive(Debug)]
pub struct Health {
    /// The last command, PING or subscription succeeded.
    up: AtomicBool,
    /// A failure was recorded at some point, so the next success is a reconnection (the first
    /// connection of a node is not one).
    failed: AtomicBool,
    /// The last failure was a timeout (Redis hung, or the link blackholed) and nothing has
    /// answered since: calls fail at once instead of waiting again.
    hung: AtomicBool,
    /// Successful reconnections after a failure.
    reconnects: AtomicU64,
    /// When Redis last answered anything, milliseconds since the Unix epoch (0: never).
    last_contact_ms: AtomicU64,
    /// Past `cluster.max_staleness_secs` without contact: checks and introspection are refused.
    /// Set by the health monitor; read on the check path (one atomic load).
    stale: AtomicBool,
    /// Redis holds less than this node applied: it lost data.
    data_lost: AtomicBool,
    /// What was lost, for `/readyz` and the write errors.
    data_lost_detail: Mutex<Option<String>>,
    /// The node has seen Redis at the policy version it serves (always, unless it started from
    /// its local snapshot and has not caught up yet).
    caught_up: AtomicBool,
    /// The last failure, for `/readyz`; never holds a password.
    last_error: Mutex<Option<String>>,
    /// Counts the times Redis was found unreachable; subscriptions restart when it moves,
    /// because a subscription on a dead link may not notice for minutes.
    outages: tokio::sync::watch::Sender<u64>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            up: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            hung: AtomicBool::new(false),
            reconnects: AtomicU64::new(0),
            last_contact_ms: AtomicU64::new(0),
            stale: AtomicBool::new(false),
            data_lost: AtomicBool::new(false),
            data_lost_detail: Mutex::new(None),
            caught_up: AtomicBool::new(true),
            last_error: Mutex::new(None),
            outages: tokio::sync::watch::channel(0).0,
        }
    }
}

// === impl Health ===

impl Health {
    /// Whether Redis answered the last time it was asked.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Whether the last attempt timed out with no answer since: calls fail at once.
    pub fn is_hung(&self) -> bool {
        self.hung.load(Ordering::Acquire)
    }

    /// How many times a connection was re-established after a failure.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// The last failure's description.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Seconds since Redis last answered; `None` if it never has (a node started from its
    /// snapshot while Redis was down).
    pub fn contact_age(&self) -> Option<Duration> {
        match self.last_contact_ms.load(Ordering::Acquire) {
            0 => None,
            at => Some(Duration::from_millis(now_ms().saturating_sub(at))),
        }
    }

    /// Whether the node is past `cluster.max_staleness_secs` without contact and must refuse
    /// to decide. One atomic load: fit for the check path.
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Acquire)
    }

    /// Whether Redis holds less than this node applied (it restarted empty, or was restored
    /// from an older backup), with what was found.
    pub fn data_lost(&self) -> Option<String> {
        if !self.data_lost.load(Ordering::Acquire) {
            return None;
        }
        self.data_lost_detail.lock().ok().and_then(|d| d.clone())
    }

    /// Whether the node has caught up with Redis since it started.
    pub fn is_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    /// Records that the node started from its local snapshot: not caught up until the health
    /// monitor sees Redis at the version it serves.
    pub fn mark_started_from_snapshot(&self) {
        self.caught_up.store(false, Ordering::Release);
    }

    /// A receiver that changes whenever Redis is found unreachable.
    pub fn outages(&self) -> tokio::sync::watch::Receiver<u64> {
        self.outages.subscribe()
    }

    /// How many times Redis was found unreachable (or to have lost its data) so far.
    pub fn outage_count(&self) -> u64 {
        *self.outages.borrow()
    }

    /// Records that something arrived from Redis (a subscription message).
    pub fn touch(&self) {
        self.last_contact_ms.store(now_ms(), Ordering::Release);
    }

    /// Records a success.
    pub fn mark_up(&self) {
        self.touch();
        self.hung.store(false, Ordering::Release);
        if !self.up.swap(true, Ordering::AcqRel) {
            if self.failed.load(Ordering::Acquire) {
                self.reconnects.fetch_add(1, Ordering::Relaxed);
            }
            tracing::info!("redis reachable");
        }
    }

    /// Records a failure.
    pub fn mark_down(&self, error: &redis::RedisError) {
        let text = describe(error);
        self.failed.store(true, Ordering::Release);
        self.hung.store(error.is_timeout(), Ordering::Release);
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(error = %text, "redis unreachable; serving from the last snapshots");
            self.outages.send_modify(|n| *n += 1);
        }
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(text);
        }
    }

    /// Compares the policy version Redis holds (`stored`, `None` when the key is absent) with
    /// the one this node serves (`node`, read before Redis was asked): Redis holding less means
    /// it lost data; holding exactly as much, after a start from the snapshot, means caught up.
    pub fn observe_policy_version(&self, stored: Option<u64>, node: u64) {
        let held = stored.unwrap_or(0);
        if held < node {
            let detail = match stored {
                None => format!(
                    "Redis holds no policy, but this node serves policy version {node}: Redis \
                     has lost the cluster's data (it restarted empty, or was flushed)"
                ),
                Some(held) => format!(
                    "Redis holds policy version {held}, behind the version {node} this node \
                     serves: Redis has lost changes (it was restored from an older backup, or \
                     failed over to a replica that lagged)"
                ),
            };
            if let Ok(mut d) = self.data_lost_detail.lock() {
                *d = Some(detail.clone());
            }
            if !self.data_lost.swap(true, Ordering::AcqRel) {
                tracing::error!(%detail, "writes are refused until Redis is re-seeded (scopegate cluster reseed)");
            }
            return;
        }
        if self.data_lost.swap(false, Ordering::AcqRel) {
            tracing::info!(stored = held, node, "Redis holds the cluster's data again");
            // Everything the node holds may have to be read again: restart the subscriptions,
            // which catch up after subscribing.
            self.outages.send_modify(|n| *n += 1);
        }
        if held == node && !self.caught_up.swap(true, Ordering::AcqRel) {
            tracing::info!(
                version = node,
                "caught up with Redis after starting from the local snapshot"
            );
        }
    }

    /// Sets the stale flag: past `max_staleness` (if any) without contact.
    pub fn refresh_staleness(&self, max_staleness: Option<Duration>) {
        let stale = max_staleness.is_some_and(|max| self.contact_age().is_none_or(|age| age > max));
        if self.stale.swap(stale, Ordering::AcqRel) != stale {
            if stale {
                tracing::error!(
                    max_staleness_secs = max_staleness.map_or(0, |m| m.as_secs()),
                    "no contact with Redis for longer than cluster.max_staleness_secs: refusing \
                     checks and introspection until it answers"
                );
            } else {
                tracing::info!("in contact with Redis again: deciding again");
            }
        }
    }
}

/// Why a write failed, and whether it may have been applied anyway.
#[derive(Debug)]
pub struct WriteError {
    /// What went wrong.
    pub error: redis::RedisError,
    /// The command was sent before the failure: Redis may have run it (a timeout or a broken
    /// connection after sending hides the answer). `false`: it was never sent, so it was not
    /// applied.
    pub sent: bool,
}

/// A blocking connection owned by one thread (an actor's), opened lazily and dropped on any
/// connection-level failure so that the next call reconnects.
pub struct SyncConn {
    /// Where to connect.
    redis: Arc<Redis>,
    /// The open connection, if any, and when it was last used.
    conn: Option<(redis::Connection, Instant)>,
    /// [`Health::outage_count`] when the connection was opened: a connection older than the
    /// last outage may be dead (Redis restarted) and is replaced.
    opened_at_outage: u64,
    /// The deadline of the request being served, shared by all its calls; `None`: each call
    /// gets `command_timeout` of its own.
    deadline: Option<Instant>,
}

impl std::fmt::Debug for SyncConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncConn")
            .field("open", &self.conn.is_some())
            .finish()
    }
}

// === impl SyncConn ===

impl SyncConn {
    /// A connection to `redis`, not yet opened.
    pub fn new(redis: Arc<Redis>) -> Self {
        Self {
            redis,
            conn: None,
            opened_at_outage: 0,
            deadline: None,
        }
    }

    /// The shared Redis handle.
    pub fn redis(&self) -> &Arc<Redis> {
        &self.redis
    }

    /// Makes every call until the next `set_deadline(None)` share `deadline`: one request
    /// that makes several calls (a write, a catch-up, the write again) waits on Redis at most
    /// until then in all.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Runs `f` on the connection (opening it first if needed). Any error that is not a plain
    /// command error (a script's refusal, a wrong type) closes the connection and marks Redis
    /// down; the caller gets the error either way. Never retries.
    pub fn run<T>(
        &mut self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        self.attempt(f, Mode::Run).map_err(|e| e.error)
    }

    /// [`SyncConn::run`] for a command that must not be repeated blindly, telling whether a
    /// failed one was sent (its outcome is then unknown) or not (it was not applied).
    ///
    /// A connection that is already open is checked with a `PING` first, within the same
    /// budget, however recently it was used: a Redis that died or hung since then fails the
    /// `PING`, and the write is reported as not sent instead of unknown. Only a failure between
    /// the `PING`'s answer and the write's leaves the outcome unknown.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, WriteError> {
        self.attempt(f, Mode::Write)
    }

    /// [`SyncConn::run`] within `budget`, even while Redis is marked hung: the health
    /// monitor's probe, which is how the node learns that Redis answers again.
    pub fn probe<T>(
        &mut self,
        budget: Duration,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let saved = self.deadline.replace(Instant::now() + budget);
        let result = self.attempt(f, Mode::Probe).map_err(|e| e.error);
        self.deadline = saved;
        result
    }

    fn attempt<T>(
        &mut self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
        mode: Mode,
    ) -> Result<T, WriteError> {
        let health = Arc::clone(self.redis.health());
        let not_sent = |error: redis::RedisError| WriteError { error, sent: false };
        if mode != Mode::Probe && health.is_hung() {
            return Err(not_sent(timed_out(
                "redis did not answer the last attempt in time and has not answered since",
            )));
        }
        let deadline = self
            .deadline
            .unwrap_or_else(|| Instant::now() + self.redis.command_timeout);
        let outages = health.outage_count();
        if self.conn.is_some() && self.opened_at_outage != outages {
            // Opened before Redis was last found unreachable: likely dead, replace it.
            self.conn = None;
        }
        // A connection idle for a while, or used while Redis is marked down, may have died with
        // a Redis restart without our noticing; a PING first finds out before a write is sent
        // into a dead socket, so that the write itself is never the probe.
        if let Some((conn, used)) = self.conn.as_mut()
            && (mode == Mode::Write || used.elapsed() > IDLE_CHECK || !health.is_up())
        {
            let checked = set_timeouts(conn, deadline)
                .and_then(|()| redis::cmd("PING").query::<String>(conn));
            if let Err(e) = checked {
                self.conn = None;
                if e.is_timeout() {
                    // Hung: reconnecting would only wait again.
                    health.mark_down(&e);
                    return Err(not_sent(e));
                }
            }
        }
        let conn = match self.conn.as_mut() {
            Some((c, _)) => match set_timeouts(c, deadline) {
                Ok(()) => c,
                Err(e) => return Err(not_sent(e)),
            },
            None => match self.redis.connect_by(deadline) {
                Ok(c) => {
                    self.opened_at_outage = outages;
                    &mut self.conn.insert((c, Instant::now())).0
                }
                Err(e) => {
                    health.mark_down(&e);
                    return Err(not_sent(e));
                }
            },
        };
        let result = f(conn);
        match &result {
            Ok(_) => health.mark_up(),
            Err(e) if is_connection_error(e) => {
                self.conn = None;
                health.mark_down(e);
            }
            Err(_) => health.mark_up(),
        }
        if let Some((_, used)) = self.conn.as_mut() {
            *used = Instant::now();
        }
        result.map_err(|error| WriteError { error, sent: true })
    }
}

/// How long a connection may sit unused before [`SyncConn::run`] checks it with a PING.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// What a call of [`SyncConn`] is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A command that may be repeated: an open connection is checked only after idleness.
    Run,
    /// A write: an open connection is always checked first.
    Write,
    /// The health monitor's probe: sent even while Redis is marked hung.
    Probe,
}

/// Whether `e` means the connection (not the command) failed.
pub fn is_connection_error(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        // After a Sentinel failover the old master answers READONLY: reconnect, which asks
        // Sentinel for the new master.
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
                | redis::ErrorKind::MasterNameNotFoundBySentinel
        )
}

/// What a pub/sub listener does with its channel.
pub trait Subscriber: Send + 'static {
    /// Called after every successful (re)subscription, before any message of that subscription:
    /// the moment to catch up on whatever was missed (messages published while this node was
    /// not subscribed are lost, so the owner must read the durable state).
    fn on_subscribed(&mut self);
    /// One message's payload, in publication order.
    fn on_message(&mut self, payload: &[u8]);
}

/// Listens on `channel` for as long as the current actix/tokio runtime lives, reconnecting with
/// backoff (50 ms doubling to the configured maximum). A subscription is also dropped and made
/// again whenever Redis is found unreachable elsewhere ([`Health::outages`]), so that the
/// listener catches up after an outage its own connection did not notice (a hung Redis, a
/// blackholed link). Must be called inside a tokio runtime.
pub fn subscribe(
    redis: Arc<Redis>,
    channel: String,
    mut subscriber: impl Subscriber,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        let mut outages = redis.health().outages();
        loop {
            match listen(&redis, &channel, &mut subscriber, &mut outages).await {
                Ok(Ended::Closed) => {
                    tracing::warn!(%channel, "redis subscription ended; reconnecting");
                    backoff = Duration::from_millis(50);
                }
                Ok(Ended::Outage) => {
                    tracing::debug!(%channel, "redis found unreachable; subscribing again");
                    backoff = Duration::from_millis(50);
                }
                Err(e) => {
                    redis.health().mark_down(&e);
                    tracing::debug!(%channel, error = %describe(&e), ?backoff, "redis subscription failed");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(redis.max_backoff);
        }
    })
}

/// Why a subscription ended without an error.
enum Ended {
    /// Redis closed the connection.
    Closed,
    /// Redis was found unreachable elsewhere; this connection is not trusted any more.
    Outage,
}

/// One subscription's lifetime: subscribe, catch up, deliver until the connection ends.
async fn listen(
    redis: &Arc<Redis>,
    channel: &str,
    subscriber: &mut impl Subscriber,
    outages: &mut tokio::sync::watch::Receiver<u64>,
) -> redis::RedisResult<Ended> {
    outages.borrow_and_update();
    let lookup = Arc::clone(redis);
    // Asking Sentinel blocks (bounded by the deadline): off the async workers.
    let client = tokio::task::spawn_blocking(move || {
        lookup.client_by(Instant::now() + lookup.connect_timeout.max(lookup.command_timeout))
    })
    .await
    .map_err(|_| timed_out("the Sentinel lookup did not finish"))??;
    let mut pubsub = tokio::time::timeout(redis.connect_timeout, client.get_async_pubsub())
        .await
        .map_err(|_| timed_out("connect timed out"))??;
    tokio::time::timeout(redis.command_timeout, pubsub.subscribe(channel))
        .await
        .map_err(|_| timed_out("subscribe timed out"))??;
    redis.health().mark_up();
    tracing::debug!(%channel, "subscribed");
    subscriber.on_subscribed();
    let mut messages = pubsub.into_on_message();
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(message) => {
                    redis.health().touch();
                    subscriber.on_message(message.get_payload_bytes());
                }
                None => break,
            },
            // The sender lives in `redis`, which this task holds, so this only ever fires on
            // an outage.
            _ = outages.changed() => return Ok(Ended::Outage),
        }
    }
    redis.health().mark_down(&redis::RedisError::from((
        redis::ErrorKind::Io,
        "subscription connection closed",
    )));
    Ok(Ended::Closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> ClusterSettings {
        ClusterSettings {
            redis_url: Some(url.into()),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_plain_tls_and_sentinel_urls() {
        assert!(Redis::open(&settings("redis://127.0.0.1:6379/0")).is_ok());
        assert!(Redis::open(&settings("rediss://127.0.0.1:6380/0")).is_ok());
        assert!(Redis::open(&settings("redis+sentinel://s1:26379,s2:26379/mymaster")).is_ok());
        assert!(Redis::open(&settings("redis+sentinel://:pw@s1:26379/mymaster/2")).is_ok());
        assert!(Redis::open(&settings("rediss+sentinel://s1:26379/mymaster")).is_ok());
    }

    #[test]
    fn tls_files_need_a_tls_url_and_go_together() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pem = dir.path().join("ca.pem");
        std::fs::write(&pem, "not a certificate").expect("write");
        let mut s = settings("redis://127.0.0.1:6379");
        s.tls_ca_file = Some(pem.clone());
        let err = Redis::open(&s).expect_err("plain url").to_string();
        assert!(err.contains("rediss://"), "{err}");

        s.redis_url = Some("rediss://127.0.0.1:6379".into());
        let err = Redis::open(&s).expect_err("no certificate").to_string();
        assert!(err.contains("no PEM certificate"), "{err}");

        s.tls_ca_file = None;
        s.tls_cert_file = Some(pem);
        let err = Redis::open(&s).expect_err("cert without key").to_string();
        assert!(err.contains("together"), "{err}");

        let mut s = settings("redis://127.0.0.1:6379");
        s.sentinel_password = Some("x".into());
        let err = Redis::open(&s).expect_err("not sentinel").to_string();
        assert!(err.contains("sentinel"), "{err}");
    }

    #[test]
    fn the_configured_password_replaces_the_urls() {
        let password_of = |s: &ClusterSettings| match &Redis::open(s).expect("opens").target {
            Target::Direct(c) => c
                .get_connection_info()
                .redis_settings()
                .password()
                .map(str::to_owned),
            Target::Sentinel(t) => t.redis.password().map(str::to_owned),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("redis-password");
        std::fs::write(&file, "from-file\n").expect("write");

        let mut s = settings("redis://:in-url@127.0.0.1:6379/0");
        assert_eq!(password_of(&s).as_deref(), Some("in-url"));
        s.redis_password_file = Some(file.clone());
        assert_eq!(password_of(&s).as_deref(), Some("from-file"));

        let mut s = settings("redis://127.0.0.1:6379/0");
        s.redis_password = Some("from-env".into());
        assert_eq!(password_of(&s).as_deref(), Some("from-env"));

        // Sentinel URLs take it too, for the master; the Sentinels get their own.
        let mut s = settings("redis+sentinel://:in-url@s1:26379/mymaster");
        assert_eq!(password_of(&s).as_deref(), Some("in-url"));
        s.redis_password_file = Some(file);
        s.sentinel_password = Some("sentinel-pw".into());
        assert_eq!(password_of(&s).as_deref(), Some("from-file"));
        match &Redis::open(&s).expect("opens").target {
            Target::Sentinel(t) => assert_eq!(
                t.sentinels[0]
                    .get_connection_info()
                    .redis_settings()
                    .password(),
                Some("sentinel-pw")
            ),
            Target::Direct(_) => panic!("not sentinel"),
        }
        s.redis_password_file = Some(dir.path().join("missing"));
        let err = Redis::open(&s).expect_err("unreadable").to_string();
        assert!(err.contains("redis_password_file"), "{err}");
    }

    #[test]
    fn only_a_connection_after_a_failure_counts_as_a_reconnection() {
        let health = Health::default();
        health.mark_up();
        health.mark_up();
        assert_eq!(health.reconnects(), 0);
        health.mark_down(&redis::RedisError::from((redis::ErrorKind::Io, "gone")));
        assert!(!health.is_up());
        health.mark_up();
        assert_eq!(health.reconnects(), 1);

        // A node whose Redis was down at start reconnects when it comes up.
        let health = Health::default();
        health.mark_down(&redis::RedisError::from((redis::ErrorKind::Io, "gone")));
        health.mark_up();
        assert_eq!(health.reconnects(), 1);
    }

    #[test]
    fn a_timeout_makes_redis_hung_until_it_answers_and_each_outage_is_announced() {
        let health = Health::default();
        let outages = health.outages();
        health.mark_up();
        health.mark_down(&timed_out("no answer"));
        assert!(health.is_hung());
        health.mark_down(&timed_out("no answer"));
        assert_eq!(*outages.borrow(), 1, "one outage, however many failures");
        health.mark_up();
        assert!(!health.is_hung());
        health.mark_down(&redis::RedisError::from((redis::ErrorKind::Io, "refused")));
        assert!(!health.is_hung(), "a refusal is not a hang");
        assert_eq!(*outages.borrow(), 2);
    }

    #[test]
    fn staleness_and_lost_data_follow_what_the_monitor_saw() {
        let health = Health::default();
        let max = Some(Duration::from_secs(30));
        health.refresh_staleness(max);
        assert!(health.is_stale(), "never in contact");
        health.mark_up();
        health.refresh_staleness(max);
        assert!(!health.is_stale());
        health.refresh_staleness(None);
        assert!(!health.is_stale());
        health
            .last_contact_ms
            .store(now_ms() - 31_000, Ordering::Release);
        health.refresh_staleness(max);
        assert!(health.is_stale());
        health.refresh_staleness(None);
        assert!(!health.is_stale(), "off means never stale");

        health.observe_policy_version(Some(7), 7);
        assert_eq!(health.data_lost(), None);
        health.observe_policy_version(None, 7);
        assert!(health.data_lost().is_some_and(|d| d.contains("no policy")));
        health.observe_policy_version(Some(3), 7);
        assert!(health.data_lost().is_some_and(|d| d.contains("version 3")));
        health.mark_started_from_snapshot();
        assert!(!health.is_caught_up());
        health.observe_policy_version(Some(9), 7);
        assert_eq!(health.data_lost(), None);
        assert!(!health.is_caught_up(), "Redis is ahead: not caught up yet");
        health.observe_policy_version(Some(9), 9);
        assert!(health.is_caught_up());
    }

    #[test]
    fn refuses_bad_urls_without_echoing_them() {
        for url in [
            "http://example.com",
            "redis+sentinel://s1:26379",
            "redis+sentinel:///mymaster",
            "redis+sentinel://:secretpw@s1:26379/m/x",
        ] {
            let err = Redis::open(&settings(url)).expect_err(url).to_string();
            assert!(!err.contains("secretpw"), "{err}");
        }
    }
}
