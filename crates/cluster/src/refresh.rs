//! [`RedisRefreshStore`]: the token issuer's [`RefreshStore`] on Redis, shared by every node, so
//! a refresh token issued by one node can be rotated or revoked on any other.
//!
//! # Data layout (names from [`Names`])
//! - `{p}:refresh:{hex}`: string, the JSON [`RefreshRecord`] of the token whose SHA-256 is
//!   `{hex}` (the token itself is never stored). Expires at the record's `expires_at`
//!   (`EXAT`), so Redis prunes and [`RefreshStore::prune_expired`] has nothing to do.
//! - `{p}:refresh-family:{family}`: set of the family's token hashes (hex), to revoke a family
//!   without a scan. Expires with its longest-lived member.
//! - `{p}:refresh-subject:{subject}`: set of the subject's family ids, to revoke everything of
//!   a user. Expires with its longest-lived family.
//!
//! A set may name a token or family that has already expired; deleting what is gone is a
//! no-op, so that costs nothing but a few bytes until the set expires too.
//!
//! # Atomicity across nodes
//! Every write is one Lua script, which Redis runs atomically: a token, its family set and its
//! subject set never disagree, and a family is deleted as a whole (no member added by a
//! concurrent rotation can slip between reading the set and deleting its members).
//!
//! A rotation reads the record, checks it and runs the caller's `decide` in Rust, then runs
//! [`ROTATE_SCRIPT`]: a compare-and-set that marks the token rotated and stores the
//! replacement only if the record is still byte for byte the one that was read. If another
//! node got there first, the rotation reads again and now finds the token rotated (a reuse:
//! the family is revoked) or gone (unknown). So of two nodes rotating one token at the same
//! time, exactly one succeeds and the other is a reuse, as on a single node.
//!
//! The scripts touch keys named by set members, not only those passed in `KEYS`: fine on a
//! single Redis or a Sentinel-managed master (what [`crate::conn`] reaches), not on Redis
//! Cluster.

use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use redis::Script;
use scopegate_token_issuer::{
    Decide, RefreshRecord, RefreshStore, Revocation, Rotate, RotateOutcome, StoreError, TokenHash,
};

use crate::config::Names;
use crate::conn::{SyncConn, is_connection_error};
use crate::error::describe;

/// Lua helper shared by the scripts: `extend(key, at)` makes `key` expire at `at` unless it
/// already expires later (a set lives as long as its longest-lived member); `put(...)` stores
/// one record with its family and subject entries.
const HELPERS: &str = r"
local function extend(key, at)
  local current = redis.call('EXPIRETIME', key)
  if current == -1 or current < tonumber(at) then
    redis.call('EXPIREAT', key, at)
  end
end
local function put(token_key, family_key, subject_key, json, expires_at, hash, family)
  redis.call('SET', token_key, json, 'EXAT', expires_at)
  redis.call('SADD', family_key, hash)
  extend(family_key, expires_at)
  redis.call('SADD', subject_key, family)
  extend(subject_key, expires_at)
end
";

