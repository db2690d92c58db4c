//! [`JwksCache`]: the issuer's public keys, verified against locally on every request and kept
//! fresh by one background task.
//!
//! The task is the only writer: it fetches on a timer, and when a request meets an unknown
//! `kid` and asks for a refetch. Requests read the current [`Verifier`] with one atomic load
//! (`ArcSwap`) and never wait for the network, except a request with an unknown `kid` when a
//! refetch is allowed: it waits for that one fetch, which every concurrent asker shares.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use scopegate_jwt::{AccessTokenClaims, Verifier, VerifyError, VerifyingKey, unix_now};
use tokio::sync::{mpsc, watch};

use crate::config::JwksConfig;
use crate::error::EdgeError;
use crate::fetch::{default_client, fetch_keys};

/// A local verifier over the issuer's JWKS, refreshed in the background.
///
/// Cheap to clone (an `Arc`); every clone shares the keys and the background task, which stops
/// when the last clone is dropped. See [`JwksConfig`] for the intervals: a background refresh
/// every `refresh_interval`; a refetch when a token names an unknown `kid`, at most once per
/// `min_refetch_interval`; retries with backoff after a failure. A failed fetch (issuer down,
/// HTTP error, garbage, no usable key) keeps the last good set and logs a warning.
#[derive(Clone, Debug)]
pub struct JwksCache {
    shared: Arc<Shared>,
}

/// State shared by the handles and the task.
#[derive(Debug)]
struct Shared {
    /// The settings; the task reads URLs and intervals, requests nothing but the verifier.
    config: JwksConfig,
    /// The verifier over the last good key set; swapped whole by the task.
    current: ArcSwap<Snapshot>,
    /// Asks the task for a fetch now. Capacity 1: a queued request covers later ones.
    wake: mpsc::Sender<()>,
    /// Counts finished fetch attempts (success or failure); askers wait for it to move.
    done: watch::Sender<u64>,
    /// When the last fetch started and whether one is running: the refetch rate limit. A std
    /// mutex, since it is held for a few instructions and never across an `.await`.
    refetch: Mutex<RefetchState>,
}

/// One key set, as requests see it.
#[derive(Debug)]
struct Snapshot {
    /// Verifies tokens against the set, issuer, audience and leeway.
    verifier: Verifier,
    /// The set's key ids, for [`JwksCache::kids`].
    kids: Vec<String>,
}

#[derive(Debug, Default)]
struct RefetchState {
    /// Start of the last fetch of any kind; `None` before the first.
    last_start: Option<Instant>,
    /// A fetch is running or has been asked for.
    in_flight: bool,
}

// === impl JwksCache ===

impl JwksCache {
    /// Fetches the key set once, failing if the issuer cannot provide a usable one, then keeps
    /// it fresh in the background. Must run inside a Tokio runtime (actix-web's is one).
    pub async fn connect(config: JwksConfig) -> Result<JwksCache, EdgeError> {
        let client = match &config.http_client {
            Some(client) => client.clone(),
            None => default_client(&config)?,
        };
        let started = Instant::now();
        let keys = fetch_keys(&client, &config).await?;
        tracing::info!(url = config.jwks_url, keys = keys.len(), "fetched the JWKS");
        JwksCache::spawn(config, client, keys, Some(started))
    }

    /// Starts with no keys and fetches in the background right away, so the service can start
    /// before the issuer; until the first fetch succeeds every token is refused (401) and
    /// prompts a (rate-limited) refetch. Must run inside a Tokio runtime.
    pub fn start(config: JwksConfig) -> Result<JwksCache, EdgeError> {
        let client = match &config.http_client {
            Some(client) => client.clone(),
            None => default_client(&config)?,
        };
        JwksCache::spawn(config, client, Vec::new(), None)
    }

    /// Verifies `token` now: signature by a key of the set, `kid`/`alg` pinning, `typ`, `iss`,
    /// `aud`, `exp`, `nbf`. A token naming an unknown `kid` prompts one refetch (if the rate
    /// limit allows) and is checked again against the new set.
    pub async fn verify(&self, token: &str) -> Result<AccessTokenClaims, VerifyError> {
        let now = unix_now();
        match self.shared.current.load().verifier.verify(token, now) {
            Err(VerifyError::UnknownKey) if self.refetch().await => {
                self.shared.current.load().verifier.verify(token, now)
            }
            result => result,
        }
    }

