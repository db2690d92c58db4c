//! Password-guessing throttle: failed sign-ins are counted per username and per client + source
//! address; past a budget the key is locked for a while, and a locked key is refused before any
//! argon2 work, the right password included.
//!
//! # The rule, the same on one node and across a cluster
//! Each key has a failure budget kept as a GCRA bucket (a leaky bucket without a timer): the
//! `failures`-th failure within `window` locks the key, and one failure's worth of budget
//! comes back every `window / failures` seconds. A lockout lasts `lockout_secs`, doubling with every
//! further lockout ("strike") up to `max_lockout_secs`; strikes are forgotten after a quiet
//! period of `window + max_lockout`, or when the user signs in. Unknown usernames are counted
//! exactly like known ones, so neither the answer nor its timing tells whether a name exists.
//!
//! [`LocalThrottle`] keeps the buckets in memory with the `governor` crate (keyed GCRA), for a
//! single node and as every node's fallback. In cluster mode a [`ThrottleStore`] in Redis
//! (`scopegate_cluster::RedisThrottleStore`) keeps them for all nodes, so round-robin across
//! nodes gains an attacker nothing; while Redis is unreachable each node counts on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Clock;

/// `[tokens.throttle]`: how many failed sign-ins are tolerated and how long a lockout lasts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Whether failed sign-ins are throttled at all.
    pub enabled: bool,
    /// Failures of one username within `window_secs` that lock it: the `user_failures`-th
    /// locks (known and unknown names alike). 0: no per-user limit.
    pub user_failures: u32,
    /// Failures (wrong passwords and failed client authentications) of one client from one
    /// source address within `window_secs` that lock that pair: password spraying across
    /// many usernames from one address. 0: no per-source limit.
    pub source_failures: u32,
    /// The window the budgets above refill over, in seconds: one failure's worth comes back
    /// every `window_secs / failures` seconds.
    pub window_secs: u64,
    /// The first lockout, in seconds; each further lockout of the same key doubles it.
    pub lockout_secs: u64,
    /// The longest lockout, in seconds.
    pub max_lockout_secs: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            user_failures: 5,
            source_failures: 20,
            window_secs: 300,
            lockout_secs: 60,
            max_lockout_secs: 3600,
        }
    }
}

// === impl ThrottleConfig ===

impl ThrottleConfig {
    /// The budget of a kind of key; `None` when that kind is not limited.
    pub fn failures(&self, kind: ThrottleKind) -> Option<NonZeroU32> {
        if !self.enabled {
            return None;
        }
        NonZeroU32::new(match kind {
            ThrottleKind::User => self.user_failures,
            ThrottleKind::Source => self.source_failures,
        })
    }

    /// The GCRA parameters of a kind's bucket, in milliseconds: `(period, tolerance)`. One
    /// failure's worth of budget comes back every `period`; a failure is within the budget
    /// when `now >= tat - tolerance` (a new key's `tat` is `now`), and then
    /// `tat = max(tat, now) + period` (governor's algorithm). A tolerance of
    /// `period * (failures - 2)` admits `failures - 1` failures at once, so the `failures`-th
    /// within the window is the one that locks (with a budget of one the tolerance is
    /// negative: every failure locks). `None` when the kind is not limited.
    pub fn gcra_millis(&self, kind: ThrottleKind) -> Option<(i64, i64)> {
        let failures = i64::from(self.failures(kind)?.get());
        let window = i64::try_from(self.window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let period = (window / failures).max(1);
        Some((period, period.saturating_mul(failures - 2)))
    }

    /// How long the `strikes`-th lockout of a key lasts, in seconds (`strikes` ≥ 1).
    pub fn lockout(&self, strikes: u32) -> u64 {
        let doubling = 1u64
            .checked_shl(strikes.saturating_sub(1))
            .unwrap_or(u64::MAX);
        self.lockout_secs
            .saturating_mul(doubling)
            .min(self.max_lockout_secs.max(self.lockout_secs))
    }

    /// How long strikes are remembered after a key's last lockout, in seconds.
    pub fn strike_memory(&self) -> u64 {
        self.window_secs.saturating_add(self.max_lockout_secs)
    }
}

/// Which budget a key draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleKind {
    /// One username.
    User,
    /// One client from one source address.
    Source,
}

impl ThrottleKind {
    /// Every kind, for metrics.
    pub const ALL: [ThrottleKind; 2] = [ThrottleKind::User, ThrottleKind::Source];

