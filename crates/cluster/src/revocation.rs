//! [`RedisRevocationStore`]: the scope validator's [`RevocationStore`] on Redis, and
//! [`spawn_revocation_listener`], which hands the other nodes' revocations to this node's
//! validator, so that a revocation made on any node is in force on all of them within
//! milliseconds.
//!
//! # Data layout (names from [`Names`])
//! - `{p}:revoked:jti`: sorted set, member `jti`, score the token's `exp` (seconds). A second
//!   revocation of a `jti` keeps the later `exp` (`ZADD GT`).
//! - `{p}:revoked:sub`: hash, field = subject, value = JSON
//!   [`SubjectRevocation`] `{"before": …, "keep_until": …}`; a second revocation keeps the later
//!   of each.
//! - `{c}:revocations`: the channel; every write publishes its [`RevocationEvent`]
//!   (`{"type":"token","jti":…,"exp":…}` or
//!   `{"type":"subject","subject":…,"before":…,"keep_until":…}`).
//!
//! Each write and its publication are one Lua script, so an event is announced exactly when it
//! is recorded. Pub/sub is fire-and-forget: a node that was not subscribed (Redis restarted,
//! network cut) misses events, so the listener reloads the whole list after every
//! (re)subscription and after any message it cannot decode. Revocations only ever grow until
//! they expire, so merging the reload into the snapshot is exact.

use std::sync::Arc;

use redis::Script;
use scopegate_scope_validator::{
    RevocationEvent, RevocationStore, Revocations, ScopeValidator, StoreError, SubjectRevocation,
};

use crate::config::Names;
use crate::conn::{self, Redis, Subscriber, SyncConn, is_connection_error};
use crate::error::describe;
use crate::snapshot::{SnapshotWriter, revocations_of, union};

/// Revokes a token. `KEYS`: the sorted set. `ARGV`: `exp`, `jti`, the channel, the event JSON.
pub const INSERT_TOKEN_SCRIPT: &str = r"
redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
";

/// Revokes a subject, keeping the later `before` and `keep_until` of what is stored and what
/// is new. `KEYS`: the hash. `ARGV`: subject, `before`, `keep_until`, the channel, the event
/// JSON. A stored value that is not the expected JSON is replaced.
pub const INSERT_SUBJECT_SCRIPT: &str = r#"
local before, keep_until = tonumber(ARGV[2]), tonumber(ARGV[3])
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ok, stored = pcall(cjson.decode, old)
  if ok and type(stored) == 'table' then
    local b, k = tonumber(stored.before), tonumber(stored.keep_until)
    if b and b > before then before = b end
    if k and k > keep_until then keep_until = k end
  end
end
redis.call('HSET', KEYS[1], ARGV[1],
  string.format('{"before":%d,"keep_until":%d}', before, keep_until))
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"#;

/// Deletes token revocations with `exp < now` and subject revocations with
/// `keep_until < now`. `KEYS`: the sorted set, the hash. `ARGV`: `now`. Answers how many went.
pub const PRUNE_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local ok, stored = pcall(cjson.decode, all[i + 1])
  if ok and type(stored) == 'table' then
    local k = tonumber(stored.keep_until)
    if k and k < now then
      redis.call('HDEL', KEYS[2], all[i])
      removed = removed + 1
    end
  end
end
return removed
";

/// What [`RevocationStore::load`] reads in one round trip: the sorted set's (`jti`, `exp`)
/// pairs and the subject hash's (subject, JSON) pairs.
type RawRevocations = (Vec<(String, u64)>, Vec<(String, String)>);

/// Revocations in Redis; see the module documentation for the layout.
pub struct RedisRevocationStore {
    /// This node's blocking connection, used only from the validator's actor thread.
    conn: SyncConn,
    /// `{p}:revoked:jti`.
    tokens_key: String,
    /// `{p}:revoked:sub`.
    subjects_key: String,
    /// `{c}:revocations`.
    channel: String,
    /// [`INSERT_TOKEN_SCRIPT`], its SHA-1 computed once (`EVALSHA`, falling back to `EVAL`
    /// after a Redis restart emptied the script cache).
    insert_token: Script,
    /// [`INSERT_SUBJECT_SCRIPT`].
    insert_subject: Script,
    /// [`PRUNE_SCRIPT`].
    prune: Script,
    /// The node's local snapshot: every revocation this store writes or reads goes there too,
    /// and the first load falls back to it while Redis is unreachable.
    snapshot: Option<SnapshotWriter>,
    /// Whether a load has succeeded or fallen back already (only the first may fall back).
    loaded: bool,
}