    /// The key ids of the current set (empty before the first successful fetch).
    pub fn kids(&self) -> Vec<String> {
        self.shared.current.load().kids.clone()
    }

    fn spawn(
        config: JwksConfig,
        client: reqwest::Client,
        keys: Vec<VerifyingKey>,
        last_start: Option<Instant>,
    ) -> Result<JwksCache, EdgeError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| EdgeError::NoRuntime)?;
        let (wake, woken) = mpsc::channel(1);
        let fetched = !keys.is_empty();
        let shared = Arc::new(Shared {
            current: ArcSwap::from_pointee(Snapshot::new(&config, keys)),
            config,
            wake,
            done: watch::Sender::new(0),
            refetch: Mutex::new(RefetchState {
                last_start,
                in_flight: false,
            }),
        });
        let first_wait = match fetched {
            true => shared.config.refresh_interval,
            false => Duration::ZERO,
        };
        runtime.spawn(refresh_loop(
            Arc::downgrade(&shared),
            woken,
            client,
            first_wait,
        ));
        Ok(JwksCache { shared })
    }

    /// Asks the task for a fetch unless one ran within `min_refetch_interval`, joining one
    /// that is already running. True when a fetch finished meanwhile (check again).
    async fn refetch(&self) -> bool {
        let shared = &self.shared;
        let mut done = shared.done.subscribe();
        {
            let mut state = shared
                .refetch
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !state.in_flight {
                let min = shared.config.min_refetch_interval;
                if state.last_start.is_some_and(|t| t.elapsed() < min) {
                    return false;
                }
                if let Err(mpsc::error::TrySendError::Closed(())) = shared.wake.try_send(()) {
                    return false;
                }
                state.in_flight = true;
                state.last_start = Some(Instant::now());
            }
        }
        let patience = shared.config.fetch_timeout + Duration::from_secs(1);
        matches!(
            tokio::time::timeout(patience, done.changed()).await,
            Ok(Ok(()))
        )
    }
}

// === impl Shared ===

impl Shared {
    fn fetch_started(&self) {
        let mut state = self.refetch.lock().unwrap_or_else(PoisonError::into_inner);
        state.in_flight = true;
        state.last_start = Some(Instant::now());
    }

    fn fetch_finished(&self, keys: Option<Vec<VerifyingKey>>) {
        if let Some(keys) = keys {
            self.current
                .store(Arc::new(Snapshot::new(&self.config, keys)));
        }
        self.refetch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .in_flight = false;
        self.done.send_modify(|n| *n += 1);
    }
}

// === impl Snapshot ===

impl Snapshot {
    fn new(config: &JwksConfig, keys: Vec<VerifyingKey>) -> Snapshot {
        Snapshot {
            kids: keys.iter().map(|k| k.kid().to_owned()).collect(),
            verifier: Verifier::from_keys(
                keys,
                config.issuer.clone(),
                config.audience.clone(),
                config.leeway_secs,
            ),
        }
    }
}

/// The background task: wait for the timer or a wake-up, fetch, install or keep, repeat.
/// Ends when every [`JwksCache`] handle is gone.
async fn refresh_loop(
    shared: Weak<Shared>,
    mut woken: mpsc::Receiver<()>,
    client: reqwest::Client,
    mut wait: Duration,
) {
    let mut failures: u32 = 0;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            message = woken.recv() => if message.is_none() { return },
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.fetch_started();
        let config = &shared.config;
        match fetch_keys(&client, config).await {
            Ok(keys) => {
                if failures > 0 {
                    tracing::info!(url = config.jwks_url, "the JWKS is reachable again");
                }
                tracing::debug!(
                    url = config.jwks_url,
                    keys = keys.len(),
                    "refreshed the JWKS"
                );
                failures = 0;
                wait = config.refresh_interval;
                shared.fetch_finished(Some(keys));
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                wait = backoff(config, failures);
                tracing::warn!(
                    %error,
                    retry_in = ?wait,
                    "JWKS refresh failed; still verifying with the last good key set"
                );
                shared.fetch_finished(None);
            }
        }
        // A wake-up queued while this fetch ran is answered by it.
        while woken.try_recv().is_ok() {}
    }
}

/// `retry_interval` doubled per further failure, never beyond `refresh_interval`.
fn backoff(config: &JwksConfig, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    config
        .retry_interval
        .saturating_mul(factor)
        .min(config.refresh_interval)
}
