//! Loading the signing key: from the configured PEM file, or generated once and kept in the data
//! directory so tokens issued before a restart still verify after it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use scopegate_jwt::SigningKey;

use crate::settings::Settings;

/// The signing key the settings call for.
pub fn load_signing_key(settings: &Settings) -> anyhow::Result<SigningKey> {
    if let Some(path) = &settings.keys.signing_key_file {
        return read_key(path);
    }
    let path = generated_key_path(&settings.storage.data_dir);
    if path.exists() {
        let key = read_key(&path)?;
        if key.algorithm() != settings.keys.algorithm {
            tracing::warn!(
                path = %path.display(),
                key_algorithm = %key.algorithm(),
                configured = %settings.keys.algorithm,
                "the generated signing key uses another algorithm than keys.algorithm; \
                 keeping it (delete the file to generate a new one)"
            );
        }
        return Ok(key);
    }
    let key = SigningKey::generate(settings.keys.algorithm)
        .context("could not generate a signing key")?;
    write_private(&path, key.to_pem().as_bytes())?;
    tracing::info!(path = %path.display(), kid = key.kid(), alg = %key.algorithm(), "generated a signing key");
    Ok(key)
}

/// Where a generated signing key lives.
pub fn generated_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("signing.pem")
}

fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = fs::read_to_string(path)
        .with_context(|| format!("could not read signing key {}", path.display()))?;
    SigningKey::from_pem(&pem)
        .with_context(|| format!("{} is not a usable signing key", path.display()))
}

/// Writes `bytes` to a new file readable only by its owner.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} already exists; not overwriting a key", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("could not create {}", path.display())),
    };
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("could not write {}", path.display()))
}
