//! Prometheus metrics: [`Metrics`] owns a registry created at startup (never the global
//! default one) and the families recorded on the request path; [`Probes`] reads the values
//! that live in the node's state (policy version, revocations, keys, Redis, hash pool) when
//! `/metrics` is scraped. Every metric is documented in `docs/metrics.md`.
//!
//! Label values are bounded: route patterns, grant types, OAuth error codes, deny reasons from
//! a fixed list, API names from the policy. Never a user, client, token or raw path.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use scopegate_cluster::keyring::{KeyRingHandle, KeyStatus};
use scopegate_policy_store::{PolicyReader, PolicyStoreHandle};
use scopegate_scope_validator::{Decision, ScopeValidator};
use scopegate_token_issuer::{Lockout, ThrottleKind, TokenService};

use crate::stores::NodeState;

/// The grant types counted by name; anything else is `other`.
const GRANTS: [&str; 4] = ["password", "client_credentials", "refresh_token", "other"];
/// The outcomes of a token request: `issued`, an RFC 6749 §5.2 error code, or `throttled`
/// (refused by the sign-in throttle before any credential check).
const OUTCOMES: [&str; 10] = [
    "issued",
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "temporarily_unavailable",
    "server_error",
    "throttled",
];

/// Request latency buckets, seconds: from 50 µs (a cached check) to 10 s.
const LATENCY_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
];
/// Propagation lag buckets, seconds: from 100 µs (pub/sub on one host) to a minute (a node
/// that caught up after a Redis outage).
const LAG_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 60.0,
];

/// The families recorded on the request path, and the registry they live in.
pub struct Metrics {
    registry: Registry,
    http: HistogramVec,
    tokens: IntCounterVec,
    decisions: IntCounterVec,
    gauges: StateGauges,
}

/// Families set from the node's state at scrape time.
struct StateGauges {
    policy_version: IntGauge,
    last_applied: Gauge,
    propagation_lag: Histogram,
    cluster_mode: IntGauge,
    ready: IntGauge,
    redis_up: IntGauge,
    redis_reconnects: IntCounter,
    redis_data_lost: IntGauge,
    contact_age: Gauge,
    stale: IntGauge,
    revoked_tokens: IntGauge,
    revoked_subjects: IntGauge,
    cache_entries: IntGauge,
    cache_hits: IntCounter,
    cache_misses: IntCounter,
    hash_depth: IntGauge,
    hash_capacity: IntGauge,
    hash_rejections: IntCounter,
    hash_verifications: IntCounter,
    key_age: IntGauge,
    rotation_period: IntGauge,
    keys: IntGaugeVec,
    throttled: IntCounterVec,
    lockouts: IntCounterVec,
    locked: IntGaugeVec,
}

// === impl Metrics ===