impl std::fmt::Debug for RedisRevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRevocationStore")
            .field("tokens_key", &self.tokens_key)
            .field("subjects_key", &self.subjects_key)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

// === impl RedisRevocationStore ===

impl RedisRevocationStore {
    /// A store on `conn` under `names`, publishing on `names.revocation_channel`. Does not
    /// connect.
    pub fn new(conn: SyncConn, names: &Names) -> Self {
        Self {
            conn,
            tokens_key: names.revoked_jti.clone(),
            subjects_key: names.revoked_subjects.clone(),
            channel: names.revocation_channel.clone(),
            insert_token: Script::new(INSERT_TOKEN_SCRIPT),
            insert_subject: Script::new(INSERT_SUBJECT_SCRIPT),
            prune: Script::new(PRUNE_SCRIPT),
            snapshot: None,
            loaded: false,
        }
    }

    /// Keeps the node's local snapshot through `writer`: every revocation recorded or read
    /// here is merged into it; a load returns Redis's list together with the snapshot's (the
    /// list only grows, so a Redis that lost its data does not make the node forget), and the
    /// first load, at start, returns the snapshot's alone while Redis cannot be reached.
    pub fn with_snapshot(mut self, writer: SnapshotWriter) -> Self {
        self.snapshot = Some(writer);
        self
    }

    /// The snapshot's revocations still needed at `now`.
    fn local(&self, now: u64) -> Option<Revocations> {
        let writer = self.snapshot.as_ref()?;
        match writer.snapshot().load_revocations() {
            Ok(mut r) => {
                r.tokens.retain(|(_, exp)| *exp >= now);
                r.subjects.retain(|(_, s)| s.keep_until >= now);
                Some(r)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the local revocation snapshot is unreadable");
                None
            }
        }
    }

    /// Hands a recorded revocation to the snapshot.
    fn remember(&self, event: &RevocationEvent) {
        if let Some(writer) = &self.snapshot {
            writer.revocations(revocations_of(event));
        }
    }

    /// Decodes one field of the subjects hash.
    fn decode_subject(&self, subject: &str, json: &str) -> Result<SubjectRevocation, StoreError> {
        serde_json::from_str(json).map_err(|e| {
            StoreError::Database(format!(
                "redis holds a corrupt subject revocation at {} {subject:?}: {e}",
                self.subjects_key
            ))
        })
    }
}

impl RevocationStore for RedisRevocationStore {
    fn load(&mut self, now: u64) -> Result<Revocations, StoreError> {
        let first = !std::mem::replace(&mut self.loaded, true);
        match self.load_redis(now) {
            Ok(loaded) => {
                let Some(writer) = &self.snapshot else {
                    return Ok(loaded);
                };
                writer.revocations(loaded.clone());
                Ok(match self.local(now) {
                    Some(local) => union(loaded, local),
                    None => loaded,
                })
            }
            Err(StoreError::Unavailable(reason)) if first => match self.local(now) {
                Some(local) => {
                    tracing::warn!(
                        %reason,
                        revoked = local.tokens.len() + local.subjects.len(),
                        "redis cannot be reached: starting from the local revocation snapshot"
                    );
                    Ok(local)
                }
                None => Err(StoreError::Unavailable(reason)),
            },
            Err(e) => Err(e),
        }
    }

    fn insert(&mut self, jti: &str, exp: u64) -> Result<(), StoreError> {
        let event = RevocationEvent::Token {
            jti: jti.to_owned(),
            exp,
        };
        self.insert_token(&event, jti, exp)?;
        self.remember(&event);
        Ok(())
    }

    fn insert_subject(
        &mut self,
        subject: &str,
        before: u64,
        keep_until: u64,
    ) -> Result<(), StoreError> {
        let event = RevocationEvent::Subject {
            subject: subject.to_owned(),
            before,
            keep_until,
        };
        self.insert_subject_redis(&event, subject, before, keep_until)?;
        self.remember(&event);
        Ok(())
    }

    fn prune(&mut self, now: u64) -> Result<usize, StoreError> {
        let (script, tokens_key, subjects_key) =
            (&self.prune, &self.tokens_key, &self.subjects_key);
        let removed: u64 = self
            .conn
            .run(|c| script.key(tokens_key).key(subjects_key).arg(now).invoke(c))
            .map_err(|e| store_error(&e))?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }
}

