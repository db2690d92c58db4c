//! [`reseed`]: puts a node's local snapshot back into a Redis that lost its data (it restarted
//! empty, was flushed, or was restored from an older backup), so that the cluster can take
//! writes again. `scopegate cluster reseed` runs it.
//!
//! One Lua script ([`RESEED_SCRIPT`]) writes, only if Redis holds no policy or an older one
//! than the snapshot: the policy state at the snapshot's version (the event log is cleared,
//! so nodes behind it reload the whole policy), every key of the ring that Redis lacks (the
//! records are sealed exactly as Redis keeps them), and every revocation (merged: later times
//! win). It then announces the key ring, so every node reloads it. Refresh tokens are not in
//! any snapshot (they live only in Redis, hashed): their holders sign in again.

use std::sync::Arc;
use std::time::Instant;

use redis::Script;

use crate::config::Names;
use crate::conn::{Redis, SyncConn};
use crate::error::{ClusterError, describe};
use crate::policy::state_json;
use crate::snapshot::LocalSnapshot;

/// The re-seed script. `KEYS`: policy version, policy state, policy log, key ring hash,
/// revoked jtis, revoked subjects. `ARGV`: the version, the state JSON, the key channel, then
/// the count of keys and each (kid, record), the count of tokens and each (jti, exp), the count
/// of subjects and each (subject, before, keep_until). Answers `{1, version}` when written,
/// `{0, stored}` when Redis already holds the snapshot's version or a newer one (nothing
/// written).
pub const RESEED_SCRIPT: &str = r#"
local raw = redis.call('GET', KEYS[1])
if raw then
  local stored = tonumber(raw)
  if stored == nil then
    return redis.error_reply('ERR the policy version key does not hold a number')
  end
  if stored >= tonumber(ARGV[1]) then
    return {0, stored}
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
local i = 4
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('HSETNX', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('ZADD', KEYS[5], 'GT', ARGV[i + 1], ARGV[i])
  i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local subject, before, keep_until = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local old = redis.call('HGET', KEYS[6], subject)
  if old then
    local ok, stored = pcall(cjson.decode, old)
    if ok and type(stored) == 'table' then
      local b, k = tonumber(stored.before), tonumber(stored.keep_until)
      if b and b > before then before = b end
      if k and k > keep_until then keep_until = k end
    end
  end
  redis.call('HSET', KEYS[6], subject,
    string.format('{"before":%d,"keep_until":%d}', before, keep_until))
  i = i + 3
end
redis.call('PUBLISH', ARGV[3], 'reseed')
return {1, tonumber(ARGV[1])}
"#;

/// What [`reseed`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reseeded {
    /// The policy version Redis now holds.
    pub version: u64,
    /// Keys of the ring in the snapshot (those Redis lacked were written).
    pub keys: usize,
    /// Revoked tokens and subjects written.
    pub revocations: usize,
}

/// Writes `snapshot` into Redis under `names` if Redis holds no policy or an older one; see
/// the module documentation. Fails, changing nothing, when the snapshot holds no policy or
/// Redis already holds its version or a newer one.
pub fn reseed(
    redis: &Arc<Redis>,
    names: &Names,
    snapshot: &LocalSnapshot,
) -> Result<Reseeded, ClusterError> {
    let dir = snapshot.dir().display().to_string();
    let policy = snapshot.load_policy()?.ok_or_else(|| {
        ClusterError::Config(format!(
            "{dir} holds no policy snapshot of this deployment (key prefix) to re-seed from"
        ))
    })?;
    let keys = snapshot.load_keys()?.unwrap_or_default();
    if keys.is_empty() {
        return Err(ClusterError::Config(format!(
            "{dir} holds no key ring snapshot: re-seed from the data directory of a node that \
             ran in this cluster"
        )));
    }
    let revocations = snapshot.load_revocations()?;
    let state = state_json(&policy).map_err(|e| ClusterError::Corrupt {
        key: dir.clone(),
        reason: e.to_string(),
    })?;
    let script = Script::new(RESEED_SCRIPT);
    let mut invocation = script.prepare_invoke();
    invocation
        .key(&names.policy_version)
        .key(&names.policy_state)
        .key(&names.policy_log)
        .key(&names.keys)
        .key(&names.revoked_jti)
        .key(&names.revoked_subjects)
        .arg(policy.version())
        .arg(state)
        .arg(&names.keys_channel)
        .arg(keys.len());
    for (kid, record) in &keys {
        invocation.arg(kid).arg(record);
    }
    invocation.arg(revocations.tokens.len());
    for (jti, exp) in &revocations.tokens {
        invocation.arg(jti).arg(exp);
    }
    invocation.arg(revocations.subjects.len());
    for (subject, s) in &revocations.subjects {
        invocation.arg(subject).arg(s.before).arg(s.keep_until);
    }
    let mut conn = SyncConn::new(Arc::clone(redis));
    // A large policy takes a while to send; give it more than one command's budget.
    conn.set_deadline(Some(Instant::now() + redis.command_timeout() * 5));
    let (written, version): (u8, u64) = conn
        .run(|c| invocation.invoke(c))
        .map_err(|e| ClusterError::Unavailable(describe(&e)))?;
    if written != 1 {
        return Err(ClusterError::Config(format!(
            "Redis holds policy version {version}, not behind the snapshot's {}: nothing to \
             re-seed (re-seed from the node that serves the highest version)",
            policy.version()
        )));
    }
    Ok(Reseeded {
        version,
        keys: keys.len(),
        revocations: revocations.tokens.len() + revocations.subjects.len(),
    })
}
