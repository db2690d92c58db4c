//! [`HashPool`]: argon2id verifications on dedicated threads, behind a bounded queue.
//!
//! An argon2id verification with the default parameters costs tens of milliseconds of CPU and
//! 19 MiB of memory; running it on the async event loop would stall every other request on that
//! worker. The pool runs it on `hash_workers` std threads fed by a bounded channel. When the
//! channel is full, [`HashPool::verify`] fails at once with `temporarily_unavailable` (503):
//! a burst of password guesses costs the attacker a fast refusal and costs the server neither
//! unbounded memory nor unbounded latency for legitimate requests already queued.
//!
//! Also here: [`hash_secret`] (what `scopegate hash-secret` prints) and the dummy hash used to
//! keep unknown clients and users as slow as known ones.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use thiserror::Error;
use tokio::sync::oneshot;

use crate::error::TokenError;

/// An argon2id hash with the default parameters (m=19456, t=2, p=1) of a random secret nobody
/// knows. Verifying against it costs the same as a real verification, so "no such client" and
/// "no such user" cannot be told apart from "wrong secret" by timing.
pub(crate) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2NvcGVnYXRlLWR1bW15$\
                                     t8ggSMDTkRJDn2gZsPXyHbhozO0O5yxSzyCZiFhLPsc";

/// Hashing a secret failed (system randomness or argon2 refused the input).
#[derive(Debug, Error)]
#[error("could not hash the secret: {0}")]
pub struct HashError(String);

/// The argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) of `secret`, with a random
/// 128-bit salt and the argon2 crate's default parameters. What policy files store.
pub fn hash_secret(secret: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| HashError("random generator failed".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `secret` matches the PHC string `phc`, with memory allocated for this one call
/// (the workers keep theirs, see [`Argon2Memory`]). A malformed `phc` never matches.
#[cfg(test)]
pub(crate) fn verify_secret(phc: &str, secret: &str) -> bool {
    Argon2Memory::default().verify(phc, secret)
}

/// The most argon2 memory one verification may use: 256 MiB (262,144 blocks of 1 KiB). The
/// default parameters use 19 MiB; a stored hash asking for more than this is refused rather
/// than letting one policy entry make a worker allocate without bound.
const MAX_MEMORY_BLOCKS: usize = 256 * 1024;

/// One worker's argon2 memory, kept from one verification to the next.
///
/// argon2's own `verify_password` allocates its memory (19 MiB with the default parameters) on
/// every call and frees it afterwards; under a burst of sign-ins the allocator keeps those
/// freed areas per thread arena, and resident memory grew to 174 MB after six parallel
/// password grants and 873 MB with sixteen workers. A worker that owns its area allocates it
/// once: resident memory is bounded by `hash_workers` × the largest `m` verified.
#[derive(Default)]
pub(crate) struct Argon2Memory {
    /// The blocks, grown to the largest `m` seen; never shrunk.
    blocks: Vec<Block>,
}

impl Argon2Memory {
    /// Whether `secret` matches the PHC string `phc`. A malformed `phc`, or one whose
    /// parameters are unsupported or ask for more than [`MAX_MEMORY_BLOCKS`], never matches.
    /// The derived key is compared in constant time (`password_hash::Output`'s equality).
    pub(crate) fn verify(&mut self, phc: &str, secret: &str) -> bool {
        let result = PasswordHash::new(phc).and_then(|hash| self.check(&hash, secret.as_bytes()));
        result.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "stored secret hash cannot be verified");
            false
        })
    }

    fn check(
        &mut self,
        hash: &PasswordHash<'_>,
        secret: &[u8],
    ) -> Result<bool, argon2::password_hash::Error> {
        use argon2::password_hash::Error;
        let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
            return Err(Error::PhcStringField);
        };
        let algorithm = Algorithm::try_from(hash.algorithm)?;
        let version = hash
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(hash)?;
        let blocks = params.block_count();
        if blocks > MAX_MEMORY_BLOCKS {
            return Err(Error::ParamValueInvalid(
                argon2::password_hash::errors::InvalidValue::TooLong,
            ));
        }
        if self.blocks.len() < blocks {
            self.blocks.resize(blocks, Block::default());
        }
        let mut salt_bytes = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_bytes)?;
        let mut derived = [0u8; Output::MAX_LENGTH];
        let derived = &mut derived[..expected.len()];
        Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            secret,
            salt,
            derived,
            &mut self.blocks[..blocks],
        )?;
        Ok(Output::new(derived)? == *expected)
    }
}

/// One verification waiting for a worker.
struct Job {
    /// The stored PHC hash (a client's secret hash, a user's password hash, or the dummy).
    phc: String,
    /// The presented secret or password.
    secret: String,
    /// Where the answer goes; dropped unanswered only if the worker dies.
    reply: oneshot::Sender<bool>,
}

/// Counters shared between the pool handle and its workers, read by metrics.
#[derive(Default)]
struct Stats {
    /// Jobs accepted but not yet picked up by a worker.
    queued: AtomicUsize,
    /// Jobs refused because the queue was full.
    rejected: AtomicU64,
    /// Verifications run by the workers.
    verified: AtomicU64,
}

/// The handle to the pool; cloning is cheap and every clone feeds the same workers. The
/// workers exit when the last handle is dropped (the channel closes).
#[derive(Clone)]
pub(crate) struct HashPool {
    /// The bounded queue; `try_send` never waits.
    jobs: SyncSender<Job>,
    /// Queue depth and rejections.
    stats: Arc<Stats>,
}

