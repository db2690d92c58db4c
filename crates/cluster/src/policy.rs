//! [`RedisPolicyBackend`]: the policy store's [`PolicyBackend`] on Redis, shared by every node,
//! and [`spawn_policy_listener`], which hands the other nodes' changes to this node's store.
//!
//! # Data layout (names from [`Names`])
//! - `{p}:policy:version`: the current version, an integer; absent until the first write.
//! - `{p}:policy:state`: the policy at that version, JSON
//!   `{"version": n, "document": <PolicyDocument>}`.
//! - `{p}:policy:log`: hash, version → JSON `{"version": n, "created_at_us": t, "event": …}`
//!   ([`LoggedEvent`]) for the newest `log_retention` versions.
//! - `{c}:policy`: the channel; every write publishes each of its log entries, the same JSON.
//!
//! A write is one Lua script ([`APPEND_SCRIPT`]): it checks that the version is the one the
//! events were computed on (else it answers "stale" and changes nothing), records the log
//! entries, the state and the version, trims the log, and publishes. Redis runs a script
//! atomically, so version, log and state never disagree, and an event is published exactly when
//! it is recorded.
//!
//! **Invariant:** a node never guesses. Messages apply only as the very next version; anything
//! else (a gap, a reconnection, an undecodable message) makes the store read Redis: the log
//! from its version on, or the whole state when the log no longer reaches back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scopegate_core::{Policy, PolicyDocument, PolicyEvent};
use scopegate_policy_store::{
    CatchUp, LoadError, LoggedEvent, PolicyBackend, PolicyStoreHandle, SaveError,
};
use serde::{Deserialize, Serialize};

use crate::config::Names;
use crate::conn::{self, Redis, Subscriber, SyncConn, WriteError, is_connection_error};
use crate::error::describe;

/// The write script. `KEYS`: version, log, state. `ARGV`: the base version the events were
/// computed on, the log retention, the channel, the new state JSON, then one log entry JSON per
/// event (versions base + 1, base + 2, …). Answers `{1, new version}`, or `{0, stored version}`
/// when the store is not at the base version (nothing written).
///
/// The log is contiguous (only this script writes it), so its oldest entry is
/// `version - HLEN + 1` and trimming deletes exactly the entries that fell out of retention,
/// even after the retention was lowered.
pub const APPEND_SCRIPT: &str = r"
local raw = redis.call('GET', KEYS[1])
local stored = 0
if raw then
  stored = tonumber(raw)
  if stored == nil then
    return redis.error_reply('ERR the policy version key does not hold a number')
  end
end
if stored ~= tonumber(ARGV[1]) then
  return {0, stored}
end
local n = #ARGV - 4
for i = 1, n do
  redis.call('HSET', KEYS[2], stored + i, ARGV[4 + i])
end
local version = stored + n
redis.call('SET', KEYS[1], version)
redis.call('SET', KEYS[3], ARGV[4])
local keep = tonumber(ARGV[2])
local held = redis.call('HLEN', KEYS[2])
for v = version - held + 1, version - keep do
  redis.call('HDEL', KEYS[2], v)
end
for i = 1, n do
  redis.call('PUBLISH', ARGV[3], ARGV[4 + i])
end
return {1, version}
";

/// A node further behind than this many versions reloads the whole state rather than reading
/// the log entry by entry.
const MAX_CATCH_UP_EVENTS: u64 = 10_000;

/// The policy log, state and version counter in Redis; see the module documentation.
pub struct RedisPolicyBackend {
    /// This node's blocking connection, used only from the store's actor thread.
    conn: Conn,
    /// `{p}:policy:version`.
    version_key: String,
    /// `{p}:policy:log`.
    log_key: String,
    /// `{p}:policy:state`.
    state_key: String,
    /// `{c}:policy`.
    channel: String,
    /// How many versions the log keeps (at least 1); a node further behind reloads the state.
    log_retention: u64,
    /// [`APPEND_SCRIPT`], with its SHA-1 computed once (sent as `EVALSHA`, falling back to
    /// `EVAL` after a Redis restart emptied the script cache).
    append: redis::Script,
}