    /// The metric label and API name: `user` or `source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Source => "source",
        }
    }
}

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ThrottleKey {
    /// A username, whether or not such a user exists.
    User {
        /// The username as presented.
        username: String,
    },
    /// A client id as presented, from one source address.
    Source {
        /// The client id as presented.
        client_id: String,
        /// The request's source address (the peer, or the client address a trusted proxy
        /// reported).
        address: IpAddr,
    },
}

impl ThrottleKey {
    /// Which budget the key draws on.
    pub fn kind(&self) -> ThrottleKind {
        match self {
            Self::User { .. } => ThrottleKind::User,
            Self::Source { .. } => ThrottleKind::Source,
        }
    }

    /// A stable, unambiguous text form (JSON), e.g. for Redis member names.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The key an [`ThrottleKey::encode`]d text stands for.
    pub fn decode(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// A key locked until `until` (seconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lockout {
    /// What is locked.
    #[serde(flatten)]
    pub key: ThrottleKey,
    /// When the lock ends.
    pub until: u64,
}

/// A shared throttle store could not be reached in time; the caller falls back to its own
/// node's counters.
#[derive(Debug, Error)]
#[error("throttle store unavailable: {0}")]
pub struct ThrottleUnavailable(pub String);

/// Where failure budgets and lockouts live. Implemented in memory by [`LocalThrottle`] and in
/// Redis by `scopegate_cluster::RedisThrottleStore`; both follow the rule in the module docs.
pub trait ThrottleStore: Send + Sync + 'static {
    /// The lockout in force at `now` on any of `keys` that ends last, if one is.
    fn locked<'a>(
        &'a self,
        keys: &'a [ThrottleKey],
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Lockout>, ThrottleUnavailable>>;

    /// Counts one failure against each of `keys` at `now`; returns the lockouts it started.
    fn record_failure<'a>(
        &'a self,
        keys: &'a [ThrottleKey],
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<Lockout>, ThrottleUnavailable>>;

    /// A successful sign-in of `key`: its strikes are forgotten.
    fn record_success<'a>(
        &'a self,
        key: &'a ThrottleKey,
    ) -> BoxFuture<'a, Result<(), ThrottleUnavailable>>;

    /// Lifts `key`'s lockout and resets its budget and strikes (an administrator's decision);
    /// whether a lockout was in force.
    fn clear<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, ThrottleUnavailable>>;

    /// Every lockout in force at `now`.
    fn lockouts(&self, now: u64) -> BoxFuture<'_, Result<Vec<Lockout>, ThrottleUnavailable>>;
}

/// `governor`'s clock, reading the issuer's injected clock (seconds), so that tests move both
/// together.
#[derive(Clone)]
struct IssuerClock(Clock);

impl governor::clock::Clock for IssuerClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_secs((self.0)())
    }
}

/// One keyed GCRA limiter. A key's bucket is addressed together with a generation, so that an
/// administrator's `clear` starts a fresh bucket (governor cannot reset one key).
type Limiter = RateLimiter<
    (ThrottleKey, u64),
    DashMapStateStore<(ThrottleKey, u64)>,
    IssuerClock,
    NoOpMiddleware<Duration>,
>;

/// What this node remembers about a key beyond its bucket.
#[derive(Debug, Clone, Copy, Default)]
struct KeyState {
    /// The end of its current (or last) lockout.
    until: u64,
    /// Lockouts so far, for the doubling.
    strikes: u32,
    /// The bucket generation (see [`Limiter`]).
    generation: u64,
    /// When this state last changed, for forgetting it.
    touched: u64,
}

/// Failure budgets and lockouts in this node's memory.
pub(crate) struct LocalThrottle {
    /// Budgets and lockout lengths.
    config: ThrottleConfig,
    /// Per-username buckets; `None` when users are not limited.
    users: Option<Limiter>,
    /// Per client + address buckets; `None` when sources are not limited.
    sources: Option<Limiter>,
    /// Lockouts, strikes and generations; small (only keys that were ever locked or cleared).
    state: Mutex<HashMap<ThrottleKey, KeyState>>,
    /// Generations handed out by `clear`.
    generations: AtomicU64,
    /// Failures counted since start, to tidy the maps every so often.
    failures: AtomicU64,
}

// === impl LocalThrottle ===

