//! The rate signature verification alone allows: one thread per token file, each verifying its
//! tokens (all distinct) with a `Verifier` over the keys of a JWKS document, for at most
//! `VERIFY_SECONDS` (default 5). Used by `benches/load/check_fresh.sh` as the ceiling the check
//! endpoint is compared against in the same run.
//!
//!   cargo run --release -p scopegate-jwt --example verify_rate -- JWKS_FILE ISSUER AUDIENCE TOKENS_FILE...

use std::time::{Duration, Instant};

use scopegate_jwt::{Jwks, Verifier, VerifyingKey, unix_now};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [jwks, issuer, audience, files @ ..] = &args[..] else {
        return Err("usage: verify_rate JWKS_FILE ISSUER AUDIENCE TOKENS_FILE...".into());
    };
    let seconds: u64 = std::env::var("VERIFY_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let jwks: Jwks = serde_json::from_str(&std::fs::read_to_string(jwks)?)?;
    let keys = jwks
        .keys
        .iter()
        .map(VerifyingKey::from_jwk)
        .collect::<Result<Vec<_>, _>>()?;
    let verifier = Verifier::from_keys(keys, issuer.as_str(), audience.as_str(), 30);
    let pools: Vec<Vec<String>> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).map(|t| t.lines().map(str::to_owned).collect()))
        .collect::<Result<_, _>>()?;
    let now = unix_now();
    let limit = Duration::from_secs(seconds);
    let started = Instant::now();
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = pools
            .iter()
            .map(|pool| {
                let verifier = &verifier;
                s.spawn(move || {
                    let begin = Instant::now();
                    let mut done = 0;
                    for token in pool {
                        if verifier.verify(token, now).is_err() {
                            panic!("a token did not verify");
                        }
                        done += 1;
                        if done % 256 == 0 && begin.elapsed() > limit {
                            break;
                        }
                    }
                    done
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let total: usize = counts.iter().sum();
    println!(
        "verify-only: {:.0} verifications/s on {} threads ({total} tokens in {elapsed:.2} s)",
        total as f64 / elapsed,
        counts.len()
    );
    Ok(())
}
