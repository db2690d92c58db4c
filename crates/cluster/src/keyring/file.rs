//! [`FileKeyStore`]: the key ring of a single node, in `{data_dir}/keys/ring.json` (mode 0600,
//! replaced atomically), for deployments without Redis.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use scopegate_jwt::{Algorithm, SigningKey};
use serde::{Deserialize, Serialize};

use super::{KeyStore, RingKey};
use crate::error::ClusterError;

/// One stored key: the private half as PKCS#8 PEM, protected by the file's permissions like the
/// single signing-key file it replaces.
#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    alg: Algorithm,
    created_at: u64,
    activate_at: u64,
    pem: String,
}

/// The key ring in one JSON file.
#[derive(Debug)]
pub struct FileKeyStore {
    path: PathBuf,
}

// === impl FileKeyStore ===

impl FileKeyStore {
    /// The ring at `{data_dir}/keys/ring.json` (created on first write).
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("keys").join("ring.json"),
        }
    }

    fn corrupt(&self, reason: impl std::fmt::Display) -> ClusterError {
        ClusterError::Corrupt {
            key: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    fn write(&self, keys: &[RingKey]) -> Result<(), ClusterError> {
        let stored: Vec<StoredKey> = keys
            .iter()
            .map(|k| StoredKey {
                kid: k.key.kid().to_owned(),
                alg: k.key.algorithm(),
                created_at: k.created_at,
                activate_at: k.activate_at,
                pem: k.key.to_pem(),
            })
            .collect();
        let json = serde_json::to_vec_pretty(&stored).map_err(|e| self.corrupt(e))?;
        let io =
            |e: std::io::Error| ClusterError::Unavailable(format!("{}: {e}", self.path.display()));
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io)?;
        let tmp = self.path.with_extension("json.tmp");
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io)?;
        file.write_all(&json)
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        fs::rename(&tmp, &self.path).map_err(io)?;
        Ok(())
    }
}

impl KeyStore for FileKeyStore {
    fn load(&mut self) -> Result<Vec<RingKey>, ClusterError> {
        let text = match fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(ClusterError::Unavailable(format!(
                    "{}: {e}",
                    self.path.display()
                )));
            }
        };
        let stored: Vec<StoredKey> = serde_json::from_slice(&text).map_err(|e| self.corrupt(e))?;
        stored
            .into_iter()
            .map(|s| {
                let key = SigningKey::from_pem(&s.pem).map_err(|e| self.corrupt(e))?;
                if key.kid() != s.kid || key.algorithm() != s.alg {
                    return Err(
                        self.corrupt(format!("key {} does not match its kid or alg", s.kid))
                    );
                }
                Ok(RingKey {
                    key,
                    created_at: s.created_at,
                    activate_at: s.activate_at,
                })
            })
            .collect()
    }

    fn seed(&mut self, key: &RingKey) -> Result<bool, ClusterError> {
        if !self.load()?.is_empty() {
            return Ok(false);
        }
        self.write(std::slice::from_ref(key))?;
        Ok(true)
    }

    fn add(&mut self, key: &RingKey) -> Result<(), ClusterError> {
        let mut keys = self.load()?;
        keys.push(key.clone());
        self.write(&keys)
    }

    fn remove(&mut self, kids: &[String]) -> Result<(), ClusterError> {
        let mut keys = self.load()?;
        keys.retain(|k| !kids.iter().any(|kid| kid == k.key.kid()));
        self.write(&keys)
    }

    fn describe(&self) -> String {
        format!("key ring file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_once_adds_removes_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = FileKeyStore::new(dir.path());
        assert!(store.load().unwrap().is_empty());
        let a = RingKey {
            key: SigningKey::generate(Algorithm::EdDSA).unwrap(),
            created_at: 1,
            activate_at: 0,
        };
        let b = RingKey {
            key: SigningKey::generate(Algorithm::ES256).unwrap(),
            created_at: 2,
            activate_at: 12,
        };
        assert!(store.seed(&a).unwrap());
        assert!(!store.seed(&b).unwrap(), "a second seed is ignored");
        store.add(&b).unwrap();
        let kids: Vec<String> = FileKeyStore::new(dir.path())
            .load()
            .unwrap()
            .iter()
            .map(|k| k.key.kid().to_owned())
            .collect();
        assert_eq!(kids, [a.key.kid(), b.key.kid()]);
        store.remove(&[a.key.kid().to_owned()]).unwrap();
        assert_eq!(store.load().unwrap().len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("keys/ring.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "ring file is private");
        }
    }

    #[test]
    fn a_damaged_ring_is_an_error_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("keys")).unwrap();
        fs::write(dir.path().join("keys/ring.json"), "[{").unwrap();
        assert!(matches!(
            FileKeyStore::new(dir.path()).load(),
            Err(ClusterError::Corrupt { .. })
        ));
    }
}