impl LocalThrottle {
    /// An empty throttle following `config`, on `clock`.
    pub(crate) fn new(config: ThrottleConfig, clock: Clock) -> Self {
        // governor's burst b admits b cells at once (its tolerance is `period * (b - 1)`), so a
        // bucket of `failures - 1` cells makes the `failures`-th failure the one that locks. A
        // budget of one failure has no bucket: every failure locks.
        let limiter = |kind| {
            let failures = config.failures(kind)?;
            let burst = NonZeroU32::new(failures.get() - 1)?;
            let period = Duration::from_secs(config.window_secs.max(1)) / failures.get();
            let quota = Quota::with_period(period.max(Duration::from_millis(1)))
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                .allow_burst(burst);
            Some(RateLimiter::dashmap_with_clock(
                quota,
                IssuerClock(Arc::clone(&clock)),
            ))
        };
        Self {
            users: limiter(ThrottleKind::User),
            sources: limiter(ThrottleKind::Source),
            config,
            state: Mutex::new(HashMap::new()),
            generations: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    fn limiter(&self, kind: ThrottleKind) -> Option<&Limiter> {
        match kind {
            ThrottleKind::User => self.users.as_ref(),
            ThrottleKind::Source => self.sources.as_ref(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, HashMap<ThrottleKey, KeyState>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn locked_now(&self, keys: &[ThrottleKey], now: u64) -> Option<Lockout> {
        let state = self.state();
        keys.iter()
            .filter_map(|k| state.get(k).map(|s| (k, s.until)))
            .filter(|(_, until)| *until > now)
            .max_by_key(|(_, until)| *until)
            .map(|(key, until)| Lockout {
                key: key.clone(),
                until,
            })
    }

    fn fail(&self, keys: &[ThrottleKey], now: u64) -> Vec<Lockout> {
        let mut started = Vec::new();
        let mut state = self.state();
        for key in keys {
            if self.config.failures(key.kind()).is_none() {
                continue;
            }
            let generation = state.get(key).map_or(0, |s| s.generation);
            let within_budget = self
                .limiter(key.kind())
                .is_some_and(|limiter| limiter.check_key(&(key.clone(), generation)).is_ok());
            if within_budget {
                continue;
            }
            let entry = state.entry(key.clone()).or_default();
            if entry.until > now {
                continue;
            }
            let remembered = entry.touched.saturating_add(self.config.strike_memory()) >= now;
            entry.strikes = if remembered && entry.strikes > 0 {
                entry.strikes.saturating_add(1)
            } else {
                1
            };
            entry.until = now.saturating_add(self.config.lockout(entry.strikes));
            entry.touched = now;
            started.push(Lockout {
                key: key.clone(),
                until: entry.until,
            });
        }
        // Tidy now and then: buckets that have refilled, states nobody needs any more.
        if self.failures.fetch_add(1, Ordering::Relaxed) % 256 == 255 {
            for limiter in [&self.users, &self.sources].into_iter().flatten() {
                limiter.retain_recent();
            }
            let memory = self.config.strike_memory();
            state.retain(|_, s| s.until > now || s.touched.saturating_add(memory) >= now);
        }
        started
    }

    fn succeed(&self, key: &ThrottleKey) {
        if let Some(entry) = self.state().get_mut(key) {
            entry.strikes = 0;
        }
    }

    fn lift(&self, key: &ThrottleKey, now: u64) -> bool {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let mut state = self.state();
        let entry = state.entry(key.clone()).or_default();
        let was_locked = entry.until > now;
        *entry = KeyState {
            until: 0,
            strikes: 0,
            generation,
            touched: now,
        };
        was_locked
    }

    fn in_force(&self, now: u64) -> Vec<Lockout> {
        self.state()
            .iter()
            .filter(|(_, s)| s.until > now)
            .map(|(key, s)| Lockout {
                key: key.clone(),
                until: s.until,
            })
            .collect()
    }
}

impl ThrottleStore for LocalThrottle {
    fn locked<'a>(
        &'a self,
        keys: &'a [ThrottleKey],
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Lockout>, ThrottleUnavailable>> {
        Box::pin(std::future::ready(Ok(self.locked_now(keys, now))))
    }

    fn record_failure<'a>(
        &'a self,
        keys: &'a [ThrottleKey],
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<Lockout>, ThrottleUnavailable>> {
        Box::pin(std::future::ready(Ok(self.fail(keys, now))))
    }

    fn record_success<'a>(
        &'a self,
        key: &'a ThrottleKey,
    ) -> BoxFuture<'a, Result<(), ThrottleUnavailable>> {
        self.succeed(key);
        Box::pin(std::future::ready(Ok(())))
    }

    fn clear<'a>(
        &'a self,
        key: &'a ThrottleKey,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, ThrottleUnavailable>> {
        Box::pin(std::future::ready(Ok(self.lift(key, now))))
    }

    fn lockouts(&self, now: u64) -> BoxFuture<'_, Result<Vec<Lockout>, ThrottleUnavailable>> {
        Box::pin(std::future::ready(Ok(self.in_force(now))))
    }
}

/// Counts by kind, for metrics.
#[derive(Debug, Default)]
struct KindCounts([AtomicU64; 2]);

impl KindCounts {
    fn add(&self, kind: ThrottleKind) {
        self.0[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self, kind: ThrottleKind) -> u64 {
        self.0[kind as usize].load(Ordering::Relaxed)
    }
}

/// The throttle the grants consult: the shared store when there is one, this node's memory
/// when there is none or it cannot be reached.
pub(crate) struct Throttle {
    /// This node's counters; the only ones without a shared store, the fallback with one.
    local: LocalThrottle,
    /// The cluster's counters (Redis), if any.
    shared: Option<Arc<dyn ThrottleStore>>,
    /// Attempts refused because a key was locked, by the locked key's kind.
    refused: KindCounts,
    /// Lockouts started by failures on this node, by kind.
    started: KindCounts,
}

impl Throttle {
    pub(crate) fn new(
        config: ThrottleConfig,
        shared: Option<Arc<dyn ThrottleStore>>,
        clock: Clock,
    ) -> Self {
        Self {
            local: LocalThrottle::new(config, clock),
            shared,
            refused: KindCounts::default(),
            started: KindCounts::default(),
        }
    }