impl Metrics {
    /// A fresh registry with every scopegate family and the process collector registered.
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let http = HistogramVec::new(
            HistogramOpts::new(
                "scopegate_http_request_duration_seconds",
                "Time from a request's head to its response, by route pattern and status class.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["endpoint", "code"],
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "scopegate_token_requests_total",
                "Token endpoint answers by grant type and outcome (issued or the OAuth error code).",
            ),
            &["grant", "outcome"],
        )?;
        let decisions = IntCounterVec::new(
            Opts::new(
                "scopegate_decisions_total",
                "Authorization decisions by endpoint, result, deny reason and API.",
            ),
            &["endpoint", "result", "reason", "api"],
        )?;
        registry.register(Box::new(http.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        registry.register(Box::new(decisions.clone()))?;
        // Every (grant, outcome) pair exists from the start, so rates and alerts over them
        // see zeros instead of missing series.
        for grant in GRANTS {
            for outcome in OUTCOMES {
                tokens.with_label_values(&[grant, outcome]);
            }
        }
        let gauges = StateGauges::register(&registry)?;
        let build = IntGaugeVec::new(
            Opts::new(
                "scopegate_build_info",
                "Always 1; labelled with the version.",
            ),
            &["version"],
        )?;
        registry.register(Box::new(build.clone()))?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            registry,
            http,
            tokens,
            decisions,
            gauges,
        })
    }

    /// Counts one token endpoint answer.
    pub fn token(&self, grant: &str, outcome: &str) {
        self.tokens.with_label_values(&[grant, outcome]).inc();
    }

    /// Counts one decision made by `endpoint` (`check`, `envoy`, `decide`).
    pub fn decision(&self, endpoint: &str, decision: &Decision) {
        let (result, reason, api) = match decision {
            Decision::Allow { api, .. } => ("allow", "none", api.as_deref()),
            Decision::Deny(deny) => ("deny", deny.reason.as_str(), deny.api.as_deref()),
        };
        self.decisions
            .with_label_values(&[endpoint, result, reason, api.unwrap_or("none")])
            .inc();
    }

    /// Observes one request's latency.
    fn request(&self, endpoint: &str, status: u16, seconds: f64) {
        let code = match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            500..=599 => "5xx",
            _ => "1xx",
        };
        self.http
            .with_label_values(&[endpoint, code])
            .observe(seconds);
    }

    /// The text exposition of every family, after reading the state `probes` watch.
    pub fn render(&self, probes: &Probes, lockouts: &[Lockout]) -> String {
        probes.refresh(&self.gauges, lockouts);
        let mut out = Vec::with_capacity(16 * 1024);
        let families = self.registry.gather();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "could not encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

// === impl StateGauges ===

impl StateGauges {
    fn register(registry: &Registry) -> anyhow::Result<Self> {
        fn gauge(registry: &Registry, name: &str, help: &str) -> anyhow::Result<IntGauge> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        }
        fn counter(registry: &Registry, name: &str, help: &str) -> anyhow::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        }
        let last_applied = Gauge::new(
            "scopegate_policy_last_applied_timestamp_seconds",
            "When this node last published a policy version to its readers (Unix time).",
        )?;
        registry.register(Box::new(last_applied.clone()))?;
        let propagation_lag = Histogram::with_opts(
            HistogramOpts::new(
                "scopegate_policy_propagation_lag_seconds",
                "From a policy change recorded on another node to this node applying it.",
            )
            .buckets(LAG_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(propagation_lag.clone()))?;
        let keys = IntGaugeVec::new(
            Opts::new(
                "scopegate_signing_keys",
                "Keys in the signing key ring by status (pending, active, retiring).",
            ),
            &["status"],
        )?;
        registry.register(Box::new(keys.clone()))?;
        let throttled = IntCounterVec::new(
            Opts::new(
                "scopegate_signin_throttled_total",
                "Sign-in attempts refused by the throttle before any credential check, by the \
                 locked key's kind (user, source).",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(throttled.clone()))?;
        let lockouts = IntCounterVec::new(
            Opts::new(
                "scopegate_signin_lockouts_total",
                "Lockouts started by failed sign-ins on this node, by kind (user, source).",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(lockouts.clone()))?;
        let locked = IntGaugeVec::new(
            Opts::new(
                "scopegate_signin_locked",
                "Usernames (user) and client + address pairs (source) locked now (the \
                 cluster's count in cluster mode).",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(locked.clone()))?;
        for kind in ThrottleKind::ALL {
            throttled.with_label_values(&[kind.as_str()]);
            lockouts.with_label_values(&[kind.as_str()]);
            locked.with_label_values(&[kind.as_str()]);
        }
        let contact_age = Gauge::new(
            "scopegate_cluster_contact_age_seconds",
            "Seconds since Redis last answered this node (since it started, if never; 0 in \
             embedded mode).",
        )?;
        registry.register(Box::new(contact_age.clone()))?;
        Ok(Self {
            policy_version: gauge(
                registry,
                "scopegate_policy_version",
                "The policy version this node serves.",
            )?,
            last_applied,
            propagation_lag,
            cluster_mode: gauge(
                registry,
                "scopegate_cluster_mode",
                "1 when the node shares state through Redis, 0 in embedded mode.",
            )?,
            ready: gauge(
                registry,
                "scopegate_ready",
                "1 when /readyz answers 200, 0 when it answers 503.",
            )?,
            redis_up: gauge(
                registry,
                "scopegate_redis_up",
                "1 while the node's Redis connections work (always 1 in embedded mode).",
            )?,
            redis_reconnects: counter(
                registry,
                "scopegate_redis_reconnects_total",
                "Times a Redis connection came back after a failure.",
            )?,
            redis_data_lost: gauge(
                registry,
                "scopegate_redis_data_lost",
                "1 while Redis holds an older policy than this node serves (it restarted empty \
                 or was restored from an older backup): writes are refused until it is re-seeded.",
            )?,
            contact_age,
            stale: gauge(
                registry,
                "scopegate_cluster_stale",
                "1 while the node is past cluster.max_staleness_secs without contact with Redis \
                 and refuses checks and introspection.",
            )?,
            revoked_tokens: gauge(
                registry,
                "scopegate_revoked_tokens",
                "Revoked access tokens (jti) not yet expired.",
            )?,
            revoked_subjects: gauge(
                registry,
                "scopegate_revoked_subjects",
                "Subject revocations still in force.",
            )?,
            cache_entries: gauge(
                registry,
                "scopegate_token_cache_entries",
                "Verified tokens in the validator's cache.",
            )?,
            cache_hits: counter(
                registry,
                "scopegate_token_cache_hits_total",
                "Decisions that found their token already verified.",
            )?,
            cache_misses: counter(
                registry,
                "scopegate_token_cache_misses_total",
                "Decisions that verified the token's signature.",
            )?,
            hash_depth: gauge(
                registry,
                "scopegate_password_hash_queue_depth",
                "Credential verifications waiting for or running on the argon2 hash pool.",
            )?,
            hash_capacity: gauge(
                registry,
                "scopegate_password_hash_queue_capacity",
                "The queue depth at which the hash pool refuses new verifications.",
            )?,
            hash_rejections: counter(
                registry,
                "scopegate_password_hash_rejections_total",
                "Verifications refused (503) because the hash pool was full.",
            )?,
            hash_verifications: counter(
                registry,
                "scopegate_password_hash_verifications_total",
                "argon2 verifications the hash pool ran.",
            )?,
            key_age: gauge(
                registry,
                "scopegate_signing_key_age_seconds",
                "Age of the key tokens are signed with now.",
            )?,
            rotation_period: gauge(
                registry,
                "scopegate_signing_key_rotation_period_seconds",
                "The planned signing key rotation period (keys.rotation_period_days).",
            )?,
            keys,
            throttled,
            lockouts,
            locked,
        })
    }
}

/// Brings a counter mirroring a monotonic count kept elsewhere up to `value`.
fn sync_counter(counter: &IntCounter, value: u64) {
    counter.inc_by(value.saturating_sub(counter.get()));
}

/// What the scrape reads the node's state from.
pub struct Probes {
    /// The policy snapshot.
    pub policy: PolicyReader,
    /// The policy store (its applied-version log).
    pub store: PolicyStoreHandle,
    /// The validator (revocations, cache).
    pub validator: ScopeValidator,
    /// The token service (hash pool).
    pub tokens: TokenService,
    /// The signing key ring.
    pub ring: KeyRingHandle,
    /// Mode, readiness and Redis health.
    pub node: NodeState,
    /// `tokens.hash_queue`.
    pub hash_capacity: usize,
    /// `keys.rotation_period_days`, in seconds.
    pub rotation_period_secs: u64,
    /// The newest applied policy version already observed into the lag histogram; versions
    /// applied before start (the initial load and catch-up) are not propagation.
    lag_cursor: Mutex<u64>,
    /// When the probes were made, seconds since the Unix epoch: the node published its
    /// initial policy then, for a node that has applied nothing since.
    started_at: f64,
}

// === impl Probes ===

impl Probes {
    /// Probes over the node's parts; propagation is counted from now on.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        policy: PolicyReader,
        store: PolicyStoreHandle,
        validator: ScopeValidator,
        tokens: TokenService,
        ring: KeyRingHandle,
        node: NodeState,
        hash_capacity: usize,
        rotation_period_secs: u64,
    ) -> Self {
        let cursor = store.last_applied().map_or(0, |a| a.version);
        Self {
            policy,
            store,
            validator,
            tokens,
            ring,
            node,
            hash_capacity,
            rotation_period_secs,
            lag_cursor: Mutex::new(cursor),
            started_at: scopegate_jwt::unix_now() as f64,
        }
    }

    /// Sets every state gauge from the node's state now; `lockouts` are the sign-in throttle's
    /// lockouts in force (read before, as they may come from Redis).
    fn refresh(&self, g: &StateGauges, lockouts: &[Lockout]) {
        // One scrape at a time: counters are brought up to their source values, and the lag
        // cursor moves, under this lock.
        let Ok(mut cursor) = self.lag_cursor.lock() else {
            return;
        };
        g.policy_version
            .set(i64::try_from(self.policy.version()).unwrap_or(i64::MAX));
        g.last_applied.set(self.started_at);
        if let Some(last) = self.store.last_applied() {
            g.last_applied
                .set((last.applied_at_us as f64 / 1e6).max(self.started_at));
            if last.version > *cursor {
                for applied in self.store.applied() {
                    if applied.version <= *cursor || !applied.remote {
                        continue;
                    }
                    if let Some(created) = applied.created_at_us {
                        let lag = applied.applied_at_us.saturating_sub(created);
                        g.propagation_lag.observe(lag as f64 / 1e6);
                    }
                }
                *cursor = last.version;
            }
        }

        let (cluster, up, reconnects) = match &self.node.redis {
            Some(health) => (1, health.is_up(), health.reconnects()),
            None => (0, true, 0),
        };
        g.cluster_mode.set(cluster);
        g.redis_up.set(i64::from(up));
        sync_counter(&g.redis_reconnects, reconnects);
        g.ready.set(i64::from(self.node.readiness().ready));
        let health = self.node.redis.as_ref();
        g.redis_data_lost
            .set(i64::from(health.is_some_and(|h| h.data_lost().is_some())));
        g.stale.set(i64::from(self.node.is_stale()));
        g.contact_age.set(health.map_or(0.0, |h| {
            h.contact_age().map_or_else(
                || (scopegate_jwt::unix_now() as f64 - self.started_at).max(0.0),
                |age| age.as_secs_f64(),
            )
        }));

        // `revoked_len` counts both kinds.
        let subjects = self.validator.revoked_subjects_len();
        let all = self.validator.revoked_len();
        g.revoked_tokens.set(count(all.saturating_sub(subjects)));
        g.revoked_subjects.set(count(subjects));
        g.cache_entries.set(count(self.validator.cache_len()));
        sync_counter(&g.cache_hits, self.validator.cache_hits());
        sync_counter(&g.cache_misses, self.validator.cache_misses());

        g.hash_depth.set(count(self.tokens.hash_queue_depth()));
        g.hash_capacity.set(count(self.hash_capacity));
        sync_counter(&g.hash_rejections, self.tokens.hash_rejections());
        sync_counter(&g.hash_verifications, self.tokens.hash_verifications());

        let now = scopegate_jwt::unix_now();
        let keys = self.ring.keys();
        let (mut pending, mut active, mut retiring) = (0, 0, 0);
        for key in keys.iter() {
            match key.status {
                KeyStatus::Pending => pending += 1,
                KeyStatus::Active => {
                    active += 1;
                    let age = now.saturating_sub(key.created_at);
                    g.key_age.set(i64::try_from(age).unwrap_or(i64::MAX));
                }
                KeyStatus::Retiring => retiring += 1,
            }
        }
        g.keys.with_label_values(&["pending"]).set(pending);
        g.keys.with_label_values(&["active"]).set(active);
        g.keys.with_label_values(&["retiring"]).set(retiring);
        g.rotation_period
            .set(i64::try_from(self.rotation_period_secs).unwrap_or(i64::MAX));

        for kind in ThrottleKind::ALL {
            let label = [kind.as_str()];
            sync_counter(
                &g.throttled.with_label_values(&label),
                self.tokens.throttled_attempts(kind),
            );
            sync_counter(
                &g.lockouts.with_label_values(&label),
                self.tokens.lockouts_started(kind),
            );
            let locked = lockouts.iter().filter(|l| l.key.kind() == kind).count();
            g.locked.with_label_values(&label).set(count(locked));
        }
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Times every request into `scopegate_http_request_duration_seconds`, labelled with the
/// matched route's name, which is its pattern (`unmatched` when no route claimed the path).
pub async fn observe_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let response = next.call(req).await?;
    let request = response.request();
    if let Some(metrics) = request.app_data::<web::Data<Metrics>>() {
        let seconds = started.elapsed().as_secs_f64();
        // Every route is named by its pattern (`routes::named`, the admin route table).
        let endpoint = request.match_name().unwrap_or("unmatched");
        metrics.request(endpoint, response.status().as_u16(), seconds);
    }
    Ok(response)
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn scrape(metrics: web::Data<Metrics>, probes: web::Data<Arc<Probes>>) -> HttpResponse {
    let lockouts = probes.tokens.lockouts().await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(&probes, &lockouts))
}

/// The `grant` label of a token request body: the `grant_type` parameter when it names a
/// supported grant, else `other`. (The supported names need no URL-decoding.)
pub fn grant_label(form_body: &[u8]) -> &'static str {
    form_body
        .split(|b| *b == b'&')
        .find_map(|pair| pair.strip_prefix(b"grant_type="))
        .and_then(|value| {
            GRANTS[..3]
                .iter()
                .find(|grant| grant.as_bytes() == value)
                .copied()
        })
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_label_names_supported_grants_only() {
        assert_eq!(grant_label(b"grant_type=password&username=a"), "password");
        assert_eq!(
            grant_label(b"scope=x&grant_type=client_credentials"),
            "client_credentials"
        );
        assert_eq!(grant_label(b"grant_type=refresh_token"), "refresh_token");
        assert_eq!(grant_label(b"grant_type=passwordx"), "other");
        assert_eq!(grant_label(b"grant_type=urn%3Aietf"), "other");
        assert_eq!(grant_label(b"username=a"), "other");
        assert_eq!(grant_label(b""), "other");
    }

    #[test]
    fn a_new_registry_exposes_every_token_series_at_zero() {
        let metrics = Metrics::new().expect("metrics");
        let families = metrics.registry.gather();
        let tokens = families
            .iter()
            .find(|f| f.name() == "scopegate_token_requests_total")
            .expect("token family");
        assert_eq!(tokens.get_metric().len(), GRANTS.len() * OUTCOMES.len());
        // A second registry is independent: nothing is global.
        let other = Metrics::new().expect("second registry");
        metrics.token("password", "issued");
        let count = |m: &Metrics| m.tokens.with_label_values(&["password", "issued"]).get();
        assert_eq!((count(&metrics), count(&other)), (1, 0));
    }
}