/// The JSON at `{p}:policy:state`.
#[derive(Debug, Serialize, Deserialize)]
struct StoredState {
    /// The version of `document`, equal to `{p}:policy:version`.
    version: u64,
    /// The whole policy.
    document: PolicyDocument,
}

/// `policy` as the JSON Redis keeps at `{p}:policy:state`.
pub(crate) fn state_json(policy: &Policy) -> serde_json::Result<String> {
    serde_json::to_string(&StoredState {
        version: policy.version(),
        document: policy.to_document(),
    })
}

// === impl RedisPolicyBackend ===

impl RedisPolicyBackend {
    /// A backend on `conn` under `names`, keeping the newest `log_retention` events (at least
    /// 1) in the log. Does not connect.
    pub fn new(conn: SyncConn, names: &Names, log_retention: u64) -> Self {
        Self {
            conn: Conn { conn },
            version_key: names.policy_version.clone(),
            log_key: names.policy_log.clone(),
            state_key: names.policy_state.clone(),
            channel: names.policy_channel.clone(),
            log_retention: log_retention.max(1),
            append: redis::Script::new(APPEND_SCRIPT),
        }
    }

    /// The version counter (0 when absent).
    fn stored_version(&mut self) -> Result<u64, LoadError> {
        let raw: Option<String> = self
            .conn
            .read(|c| redis::cmd("GET").arg(&self.version_key).query(c))
            .map_err(|e| self.load_failed(&e))?;
        raw.map_or(Ok(0), |raw| self.parse_version(&raw))
    }

    fn parse_version(&self, raw: &str) -> Result<u64, LoadError> {
        raw.parse().map_err(|_| {
            self.corrupt(
                &self.version_key,
                format!("the version is not a number ({} bytes)", raw.len()),
            )
        })
    }

    /// Decodes the state JSON at `version` into a policy.
    fn decode_state(&self, version: u64, bytes: &[u8]) -> Result<Policy, LoadError> {
        let state: StoredState = serde_json::from_slice(bytes)
            .map_err(|e| self.corrupt(&self.state_key, format!("undecodable JSON ({e})")))?;
        if state.version != version {
            return Err(self.corrupt(
                &self.state_key,
                format!(
                    "it holds version {} but {} says {version}",
                    state.version, self.version_key
                ),
            ));
        }
        Policy::from_document(version, state.document).map_err(|e| {
            self.corrupt(
                &self.state_key,
                format!("version {version} is not a valid policy: {e}"),
            )
        })
    }

    /// The log entries `from + 1 ..= to`, or `None` if any is missing (trimmed).
    fn read_log(&mut self, from: u64, to: u64) -> Result<Option<Vec<LoggedEvent>>, LoadError> {
        let fields: Vec<u64> = (from + 1..=to).collect();
        let raw: Vec<Option<Vec<u8>>> = self
            .conn
            .read(|c| redis::cmd("HMGET").arg(&self.log_key).arg(&fields).query(c))
            .map_err(|e| self.load_failed(&e))?;
        let mut events = Vec::with_capacity(raw.len());
        for (version, bytes) in fields.into_iter().zip(raw) {
            let Some(bytes) = bytes else {
                return Ok(None);
            };
            let entry: LoggedEvent = serde_json::from_slice(&bytes).map_err(|e| {
                self.corrupt(
                    &self.log_key,
                    format!("the entry of version {version} is undecodable ({e})"),
                )
            })?;
            if entry.version != version {
                return Err(self.corrupt(
                    &self.log_key,
                    format!(
                        "the entry filed as version {version} says version {}",
                        entry.version
                    ),
                ));
            }
            events.push(entry);
        }
        Ok(Some(events))
    }

    /// The whole stored policy for [`CatchUp::Full`]; the empty policy if Redis was emptied
    /// (the store then refuses to go back to it).
    fn full(&mut self) -> Result<CatchUp, LoadError> {
        Ok(CatchUp::Full(self.load()?.unwrap_or_default()))
    }