    /// The lockout in force on any of `keys`, if one is (counted as a refused attempt).
    pub(crate) async fn locked(&self, keys: &[ThrottleKey], now: u64) -> Option<Lockout> {
        if !self.local.config.enabled {
            return None;
        }
        let lockout = match self.shared_call(|s| s.locked(keys, now)).await {
            Some(lockout) => lockout,
            None => self.local.locked_now(keys, now),
        }?;
        self.refused.add(lockout.key.kind());
        Some(lockout)
    }

    /// Counts a failure against `keys`; logs and counts every lockout it starts.
    pub(crate) async fn failed(&self, keys: &[ThrottleKey], now: u64) {
        if !self.local.config.enabled {
            return;
        }
        let started = match self.shared_call(|s| s.record_failure(keys, now)).await {
            Some(started) => started,
            None => self.local.fail(keys, now),
        };
        for lockout in started {
            self.started.add(lockout.key.kind());
            tracing::info!(
                kind = lockout.key.kind().as_str(),
                key = ?lockout.key,
                seconds = lockout.until.saturating_sub(now),
                "sign-in throttle: too many failures, locked"
            );
        }
    }

    /// A successful sign-in.
    pub(crate) async fn succeeded(&self, key: &ThrottleKey) {
        if !self.local.config.enabled {
            return;
        }
        if self.shared_call(|s| s.record_success(key)).await.is_none() {
            self.local.succeed(key);
        }
    }

    /// Lifts a lockout, in the shared store and this node's memory; an unreachable shared store
    /// is an error (the lockout would otherwise stay in force on every other node).
    pub(crate) async fn clear(
        &self,
        key: &ThrottleKey,
        now: u64,
    ) -> Result<bool, ThrottleUnavailable> {
        let local = self.local.lift(key, now);
        match &self.shared {
            Some(shared) => Ok(shared.clear(key, now).await? || local),
            None => Ok(local),
        }
    }

    /// Lockouts in force: the shared store's, or this node's when there is none or it cannot
    /// be reached.
    pub(crate) async fn lockouts(&self, now: u64) -> Vec<Lockout> {
        match self.shared_call(|s| s.lockouts(now)).await {
            Some(lockouts) => lockouts,
            None => self.local.in_force(now),
        }
    }

    /// Attempts refused because of a lockout, since start.
    pub(crate) fn refused(&self, kind: ThrottleKind) -> u64 {
        self.refused.get(kind)
    }

    /// Lockouts started on this node, since start.
    pub(crate) fn started(&self, kind: ThrottleKind) -> u64 {
        self.started.get(kind)
    }

