//! [`Redis`]: how this node reaches Redis (a plain URL or Sentinel), [`SyncConn`] for the
//! actors that write from their own threads, [`subscribe`] for the pub/sub listeners, and
//! [`Health`], the shared view of whether Redis is reachable.
//!
//! Writes go through blocking connections on the owning actor's thread (the stores are
//! `SyncArbiter` actors, as the embedded stores are, so a write is one call with a timeout).
//! Listening is async: one task per channel on the actix/tokio runtime, reconnecting with
//! backoff and calling the handler's `on_subscribed` after every (re)subscription so that the
//! owner catches up on what it missed while disconnected.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use redis::ConnectionLike as _;
use redis::sentinel::{SentinelClient, SentinelServerType};

use crate::config::ClusterSettings;
use crate::error::{ClusterError, describe};

/// How to reach the Redis master.
enum Target {
    /// A single Redis (or a proxy in front of one).
    Direct(redis::Client),
    /// Ask Sentinel for the current master on every (re)connect.
    Sentinel(Mutex<SentinelClient>),
}

/// A handle on the configured Redis, shared by every store and listener of the node.
pub struct Redis {
    /// Where the master is.
    target: Target,
    /// Connect timeout.
    connect_timeout: Duration,
    /// Per-command timeout.
    command_timeout: Duration,
    /// Longest backoff between reconnection attempts.
    max_backoff: Duration,
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
    /// Parses `settings.redis_url` (see [`ClusterSettings::redis_url`]). Does not connect.
    pub fn open(settings: &ClusterSettings) -> Result<Arc<Self>, ClusterError> {
        let url = settings
            .redis_url
            .as_deref()
            .ok_or_else(|| ClusterError::Config("cluster.redis_url is not set".into()))?;
        let password = settings.redis_password()?;
        let target = if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            Target::Sentinel(Mutex::new(sentinel_client(rest, password.as_deref())?))
        } else {
            let bad = |e: redis::RedisError| {
                ClusterError::Config(format!(
                    "cluster.redis_url is not a Redis URL ({})",
                    e.kind_str()
                ))
            };
            let mut info = redis::IntoConnectionInfo::into_connection_info(url).map_err(bad)?;
            if let Some(password) = &password {
                let redis = info.redis_settings().clone().set_password(password);
                info = info.set_redis_settings(redis);
            }
            Target::Direct(redis::Client::open(info).map_err(bad)?)
        };
        Ok(Arc::new(Self {
            target,
            connect_timeout: settings.connect_timeout(),
            command_timeout: settings.command_timeout(),
            max_backoff: Duration::from_millis(settings.reconnect_max_backoff_ms.max(50)),
            health: Arc::new(Health::default()),
        }))
    }

    /// The shared reachability state.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// A client for the current master (Sentinel is asked each time).
    pub fn client(&self) -> redis::RedisResult<redis::Client> {
        match &self.target {
            Target::Direct(c) => Ok(c.clone()),
            Target::Sentinel(s) => s
                .lock()
                .map_err(|_| {
                    redis::RedisError::from((redis::ErrorKind::Client, "sentinel lock poisoned"))
                })?
                .get_client(),
        }
    }

    /// A new blocking connection with the configured timeouts.
    pub fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let conn = self
            .client()?
            .get_connection_with_timeout(self.connect_timeout)?;
        conn.set_read_timeout(Some(self.command_timeout))?;
        conn.set_write_timeout(Some(self.command_timeout))?;
        Ok(conn)
    }
}