// The Redis side of each operation.
impl RedisRevocationStore {
    fn load_redis(&mut self, now: u64) -> Result<Revocations, StoreError> {
        let (tokens_key, subjects_key) = (&self.tokens_key, &self.subjects_key);
        let (tokens, subjects): RawRevocations = self
            .conn
            .run(|c| {
                redis::pipe()
                    .atomic()
                    .cmd("ZRANGE")
                    .arg(tokens_key)
                    .arg(now)
                    .arg("+inf")
                    .arg("BYSCORE")
                    .arg("WITHSCORES")
                    .cmd("HGETALL")
                    .arg(subjects_key)
                    .query(c)
            })
            .map_err(|e| store_error(&e))?;
        let mut loaded = Revocations {
            tokens,
            subjects: Vec::with_capacity(subjects.len()),
        };
        for (subject, json) in subjects {
            let revocation = self.decode_subject(&subject, &json)?;
            if revocation.keep_until >= now {
                loaded.subjects.push((subject, revocation));
            }
        }
        Ok(loaded)
    }

    fn insert_token(
        &mut self,
        event: &RevocationEvent,
        jti: &str,
        exp: u64,
    ) -> Result<(), StoreError> {
        let event = encode(event)?;
        let (script, key, channel) = (&self.insert_token, &self.tokens_key, &self.channel);
        let _: i64 = self
            .conn
            .run(|c| {
                script
                    .key(key)
                    .arg(exp)
                    .arg(jti)
                    .arg(channel)
                    .arg(&event)
                    .invoke(c)
            })
            .map_err(|e| store_error(&e))?;
        Ok(())
    }

    fn insert_subject_redis(
        &mut self,
        event: &RevocationEvent,
        subject: &str,
        before: u64,
        keep_until: u64,
    ) -> Result<(), StoreError> {
        let event = encode(event)?;
        let (script, key, channel) = (&self.insert_subject, &self.subjects_key, &self.channel);
        let _: i64 = self
            .conn
            .run(|c| {
                script
                    .key(key)
                    .arg(subject)
                    .arg(before)
                    .arg(keep_until)
                    .arg(channel)
                    .arg(&event)
                    .invoke(c)
            })
            .map_err(|e| store_error(&e))?;
        Ok(())
    }
}

fn encode(event: &RevocationEvent) -> Result<String, StoreError> {
    serde_json::to_string(event).map_err(|e| StoreError::Database(e.to_string()))
}

/// A Redis failure as the validator's error: unreachable, or otherwise failed. The text never
/// holds the URL.
fn store_error(e: &redis::RedisError) -> StoreError {
    if is_connection_error(e) {
        StoreError::Unavailable(describe(e))
    } else {
        StoreError::Database(format!("redis: {}", describe(e)))
    }
}

/// Listens on `names.revocation_channel` and hands every other node's revocation to
/// `validator` ([`ScopeValidator::apply_remote`]) and to the node's local snapshot (`snapshot`,
/// if it keeps one); after every (re)subscription, and after a message it cannot decode, it
/// asks the validator to reload the list ([`ScopeValidator::resync`]). Must be called inside a
/// tokio (actix) runtime; runs for as long as it lives, or until the handle is aborted. The
/// task keeps a clone of `validator`.
pub fn spawn_revocation_listener(
    redis: Arc<Redis>,
    names: &Names,
    validator: ScopeValidator,
    snapshot: Option<SnapshotWriter>,
) -> tokio::task::JoinHandle<()> {
    conn::subscribe(
        redis,
        names.revocation_channel.clone(),
        RevocationListener {
            validator,
            snapshot,
        },
    )
}

/// The [`Subscriber`] of the revocation channel.
struct RevocationListener {
    /// Where events go; every call is a non-blocking send to its actor.
    validator: ScopeValidator,
    /// The local snapshot, told every event too (a non-blocking send to its thread).
    snapshot: Option<SnapshotWriter>,
}

// === impl RevocationListener ===

impl Subscriber for RevocationListener {
    fn on_subscribed(&mut self) {
        // Whatever was published while this node was not subscribed is only in the store.
        self.validator.resync();
    }

    fn on_message(&mut self, payload: &[u8]) {
        match serde_json::from_slice::<RevocationEvent>(payload) {
            Ok(event) => {
                if let Some(snapshot) = &self.snapshot {
                    snapshot.revocations(revocations_of(&event));
                }
                self.validator.apply_remote(event);
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    bytes = payload.len(),
                    "undecodable revocation event; reloading the revocation list"
                );
                self.validator.resync();
            }
        }
    }
}