    fn load_failed(&self, e: &redis::RedisError) -> LoadError {
        // In the `load` pipeline the server's error comes wrapped, so its code is only in the
        // text.
        if e.code() == Some("WRONGTYPE") || describe(e).contains("WRONGTYPE") {
            return self.corrupt(
                &format!(
                    "{}, {} or {}",
                    self.version_key, self.state_key, self.log_key
                ),
                "a key holds the wrong kind of value".to_owned(),
            );
        }
        LoadError::Unavailable {
            store: self.describe(),
            reason: describe(e),
        }
    }

    fn corrupt(&self, key: &str, reason: String) -> LoadError {
        LoadError::Corrupt {
            path: format!("redis key {key}").into(),
            reason,
        }
    }
}

impl std::fmt::Debug for RedisPolicyBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPolicyBackend")
            .field("state_key", &self.state_key)
            .field("log_retention", &self.log_retention)
            .finish_non_exhaustive()
    }
}

impl PolicyBackend for RedisPolicyBackend {
    fn load(&mut self) -> Result<Option<Policy>, LoadError> {
        let raw: (Option<String>, Option<Vec<u8>>) = self
            .conn
            .read(|c| {
                redis::pipe()
                    .atomic()
                    .get(&self.version_key)
                    .get(&self.state_key)
                    .query(c)
            })
            .map_err(|e| self.load_failed(&e))?;
        match raw {
            (None, None) => Ok(None),
            (Some(version), Some(state)) => {
                let version = self.parse_version(&version)?;
                self.decode_state(version, &state).map(Some)
            }
            (Some(version), None) => Err(self.corrupt(
                &self.state_key,
                format!("it is missing, but {} says {version}", self.version_key),
            )),
            (None, Some(_)) => Err(self.corrupt(
                &self.version_key,
                format!("it is missing, but {} holds a policy", self.state_key),
            )),
        }
    }

    fn append(&mut self, event: &PolicyEvent, policy: &Policy) -> Result<(), SaveError> {
        self.append_batch(&[(event.clone(), policy.clone())])
    }

    fn append_batch(&mut self, items: &[(PolicyEvent, Policy)]) -> Result<(), SaveError> {
        self.append_batch_at(items, now_us())
    }

    fn append_batch_at(
        &mut self,
        items: &[(PolicyEvent, Policy)],
        created_at_us: u64,
    ) -> Result<(), SaveError> {
        let Some((_, newest)) = items.last() else {
            return Ok(());
        };
        let version = newest.version();
        let store = self.describe();
        let write_error = |reason: String| SaveError::Write {
            store: store.clone(),
            version,
            reason,
        };
        let base = version.saturating_sub(items.len() as u64);
        let mut entries = Vec::with_capacity(items.len());
        for (offset, (event, policy)) in (1..).zip(items) {
            if policy.version() != base + offset {
                return Err(SaveError::OutOfOrder {
                    store: store.clone(),
                    last: base + offset - 1,
                    got: policy.version(),
                });
            }
            let entry = LoggedEvent {
                version: policy.version(),
                created_at_us,
                event: event.clone(),
            };
            entries.push(serde_json::to_string(&entry).map_err(|e| write_error(e.to_string()))?);
        }
        let state = serde_json::to_string(&StoredState {
            version,
            document: newest.to_document(),
        })
        .map_err(|e| write_error(e.to_string()))?;
        let mut invocation = self.append.prepare_invoke();
        invocation
            .key(&self.version_key)
            .key(&self.log_key)
            .key(&self.state_key)
            .arg(base)
            .arg(self.log_retention)
            .arg(&self.channel)
            .arg(state)
            .arg(entries);
        let answer: (u8, u64) =
            self.conn
                .write(|c| invocation.invoke(c))
                .map_err(|WriteError { error, sent }| {
                    let reason = describe(&error);
                    if !is_connection_error(&error) {
                        return write_error(reason);
                    }
                    if sent {
                        // The script went out and no answer came back: Redis may have run it.
                        return SaveError::OutcomeUnknown {
                            store: store.clone(),
                            version,
                            reason,
                        };
                    }
                    SaveError::Unavailable {
                        store: store.clone(),
                        version,
                        reason,
                    }
                })?;
        match answer {
            (1, _) => Ok(()),
            (_, stored) => Err(SaveError::Stale { stored }),
        }
    }