/// Stores a new token. `KEYS`: token, family set, subject set. `ARGV`: record JSON,
/// `expires_at`, token hash (hex), family id.
pub const INSERT_SCRIPT: &str = r"
put(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
";

/// The compare-and-set of a rotation. `KEYS`: presented token, replacement token, family set,
/// subject set. `ARGV`: the presented record's JSON as read, the same marked rotated, the
/// replacement's JSON, its `expires_at`, its hash (hex), the family id. Answers 1 when done,
/// 0 when the presented record is no longer the one read (nothing written).
pub const ROTATE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
put(KEYS[2], KEYS[3], KEYS[4], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return 1
";

/// Deletes a family. `KEYS`: family set, subject set. `ARGV`: the token key prefix, the family
/// id. Answers how many tokens the set named.
pub const DELETE_FAMILY_SCRIPT: &str = r"
local members = redis.call('SMEMBERS', KEYS[1])
for _, hash in ipairs(members) do
  redis.call('DEL', ARGV[1] .. hash)
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return #members
";

/// Deletes every family of a subject. `KEYS`: subject set. `ARGV`: the token key prefix, the
/// family key prefix. Answers how many families still existed.
pub const DELETE_SUBJECT_SCRIPT: &str = r"
local families = redis.call('SMEMBERS', KEYS[1])
local revoked = 0
for _, family in ipairs(families) do
  local family_key = ARGV[2] .. family
  for _, hash in ipairs(redis.call('SMEMBERS', family_key)) do
    redis.call('DEL', ARGV[1] .. hash)
  end
  revoked = revoked + redis.call('DEL', family_key)
end
redis.call('DEL', KEYS[1])
return revoked
";

/// How many times a rotation re-reads a record that another node changed under it. The second
/// read already sees the other node's write (rotated or deleted), so more than two means
/// something rewrites the record in a loop.
const MAX_ROTATE_ATTEMPTS: usize = 5;

/// Refresh tokens in Redis; see the module documentation for the layout.
pub struct RedisRefreshStore {
    /// This node's blocking connection, used from the token issuer's actor thread. Behind a
    /// mutex only because [`RefreshStore::get`] takes `&self`; there is never contention.
    conn: Mutex<SyncConn>,
    /// `{p}:refresh:`.
    token_prefix: String,
    /// `{p}:refresh-family:`.
    family_prefix: String,
    /// `{p}:refresh-subject:`.
    subject_prefix: String,
    /// [`INSERT_SCRIPT`] (with the helpers), its SHA-1 computed once.
    insert: Script,
    /// [`ROTATE_SCRIPT`] (with the helpers).
    rotate: Script,
    /// [`DELETE_FAMILY_SCRIPT`].
    delete_family: Script,
    /// [`DELETE_SUBJECT_SCRIPT`].
    delete_subject: Script,
}

impl std::fmt::Debug for RedisRefreshStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRefreshStore")
            .field("token_prefix", &self.token_prefix)
            .finish_non_exhaustive()
    }
}

// === impl RedisRefreshStore ===

impl RedisRefreshStore {
    /// A store on `conn` under `names`. Does not connect.
    pub fn new(conn: SyncConn, names: &Names) -> Self {
        Self {
            conn: Mutex::new(conn),
            token_prefix: names.refresh_prefix.clone(),
            family_prefix: names.refresh_family_prefix.clone(),
            subject_prefix: names.refresh_subject_prefix.clone(),
            insert: Script::new(&format!("{HELPERS}{INSERT_SCRIPT}")),
            rotate: Script::new(&format!("{HELPERS}{ROTATE_SCRIPT}")),
            delete_family: Script::new(DELETE_FAMILY_SCRIPT),
            delete_subject: Script::new(DELETE_SUBJECT_SCRIPT),
        }
    }

    /// `{p}:refresh:{hex}`.
    pub fn token_key(&self, hash: &TokenHash) -> String {
        let mut key = String::with_capacity(self.token_prefix.len() + 64);
        key.push_str(&self.token_prefix);
        key.push_str(&hex(hash));
        key
    }

    /// `{p}:refresh-family:{family}`.
    pub fn family_key(&self, family: &str) -> String {
        format!("{}{family}", self.family_prefix)
    }

    /// `{p}:refresh-subject:{subject}`.
    pub fn subject_key(&self, subject: &str) -> String {
        format!("{}{subject}", self.subject_prefix)
    }

    /// [`RefreshStore::rotate`], its calls sharing the deadline already set.
    fn rotate_within_deadline(
        &mut self,
        rotate: Rotate<'_>,
        decide: Decide<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        for _ in 0..MAX_ROTATE_ATTEMPTS {
            let Some(raw) = self.read(rotate.presented)? else {
                return Ok(RotateOutcome::Unknown);
            };
            let record = decode(&raw)?;
            if record.rotated {
                self.delete_family(&record)?;
                return Ok(RotateOutcome::Reused {
                    family: record.family,
                });
            }
            if record.client_id != rotate.client_id {
                return Ok(RotateOutcome::WrongClient);
            }
            if record.expires_at <= rotate.now {
                return Ok(RotateOutcome::Expired);
            }
            let scopes = match decide(&record) {
                Ok(scopes) => scopes,
                Err(e) => return Ok(RotateOutcome::Refused(e)),
            };
            let marked = encode(&RefreshRecord {
                rotated: true,
                ..record.clone()
            })?;
            let successor = record.successor(rotate.now, rotate.expires_at);
            let replacement = encode(&successor)?;
            let keys = [
                self.token_key(rotate.presented),
                self.token_key(rotate.replacement),
                self.family_key(&record.family),
                self.subject_key(&record.subject),
            ];
            let script = &self.rotate;
            let swapped: i64 = self.run(|c| {
                script
                    .key(&keys[..])
                    .arg(&raw)
                    .arg(&marked)
                    .arg(&replacement)
                    .arg(successor.expires_at)
                    .arg(hex(rotate.replacement))
                    .arg(&record.family)
                    .invoke(c)
            })?;
            if swapped == 1 {
                return Ok(RotateOutcome::Rotated { record, scopes });
            }
            // Another node rotated or revoked it between the read and the write: read again.
            tracing::debug!(token = ?rotate.presented, "refresh token changed during rotation; retrying");
        }
        Err(StoreError::Database(
            "the refresh token kept changing during its rotation".to_owned(),
        ))
    }