// === impl HashPool ===

impl HashPool {
    /// Starts `workers` threads behind a queue of `queue` waiting jobs.
    pub(crate) fn start(workers: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let stats = Arc::new(Stats::default());
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let stats = Arc::clone(&stats);
            thread::Builder::new()
                .name(format!("scopegate-hash-{i}"))
                .spawn(move || work(&rx, &stats))?;
        }
        Ok(Self { jobs, stats })
    }

    /// Verifies `secret` against `phc` on a worker. `TemporarilyUnavailable` at once when the
    /// queue is full.
    pub(crate) async fn verify(&self, phc: &str, secret: &str) -> Result<bool, TokenError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            phc: phc.to_owned(),
            secret: secret.to_owned(),
            reply,
        };
        // Count before sending so a fast worker never decrements below zero.
        self.stats.queued.fetch_add(1, Ordering::SeqCst);
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.stats.queued.fetch_sub(1, Ordering::SeqCst);
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(TokenError::TemporarilyUnavailable(
                    "too many credential checks in progress; retry later".to_owned(),
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stats.queued.fetch_sub(1, Ordering::SeqCst);
                return Err(TokenError::internal(
                    "hash pool",
                    &"all hash workers are gone",
                ));
            }
        }
        answer
            .await
            .map_err(|_| TokenError::internal("hash pool", &"a hash worker dropped a job"))
    }

    /// Verifications waiting for a worker right now.
    pub(crate) fn queue_depth(&self) -> usize {
        self.stats.queued.load(Ordering::SeqCst)
    }

    /// Verifications refused because the queue was full, since start.
    pub(crate) fn rejections(&self) -> u64 {
        self.stats.rejected.load(Ordering::Relaxed)
    }

    /// Verifications run since start.
    pub(crate) fn verifications(&self) -> u64 {
        self.stats.verified.load(Ordering::Relaxed)
    }
}

/// A worker: takes jobs until the channel closes. The lock is held only while waiting for a
/// job, never during the verification.
fn work(rx: &Mutex<Receiver<Job>>, stats: &Stats) {
    let mut memory = Argon2Memory::default();
    loop {
        let job = {
            let rx = rx.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        stats.queued.fetch_sub(1, Ordering::SeqCst);
        let ok = memory.verify(&job.phc, &job.secret);
        stats.verified.fetch_add(1, Ordering::Relaxed);
        // The requester may have gone away (client disconnected); nothing to do then.
        let _ = job.reply.send(ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_secret_round_trips_with_default_parameters() {
        let phc = hash_secret("s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_secret(&phc, "s3cret"));
        assert!(!verify_secret(&phc, "s3cret "));
        assert_ne!(hash_secret("s3cret").unwrap(), phc, "salt is random");
    }

    #[test]
    fn dummy_hash_costs_as_much_as_a_real_one() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real_phc = hash_secret("x").unwrap();
        let real = PasswordHash::new(&real_phc).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(!verify_secret(DUMMY_HASH, ""));
    }

    #[test]
    fn malformed_hash_never_matches() {
        assert!(!verify_secret("not a phc string", "x"));
        assert!(!verify_secret(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
            "x"
        ));
    }

    #[test]
    fn one_memory_area_verifies_hashes_of_any_parameters_in_turn() {
        let mut memory = Argon2Memory::default();
        let default = hash_secret("pw").unwrap();
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::encode_b64(b"0123456789abcdef").unwrap())
        .unwrap()
        .to_string();
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x10, Params::default())
            .hash_password(b"pw", &SaltString::encode_b64(b"0123456789abcdef").unwrap())
            .unwrap()
            .to_string();
        for phc in [&default, &small, &argon2i, &default, &small] {
            assert!(memory.verify(phc, "pw"), "{phc}");
            assert!(!memory.verify(phc, "pw "), "{phc}");
        }
        // The area grew once, to the default's 19 MiB, and was reused since.
        assert_eq!(memory.blocks.len(), Params::default().block_count());
    }

    #[test]
    fn a_hash_asking_for_more_memory_than_the_cap_never_matches() {
        // m = 1 GiB: refused before any allocation.
        let huge = "$argon2id$v=19$m=1048576,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$\
                    aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        let mut memory = Argon2Memory::default();
        assert!(!memory.verify(huge, "pw"));
        assert!(memory.blocks.is_empty());
    }

    #[actix::test]
    async fn full_queue_is_refused_at_once_and_counted() {
        let phc = hash_secret("pw").unwrap();
        let pool = HashPool::start(1, 1).unwrap();
        let mut handles = Vec::new();
        for _ in 0..8 {
            let pool = pool.clone();
            let phc = phc.clone();
            handles.push(actix::spawn(async move { pool.verify(&phc, "pw").await }));
        }
        let mut ok = 0;
        let mut refused = 0;
        for handle in handles {
            match handle.await.unwrap() {
                Ok(true) => ok += 1,
                Err(TokenError::TemporarilyUnavailable(_)) => refused += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        // Every request got an answer (none hangs); a burst beyond one running plus one
        // queued job is refused.
        assert_eq!(ok + refused, 8);
        assert!(ok >= 1 && refused >= 1, "ok {ok}, refused {refused}");
        assert_eq!(pool.rejections(), refused);
        assert_eq!(pool.queue_depth(), 0);
    }
}