    /// Runs `call` on the shared store; `None` (use this node's memory) when there is none or
    /// it failed.
    async fn shared_call<'a, T>(
        &'a self,
        call: impl FnOnce(&'a dyn ThrottleStore) -> BoxFuture<'a, Result<T, ThrottleUnavailable>>,
    ) -> Option<T> {
        let shared = self.shared.as_deref()?;
        match call(shared).await {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::warn!(error = %e, "sign-in throttle: shared counters unreachable, counting on this node");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    fn clock_at(start: u64) -> (Arc<AtomicU64>, Clock) {
        let now = Arc::new(AtomicU64::new(start));
        let read = Arc::clone(&now);
        (now, Arc::new(move || read.load(Ordering::SeqCst)))
    }

    fn config() -> ThrottleConfig {
        ThrottleConfig {
            enabled: true,
            user_failures: 3,
            source_failures: 5,
            window_secs: 30,
            lockout_secs: 10,
            max_lockout_secs: 35,
        }
    }

    fn user(name: &str) -> ThrottleKey {
        ThrottleKey::User {
            username: name.to_owned(),
        }
    }

    #[test]
    fn lockouts_double_up_to_the_maximum() {
        let c = config();
        assert_eq!(
            (1..=5).map(|s| c.lockout(s)).collect::<Vec<_>>(),
            [10, 20, 35, 35, 35]
        );
        assert_eq!(c.lockout(200), 35);
    }

    #[test]
    fn a_key_locks_after_its_budget_and_the_lock_expires() {
        let (now, clock) = clock_at(1000);
        let t = LocalThrottle::new(config(), clock);
        let alex = [user("alex")];
        for _ in 0..2 {
            assert!(t.fail(&alex, 1000).is_empty());
            assert_eq!(t.locked_now(&alex, 1000), None);
        }
        // The third failure (the budget) locks.
        let started = t.fail(&alex, 1000);
        assert_eq!(
            started,
            [Lockout {
                key: user("alex"),
                until: 1010
            }]
        );
        assert_eq!(t.locked_now(&alex, 1005).map(|l| l.until), Some(1010));
        assert_eq!(t.locked_now(&[user("paul")], 1005), None);
        // After the lock, the budget has refilled by one (30 s / 3 = 10 s): one more failure
        // is tolerated, the next locks again for twice as long.
        now.store(1010, Ordering::SeqCst);
        assert_eq!(t.locked_now(&alex, 1010), None);
        assert!(t.fail(&alex, 1010).is_empty());
        assert_eq!(t.fail(&alex, 1010)[0].until, 1030);
    }

    #[test]
    fn clearing_lifts_the_lock_and_resets_budget_and_strikes() {
        let (_now, clock) = clock_at(50);
        let t = LocalThrottle::new(config(), clock);
        let alex = [user("alex")];
        for _ in 0..3 {
            t.fail(&alex, 50);
        }
        assert!(t.locked_now(&alex, 50).is_some());
        assert!(t.lift(&alex[0], 50));
        assert_eq!(t.locked_now(&alex, 50), None);
        assert!(!t.lift(&alex[0], 50), "nothing left to lift");
        // A whole fresh budget, and the next lockout is a first one again.
        for _ in 0..2 {
            assert!(t.fail(&alex, 50).is_empty());
        }
        assert_eq!(t.fail(&alex, 50)[0].until, 60);
    }

    #[test]
    fn a_budget_of_one_locks_at_the_first_failure() {
        let (_now, clock) = clock_at(0);
        let t = LocalThrottle::new(
            ThrottleConfig {
                user_failures: 1,
                ..config()
            },
            clock,
        );
        assert_eq!(t.fail(&[user("a")], 0).len(), 1);
    }

    #[test]
    fn gcra_parameters_match_the_budget() {
        let c = config();
        // 3 failures per 30 s: one back every 10 s, two at once before the third locks.
        assert_eq!(c.gcra_millis(ThrottleKind::User), Some((10_000, 10_000)));
        assert_eq!(c.gcra_millis(ThrottleKind::Source), Some((6_000, 18_000)));
        let one = ThrottleConfig {
            user_failures: 1,
            ..config()
        };
        assert_eq!(one.gcra_millis(ThrottleKind::User), Some((30_000, -30_000)));
        let off = ThrottleConfig {
            source_failures: 0,
            ..config()
        };
        assert_eq!(off.gcra_millis(ThrottleKind::Source), None);
    }

    #[test]
    fn disabled_or_zero_budgets_never_lock() {
        let (_now, clock) = clock_at(0);
        let off = LocalThrottle::new(
            ThrottleConfig {
                enabled: false,
                ..config()
            },
            Arc::clone(&clock),
        );
        let no_users = LocalThrottle::new(
            ThrottleConfig {
                user_failures: 0,
                ..config()
            },
            clock,
        );
        for _ in 0..50 {
            assert!(off.fail(&[user("a")], 0).is_empty());
            assert!(no_users.fail(&[user("a")], 0).is_empty());
        }
    }

    #[test]
    fn keys_have_a_stable_unambiguous_text_form() {
        let source = ThrottleKey::Source {
            client_id: "app:\"x\"".into(),
            address: "2001:db8::1".parse().unwrap(),
        };
        assert_eq!(ThrottleKey::decode(&source.encode()), Some(source));
        assert_eq!(
            user("alex").encode(),
            r#"{"kind":"user","username":"alex"}"#
        );
        assert_eq!(ThrottleKey::decode("{\"kind\":\"other\"}"), None);
    }
}