    /// Starts (`true`) or ends one deadline, a command timeout from now, for every call until
    /// it ends.
    fn set_deadline(&self, on: bool) {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let deadline = on.then(|| Instant::now() + conn.redis().command_timeout());
        conn.set_deadline(deadline);
    }

    /// Runs `f` on the connection; any failure becomes a [`StoreError`].
    fn run<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        conn.run(f).map_err(|e| store_error(&e))
    }

    /// The stored JSON of a token, as Redis holds it.
    fn read(&self, hash: &TokenHash) -> Result<Option<String>, StoreError> {
        let key = self.token_key(hash);
        self.run(|c| redis::cmd("GET").arg(&key).query(c))
    }

    /// Deletes `record`'s whole family (and its entry in the subject set).
    fn delete_family(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        let (family, subject) = (
            self.family_key(&record.family),
            self.subject_key(&record.subject),
        );
        let script = &self.delete_family;
        let _tokens: i64 = self.run(|c| {
            script
                .key(&family)
                .key(&subject)
                .arg(&self.token_prefix)
                .arg(&record.family)
                .invoke(c)
        })?;
        Ok(())
    }
}

impl RefreshStore for RedisRefreshStore {
    fn insert(&mut self, hash: &TokenHash, record: &RefreshRecord) -> Result<(), StoreError> {
        let json = encode(record)?;
        let keys = [
            self.token_key(hash),
            self.family_key(&record.family),
            self.subject_key(&record.subject),
        ];
        let script = &self.insert;
        let _: i64 = self.run(|c| {
            script
                .key(&keys[..])
                .arg(&json)
                .arg(record.expires_at)
                .arg(hex(hash))
                .arg(&record.family)
                .invoke(c)
        })?;
        Ok(())
    }

    fn rotate(
        &mut self,
        rotate: Rotate<'_>,
        decide: Decide<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        // A rotation reads, writes, and reads and writes again when another node got there
        // first: all of it within one command timeout.
        self.set_deadline(true);
        let outcome = self.rotate_within_deadline(rotate, decide);
        self.set_deadline(false);
        outcome
    }

    fn get(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, StoreError> {
        self.read(hash)?.map(|raw| decode(&raw)).transpose()
    }

    fn revoke_family(
        &mut self,
        hash: &TokenHash,
        client_id: &str,
    ) -> Result<Revocation, StoreError> {
        let Some(record) = self.get(hash)? else {
            return Ok(Revocation::Unknown);
        };
        if record.client_id != client_id {
            return Ok(Revocation::OtherClient);
        }
        self.delete_family(&record)?;
        Ok(Revocation::Revoked {
            family: record.family,
        })
    }

    fn revoke_subject(&mut self, subject: &str) -> Result<usize, StoreError> {
        let key = self.subject_key(subject);
        let script = &self.delete_subject;
        let families: u64 = self.run(|c| {
            script
                .key(&key)
                .arg(&self.token_prefix)
                .arg(&self.family_prefix)
                .invoke(c)
        })?;
        Ok(usize::try_from(families).unwrap_or(usize::MAX))
    }

    /// Redis deletes expired tokens by itself (each record expires at its `expires_at`, each
    /// set with its longest-lived member): nothing to do.
    fn prune_expired(&mut self, _now: u64) -> Result<usize, StoreError> {
        Ok(0)
    }
}

/// Lowercase hex of a token hash, the form it takes in keys and sets.
fn hex(hash: &TokenHash) -> String {
    let mut out = String::with_capacity(64);
    for byte in hash.0 {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn encode(record: &RefreshRecord) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode(raw: &str) -> Result<RefreshRecord, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("refresh record: {e}")))
}

/// A Redis failure as the token issuer's error: unreachable (503 to the client) or otherwise
/// failed (500). The text never holds the URL.
fn store_error(e: &redis::RedisError) -> StoreError {
    if is_connection_error(e) {
        StoreError::Unavailable(describe(e))
    } else {
        StoreError::Database(format!("redis: {}", describe(e)))
    }
}
