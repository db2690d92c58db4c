//! [`RedisThrottleStore`]: the sign-in throttle's [`ThrottleStore`] on Redis, so that every node
//! counts the same failures and round-robin across nodes gains a password guesser nothing.
//!
//! # Data layout (under the key prefix `{p}`)
//! - `{p}:throttle:tat:{key}`: the key's GCRA "theoretical arrival time" in milliseconds,
//!   expiring when the bucket has refilled (absent = a full budget);
//! - `{p}:throttle:strikes:{key}`: how many lockouts the key has had, forgotten after
//!   `window + max_lockout` without one;
//! - `{p}:throttle:locks`: sorted set, member = the key ([`ThrottleKey::encode`]), score = the
//!   end of its lockout (seconds); past ends are trimmed on every write.
//!
//! `{key}` is [`ThrottleKey::encode`] (JSON): unambiguous whatever a username contains.
//!
//! Each failure is one Lua script per key (the bucket check, the strike and the lock are one
//! atomic step), implementing exactly the rule of `scopegate_token_issuer`'s throttle module
//! (governor's GCRA, then a doubling lockout). The store is async (the token endpoint awaits
//! it on the HTTP worker, like the hash pool), bounded by `cluster.command_timeout_ms`; any
//! failure is [`ThrottleUnavailable`] and the node counts on its own until Redis answers again.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::Script;
use redis::aio::MultiplexedConnection;
use scopegate_token_issuer::{
    Lockout, ThrottleConfig, ThrottleKey, ThrottleStore, ThrottleUnavailable,
};
use tokio::sync::Mutex;

use crate::conn::Redis;

/// Counts one failure of one key. `KEYS`: tat, strikes, locks. `ARGV`: now (ms), period (ms),
/// tolerance (ms, may be negative), first lockout (s), longest lockout (s), strike memory (s),
/// the member. Answers the lockout's end (seconds) when this failure locked the key, else 0.
pub const FAILURE_SCRIPT: &str = r"
local now, period, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now_s = math.floor(now / 1000)
local locked = redis.call('ZSCORE', KEYS[3], ARGV[7])
if locked and tonumber(locked) > now_s then
  return 0
end
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if now >= tat - tolerance then
  local next = math.max(tat, now) + period
  redis.call('SET', KEYS[1], next, 'PX', math.max(next - now, 1))
  return 0
end
local strikes = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
local lockout = tonumber(ARGV[4]) * 2 ^ (strikes - 1)
local longest = math.max(tonumber(ARGV[5]), tonumber(ARGV[4]))
if lockout > longest then lockout = longest end
local until_s = now_s + lockout
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now_s)
redis.call('ZADD', KEYS[3], until_s, ARGV[7])
return until_s
";

/// Lifts a lockout and resets budget and strikes. `KEYS`: tat, strikes, locks. `ARGV`: now
/// (s), the member. Answers 1 when a lockout was in force.
pub const CLEAR_SCRIPT: &str = r"
local locked = redis.call('ZSCORE', KEYS[3], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('DEL', KEYS[1], KEYS[2])
if locked and tonumber(locked) > tonumber(ARGV[1]) then
  return 1
end
return 0
";

/// The cluster's sign-in throttle counters; see the module documentation.
pub struct RedisThrottleStore {
    /// Where Redis is (asked again on every reconnection, for Sentinel).
    redis: Arc<Redis>,
    /// The shared connection, made on first use and dropped after a failure.
    conn: Mutex<Option<MultiplexedConnection>>,
    /// The budgets and lockout lengths (the same on every node).
    config: ThrottleConfig,
    /// `{p}:throttle:`.
    prefix: String,
    /// `{p}:throttle:locks`.
    locks: String,
    /// The longest any call may take.
    timeout: Duration,
    /// [`FAILURE_SCRIPT`].
    failure: Script,
    /// [`CLEAR_SCRIPT`].
    clear: Script,
}

impl std::fmt::Debug for RedisThrottleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisThrottleStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

// === impl RedisThrottleStore ===

impl RedisThrottleStore {
    /// A store under `key_prefix`, each call bounded by `timeout`. Does not connect.
    pub fn new(
        redis: Arc<Redis>,
        key_prefix: &str,
        config: ThrottleConfig,
        timeout: Duration,
    ) -> Self {
        let prefix = format!("{key_prefix}:throttle:");
        Self {
            redis,
            conn: Mutex::new(None),
            config,
            locks: format!("{prefix}locks"),
            prefix,
            timeout,
            failure: Script::new(FAILURE_SCRIPT),
            clear: Script::new(CLEAR_SCRIPT),
        }
    }

    fn tat_key(&self, member: &str) -> String {
        format!("{}tat:{member}", self.prefix)
    }

    fn strikes_key(&self, member: &str) -> String {
        format!("{}strikes:{member}", self.prefix)
    }

    /// The shared connection, connecting if there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, ThrottleUnavailable> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        // Sentinel is asked with a blocking call: keep it off the event loop.
        let redis = Arc::clone(&self.redis);
        let client = tokio::task::spawn_blocking(move || redis.client())
            .await
            .map_err(|e| ThrottleUnavailable(e.to_string()))?
            .map_err(unavailable)?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(unavailable)?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Runs `call` on the connection within the timeout; a failure drops the connection so the
    /// next call reconnects.
    async fn run<T, F, Fut>(&self, call: F) -> Result<T, ThrottleUnavailable>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let attempt = async {
            let conn = self.connection().await?;
            call(conn).await.map_err(unavailable)
        };
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(ThrottleUnavailable("timed out".to_owned())),
        };
        if result.is_err() {
            *self.conn.lock().await = None;
        }
        result
    }
}

