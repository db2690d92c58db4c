//! The one-shot subcommands: `hash-secret`, `keys generate`, `policy check`, `cluster reseed`.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use scopegate_core::PolicyDocument;
use scopegate_jwt::{Algorithm, SigningKey};

use crate::keys::write_private;

/// Reads a secret from `input` (one trailing newline removed) and writes its argon2id hash.
pub fn hash_secret(mut input: impl Read, mut output: impl Write) -> anyhow::Result<()> {
    let mut secret = String::new();
    input
        .read_to_string(&mut secret)
        .context("standard input is not UTF-8 text")?;
    let secret = secret
        .strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(&secret);
    anyhow::ensure!(!secret.is_empty(), "the secret on standard input is empty");
    let hash = scopegate_token_issuer::hash_secret(secret)
        .map_err(|e| anyhow::anyhow!("could not hash the secret: {e}"))?;
    writeln!(output, "{hash}")?;
    Ok(())
}

/// Generates a signing key and writes it to `out` or standard output; the kid goes to stderr.
pub fn generate_key(alg: Algorithm, out: Option<&Path>) -> anyhow::Result<()> {
    let key = SigningKey::generate(alg).context("could not generate the key")?;
    let pem = key.to_pem();
    match out {
        Some(path) => {
            write_private(path, pem.as_bytes())?;
            eprintln!("wrote {alg} key {} to {}", key.kid(), path.display());
        }
        None => {
            print!("{pem}");
            eprintln!("kid: {}", key.kid());
        }
    }
    Ok(())
}

/// Validates a policy file, printing `FILE: location: problem` lines. Exit code 1 on problems.
pub fn check_policy(path: &Path, mut out: impl Write) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let doc: PolicyDocument = match toml::from_str(&text) {
        Ok(doc) => doc,
        Err(e) => {
            writeln!(out, "{}: {e}", path.display())?;
            return Ok(ExitCode::FAILURE);
        }
    };
    let problems = doc.validate();
    for problem in &problems {
        writeln!(out, "{}: {problem}", path.display())?;
    }
    if problems.is_empty() {
        writeln!(
            out,
            "{}: ok ({} roles, {} scopes, {} users, {} clients, {} APIs, {} allowlist patterns)",
            path.display(),
            doc.roles.len(),
            doc.scopes.len(),
            doc.users.len(),
            doc.clients.len(),
            doc.apis.len(),
            doc.allowlist.len()
        )?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(out, "{}: {} problem(s)", path.display(), problems.len())?;
        Ok(ExitCode::FAILURE)
    }
}

/// Writes the local snapshot in `settings.storage.data_dir` into the configured Redis (see
/// `scopegate_cluster::reseed`), and says what it wrote.
pub fn reseed(settings: &crate::Settings, mut out: impl Write) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.cluster.enabled(),
        "cluster reseed needs cluster.redis_url (SCOPEGATE__CLUSTER__REDIS_URL): the Redis to \
         re-seed"
    );
    let redis = scopegate_cluster::Redis::open(&settings.cluster)?;
    let snapshot = scopegate_cluster::LocalSnapshot::open(
        &settings.storage.data_dir,
        &settings.cluster.key_prefix,
    )?;
    let done = scopegate_cluster::reseed(&redis, &settings.cluster.names(), &snapshot)
        .with_context(|| format!("could not re-seed Redis from {}", snapshot.dir().display()))?;
    writeln!(
        out,
        "re-seeded Redis (key prefix {}) from {}: policy version {}, {} signing key(s), {} \
         revocation(s); refresh tokens are not in any snapshot, so their holders sign in again",
        settings.cluster.key_prefix,
        snapshot.dir().display(),
        done.version,
        done.keys,
        done.revocations
    )?;
    Ok(())
}