/// Builds a Sentinel client from `h1:p1,h2:p2/master[/db]` with optional `user:password@`.
/// `password` (from `cluster.redis_password[_file]`) replaces the URL's password for the
/// connections to the master; the Sentinels themselves are asked without one.
fn sentinel_client(rest: &str, password: Option<&str>) -> Result<SentinelClient, ClusterError> {
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
    let sentinels: Vec<String> = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| format!("redis://{h}"))
        .collect();
    if sentinels.is_empty() {
        return Err(bad("no sentinel address"));
    }
    let mut builder = redis::sentinel::SentinelClientBuilder::new(
        sentinels
            .iter()
            .map(|s| {
                redis::IntoConnectionInfo::into_connection_info(s.as_str())
                    .map(|i| i.addr().clone())
                    .map_err(|_| bad("a sentinel address is not host:port"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        master,
        SentinelServerType::Master,
    )
    .map_err(|e| bad(&describe(&e)))?
    .set_client_to_redis_db(db);
    if let Some(auth) = auth {
        let (user, password) = auth.split_once(':').unwrap_or(("", auth));
        if !user.is_empty() {
            builder = builder.set_client_to_redis_username(user);
        }
        if !password.is_empty() {
            builder = builder.set_client_to_redis_password(password);
        }
    }
    if let Some(password) = password {
        builder = builder.set_client_to_redis_password(password);
    }
    builder.build().map_err(|e| bad(&describe(&e)))
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}

/// Whether Redis is reachable, as last observed by any connection of this node.
#[derive(Debug, Default)]
pub struct Health {
    /// The last command or subscription succeeded.
    up: AtomicBool,
    /// A failure was recorded at some point, so the next success is a reconnection (the first
    /// connection of a node is not one).
    failed: AtomicBool,
    /// Successful reconnections after a failure.
    reconnects: AtomicU64,
    /// The last failure, for `/readyz`; never holds a password.
    last_error: Mutex<Option<String>>,
}

// === impl Health ===

impl Health {
    /// Whether Redis answered the last time it was asked.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// How many times a connection was re-established after a failure.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// The last failure's description.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Records a success.
    pub fn mark_up(&self) {
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
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(error = %text, "redis unreachable; serving from the last snapshots");
        }
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(text);
        }
    }
}

/// A blocking connection owned by one thread (an actor's), opened lazily and dropped on any
/// connection-level failure so that the next call reconnects.
pub struct SyncConn {
    /// Where to connect.
    redis: Arc<Redis>,
    /// The open connection, if any, and when it was last used.
    conn: Option<(redis::Connection, Instant)>,
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
        Self { redis, conn: None }
    }

    /// The shared Redis handle.
    pub fn redis(&self) -> &Arc<Redis> {
        &self.redis
    }

    /// Runs `f` on the connection (opening it first if needed). Any error that is not a plain
    /// command error (a script's refusal, a wrong type) closes the connection and marks Redis
    /// down; the caller gets the error either way. Never retries: a write that timed out may or
    /// may not have been applied, and only the caller knows how to find out.
    pub fn run<T>(
        &mut self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let health = Arc::clone(self.redis.health());
        // A connection idle for a while may have died with a Redis restart without our
        // noticing; a PING first (cheap, and only after idleness) finds out before a write is
        // sent into a dead socket, so the write itself is never the probe.
        if let Some((conn, used)) = self.conn.as_mut()
            && used.elapsed() > IDLE_CHECK
            && !conn.check_connection()
        {
            self.conn = None;
        }
        let conn = match self.conn.as_mut() {
            Some((c, _)) => c,
            None => match self.redis.connect() {
                Ok(c) => &mut self.conn.insert((c, Instant::now())).0,
                Err(e) => {
                    health.mark_down(&e);
                    return Err(e);
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
        result
    }
}

/// How long a connection may sit unused before [`SyncConn::run`] checks it with a PING.
const IDLE_CHECK: Duration = Duration::from_secs(1);

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
/// backoff (50 ms doubling to the configured maximum). Must be called inside a tokio runtime.
pub fn subscribe(
    redis: Arc<Redis>,
    channel: String,
    mut subscriber: impl Subscriber,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        loop {
            match listen(&redis, &channel, &mut subscriber).await {
                Ok(()) => {
                    tracing::warn!(%channel, "redis subscription ended; reconnecting");
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

/// One subscription's lifetime: subscribe, catch up, deliver until the connection ends.
async fn listen(
    redis: &Redis,
    channel: &str,
    subscriber: &mut impl Subscriber,
) -> redis::RedisResult<()> {
    let client = redis.client()?;
    let mut pubsub = tokio::time::timeout(redis.connect_timeout, client.get_async_pubsub())
        .await
        .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))??;
    pubsub.subscribe(channel).await?;
    redis.health().mark_up();
    tracing::debug!(%channel, "subscribed");
    subscriber.on_subscribed();
    let mut messages = pubsub.into_on_message();
    while let Some(msg) = messages.next().await {
        subscriber.on_message(msg.get_payload_bytes());
    }
    redis.health().mark_down(&redis::RedisError::from((
        redis::ErrorKind::Io,
        "subscription connection closed",
    )));
    Ok(())
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
    fn accepts_plain_and_sentinel_urls() {
        assert!(Redis::open(&settings("redis://127.0.0.1:6379/0")).is_ok());
        assert!(Redis::open(&settings("redis+sentinel://s1:26379,s2:26379/mymaster")).is_ok());
        assert!(Redis::open(&settings("redis+sentinel://:pw@s1:26379/mymaster/2")).is_ok());
    }

    #[test]
    fn the_configured_password_replaces_the_urls() {
        let password_of = |s: &ClusterSettings| match &Redis::open(s).expect("opens").target {
            Target::Direct(c) => c
                .get_connection_info()
                .redis_settings()
                .password()
                .map(str::to_owned),
            Target::Sentinel(_) => panic!("not direct"),
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

        // Sentinel URLs take it too; a file that cannot be read refuses to open.
        let mut s = settings("redis+sentinel://s1:26379/mymaster");
        s.redis_password_file = Some(file);
        assert!(Redis::open(&s).is_ok());
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