impl ThrottleStore for RedisThrottleStore {
    fn locked<'a>(
        &'a self,
        keys: &'a [ThrottleKey],
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Lockout>, ThrottleUnavailable>> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(None);
            }
            let members: Vec<String> = keys.iter().map(ThrottleKey::encode).collect();
            let locks = &self.locks;
            let scores: Vec<Option<f64>> = self
                .run(|mut conn| async move {
                    redis::cmd("ZMSCORE")
                        .arg(locks)
                        .arg(&members)
                        .query_async(&mut conn)
                        .await
                })
                .await?;
            Ok(keys
                .iter()
                .zip(scores)
                .filter_map(|(key, score)| Some((key, seconds(score?)?)))
                .filter(|(_, until)| *until > now)
                .max_by_key(|(_, until)| *until)
                .map(|(key, until)| Lockout {
                    key: key.clone(),
                    until,
                }))
        })
    }

    fn record_failure<'a>(
        &'a self,
        keys: &'a [ThrottleKey],
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<Lockout>, ThrottleUnavailable>> {
        Box::pin(async move {
            let mut started = Vec::new();
            for key in keys {
                let Some((period, tolerance)) = self.config.gcra_millis(key.kind()) else {
                    continue;
                };
                let member = key.encode();
                let (tat, strikes, locks) = (
                    self.tat_key(&member),
                    self.strikes_key(&member),
                    &self.locks,
                );
                let script = &self.failure;
                let config = &self.config;
                let until: u64 = self
                    .run(|mut conn| async move {
                        script
                            .key(tat)
                            .key(strikes)
                            .key(locks)
                            .arg(now.saturating_mul(1000))
                            .arg(period)
                            .arg(tolerance)
                            .arg(config.lockout_secs)
                            .arg(config.max_lockout_secs)
                            .arg(config.strike_memory())
                            .arg(&member)
                            .invoke_async(&mut conn)
                            .await
                    })
                    .await?;
                if until > 0 {
                    started.push(Lockout {
                        key: key.clone(),
                        until,
                    });
                }
            }
            Ok(started)
        })
    }

    fn record_success<'a>(
        &'a self,
        key: &'a ThrottleKey,
    ) -> BoxFuture<'a, Result<(), ThrottleUnavailable>> {
        Box::pin(async move {
            let strikes = self.strikes_key(&key.encode());
            self.run(|mut conn| async move {
                redis::cmd("DEL")
                    .arg(strikes)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await
        })
    }

    fn clear<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, ThrottleUnavailable>> {
        Box::pin(async move {
            let member = key.encode();
            let (tat, strikes, locks) = (
                self.tat_key(&member),
                self.strikes_key(&member),
                &self.locks,
            );
            let script = &self.clear;
            let lifted: i64 = self
                .run(|mut conn| async move {
                    script
                        .key(tat)
                        .key(strikes)
                        .key(locks)
                        .arg(now)
                        .arg(&member)
                        .invoke_async(&mut conn)
                        .await
                })
                .await?;
            Ok(lifted == 1)
        })
    }

    fn lockouts(&self, now: u64) -> BoxFuture<'_, Result<Vec<Lockout>, ThrottleUnavailable>> {
        Box::pin(async move {
            let locks = &self.locks;
            let entries: Vec<(String, f64)> = self
                .run(|mut conn| async move {
                    redis::cmd("ZRANGE")
                        .arg(locks)
                        .arg(format!("({now}"))
                        .arg("+inf")
                        .arg("BYSCORE")
                        .arg("WITHSCORES")
                        .query_async(&mut conn)
                        .await
                })
                .await?;
            Ok(entries
                .into_iter()
                .filter_map(|(member, score)| {
                    Some(Lockout {
                        key: ThrottleKey::decode(&member)?,
                        until: seconds(score)?,
                    })
                })
                .collect())
        })
    }
}

/// A lock's end as stored (a whole number of seconds in a sorted-set score).
fn seconds(score: f64) -> Option<u64> {
    (score.is_finite() && score >= 0.0).then_some(score as u64)
}

fn unavailable(e: redis::RedisError) -> ThrottleUnavailable {
    ThrottleUnavailable(crate::error::describe(&e))
}