    fn catch_up(&mut self, from: u64) -> Result<CatchUp, LoadError> {
        let stored = self.stored_version()?;
        if stored == from {
            return Ok(CatchUp::Events(Vec::new()));
        }
        if stored < from || stored - from > MAX_CATCH_UP_EVENTS.min(self.log_retention) {
            return self.full();
        }
        match self.read_log(from, stored)? {
            Some(events) => Ok(CatchUp::Events(events)),
            None => self.full(),
        }
    }

    fn request_timeout(&self) -> Option<Duration> {
        Some(self.conn.conn.redis().command_timeout())
    }

    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.conn.conn.set_deadline(deadline);
    }

    fn describe(&self) -> String {
        format!("redis policy store at {}", self.state_key)
    }
}

/// The backend's connection, with when it last answered.
struct Conn {
    /// The blocking connection.
    conn: SyncConn,
}

// === impl Conn ===

impl Conn {
    /// Runs a command that is safe to repeat: once more on a fresh connection if the first
    /// attempt met a dead one (left over from before a Redis restart), but not after a timeout
    /// (Redis is slow, and a second wait would only double the caller's). Both attempts share
    /// the request's deadline.
    fn read<T>(
        &mut self,
        f: impl Fn(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        match self.conn.run(&f) {
            Err(e) if is_connection_error(&e) && !e.is_timeout() => self.conn.run(&f),
            other => other,
        }
    }

    /// Runs a command that must not be repeated ([`SyncConn::write`] checks an idle connection
    /// with a `PING` first, so a write is never sent into a socket left over from before a
    /// Redis restart), telling whether a failed one was sent.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, WriteError> {
        self.conn.write(f)
    }
}

/// Now, in microseconds since the Unix epoch.
fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Listens on `names.policy_channel` and hands every change to `store`: each message as
/// [`PolicyStoreHandle::apply_remote`], and a [`PolicyStoreHandle::catch_up`] after every
/// (re)subscription and every `catch_up_every` (a cheap safety net: one `GET` when nothing was
/// missed). Must be called inside a tokio runtime (the actix `System`'s); runs until the
/// returned task is aborted or the runtime ends, and keeps `store`'s actor alive meanwhile.
pub fn spawn_policy_listener(
    redis: Arc<Redis>,
    names: &Names,
    store: PolicyStoreHandle,
    catch_up_every: Duration,
) -> tokio::task::JoinHandle<()> {
    let subscription = conn::subscribe(
        redis,
        names.policy_channel.clone(),
        PolicyListener {
            store: store.clone(),
        },
    );
    let period = catch_up_every.max(Duration::from_millis(10));
    tokio::spawn(async move {
        // Aborting this task drops the guard, which ends the subscription too.
        let _subscription = AbortOnDrop(subscription);
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            store.catch_up();
        }
    })
}

/// The [`Subscriber`] on the policy channel.
struct PolicyListener {
    /// Where changes go.
    store: PolicyStoreHandle,
}

impl Subscriber for PolicyListener {
    fn on_subscribed(&mut self) {
        self.store.catch_up();
    }

    fn on_message(&mut self, payload: &[u8]) {
        match serde_json::from_slice::<LoggedEvent>(payload) {
            Ok(entry) => self.store.apply_remote(entry),
            Err(e) => {
                // The payload and serde's message (which may quote it) are not logged: events
                // carry password hashes.
                tracing::warn!(
                    category = ?e.classify(),
                    column = e.column(),
                    bytes = payload.len(),
                    "undecodable policy change message; catching up from the store instead"
                );
                self.store.catch_up();
            }
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
