//! [`LocalSnapshot`]: what a cluster node keeps of the shared state in its own data directory,
//! so that it can start while Redis is unreachable, never forgets a revocation across a
//! restart, and can re-seed a Redis that lost its data; and [`SnapshotWriter`], the thread that
//! keeps it current as the node applies changes.
//!
//! # Layout (`{data_dir}/cluster/`, mode 0700; every file 0600)
//! - `policy.json`: `{"format": 1, "key_prefix", "version", "written_at", "document"}`: the
//!   policy this node serves, at its version.
//! - `keys.json`: `{"format": 1, "key_prefix", "keys": {kid: record}}`: the key ring, each
//!   record exactly as Redis holds it (the private half sealed with the key-encryption key).
//! - `revocations.json`: `{"format": 1, "key_prefix", "tokens": [[jti, exp]], "subjects":
//!   [[subject, {"before", "keep_until"}]]}`.
//!
//! # Why whole files, replaced atomically, rather than a database
//! Each file is the whole state of its kind at one moment, written to a temporary file,
//! `fsync`ed and renamed over the old one (then the directory is `fsync`ed), so a crash leaves
//! the old file or the new one, never a mix. There is no log to replay or compact: these are
//! copies of what Redis holds, not the truth, and a node that starts from them catches up from
//! Redis as soon as it answers. Plain files can be read by another process while the node runs
//! (redb locks its file to one process), which is what `scopegate cluster reseed` does, and an
//! operator can read and copy them with ordinary tools. The cost, serialising the whole policy,
//! is paid on the writer's own thread, at most once per burst of changes.
//!
//! Every file names the deployment's `key_prefix`; a snapshot of another deployment (the prefix
//! changed) is ignored, never loaded.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use scopegate_core::{Policy, PolicyDocument};
use scopegate_scope_validator::{RevocationEvent, Revocations, SubjectRevocation};
use serde::{Deserialize, Serialize};

use crate::error::ClusterError;

/// The directory inside the data directory.
pub const DIR_NAME: &str = "cluster";

/// The layout version this build reads and writes.
pub const FORMAT: u64 = 1;

/// How long past its expiry a revocation is kept in the file (longer than any leeway).
const KEEP_AFTER_EXPIRY_SECS: u64 = 3_600;

/// The snapshot directory of one node for one deployment.
#[derive(Debug, Clone)]
pub struct LocalSnapshot {
    /// `{data_dir}/cluster`.
    dir: PathBuf,
    /// The deployment's key prefix, written into and checked in every file.
    key_prefix: String,
}

/// `policy.json`.
#[derive(Serialize, Deserialize)]
struct PolicyFile {
    format: u64,
    key_prefix: String,
    version: u64,
    /// When the file was written, seconds since the Unix epoch.
    written_at: u64,
    document: PolicyDocument,
}

/// `keys.json`.
#[derive(Serialize, Deserialize)]
struct KeysFile {
    format: u64,
    key_prefix: String,
    /// kid → the record as Redis holds it (sealed).
    keys: BTreeMap<String, String>,
}

/// `revocations.json`.
#[derive(Serialize, Deserialize, Default)]
struct RevocationsFile {
    format: u64,
    key_prefix: String,
    tokens: Vec<(String, u64)>,
    subjects: Vec<(String, SubjectRevocation)>,
}

/// The header every file starts with, read first to check format and deployment.
#[derive(Deserialize)]
struct Header {
    format: u64,
    key_prefix: String,
}

// === impl LocalSnapshot ===

impl LocalSnapshot {
    /// The snapshot of deployment `key_prefix` in `{data_dir}/cluster`, creating the
    /// directory (0700) if needed and tightening its mode if it exists.
    pub fn open(data_dir: &Path, key_prefix: &str) -> Result<Self, ClusterError> {
        let dir = data_dir.join(DIR_NAME);
        private_dir(data_dir, false)
            .and_then(|()| private_dir(&dir, true))
            .map_err(|e| {
                ClusterError::Config(format!(
                    "cannot create the cluster snapshot directory {}: {e}",
                    dir.display()
                ))
            })?;
        Ok(Self {
            dir,
            key_prefix: key_prefix.to_owned(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The policy of the last run, if this deployment's snapshot holds one.
    pub fn load_policy(&self) -> Result<Option<Policy>, ClusterError> {
        let Some(file) = self.read::<PolicyFile>("policy.json")? else {
            return Ok(None);
        };
        Policy::from_document(file.version, file.document)
            .map(Some)
            .map_err(|e| self.corrupt("policy.json", &e.to_string()))
    }

    /// Replaces `policy.json` with `policy`.
    pub fn write_policy(&self, policy: &Policy) -> Result<(), ClusterError> {
        self.write(
            "policy.json",
            &PolicyFile {
                format: FORMAT,
                key_prefix: self.key_prefix.clone(),
                version: policy.version(),
                written_at: scopegate_jwt::unix_now(),
                document: policy.to_document(),
            },
        )
    }

    /// The key ring's records (kid → the record as Redis holds it), if the snapshot has them.
    pub fn load_keys(&self) -> Result<Option<BTreeMap<String, String>>, ClusterError> {
        Ok(self.read::<KeysFile>("keys.json")?.map(|f| f.keys))
    }

    /// Replaces `keys.json` with `keys`.
    pub fn write_keys(&self, keys: &BTreeMap<String, String>) -> Result<(), ClusterError> {
        self.write(
            "keys.json",
            &KeysFile {
                format: FORMAT,
                key_prefix: self.key_prefix.clone(),
                keys: keys.clone(),
            },
        )
    }

    /// The revocations of the last run (empty if there are none).
    pub fn load_revocations(&self) -> Result<Revocations, ClusterError> {
        Ok(self
            .read::<RevocationsFile>("revocations.json")?
            .map(|f| Revocations {
                tokens: f.tokens,
                subjects: f.subjects,
            })
            .unwrap_or_default())
    }

    /// Replaces `revocations.json` with `revocations`.
    pub fn write_revocations(&self, revocations: &Revocations) -> Result<(), ClusterError> {
        self.write(
            "revocations.json",
            &RevocationsFile {
                format: FORMAT,
                key_prefix: self.key_prefix.clone(),
                tokens: revocations.tokens.clone(),
                subjects: revocations.subjects.clone(),
            },
        )
    }

    /// Reads and decodes `name`; `None` if it does not exist or belongs to another deployment.
    fn read<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ClusterError> {
        let path = self.dir.join(name);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ClusterError::Unavailable(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let header: Header = serde_json::from_slice(&bytes)
            .map_err(|e| self.corrupt(name, &format!("undecodable ({})", e.classify_text())))?;
        if header.format != FORMAT {
            return Err(self.corrupt(
                name,
                &format!("format {} (this build reads {FORMAT})", header.format),
            ));
        }
        if header.key_prefix != self.key_prefix {
            tracing::warn!(
                file = %path.display(),
                found = %header.key_prefix,
                configured = %self.key_prefix,
                "the local snapshot belongs to another deployment (key prefix); ignoring it"
            );
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| self.corrupt(name, &format!("undecodable ({})", e.classify_text())))
    }

    /// Writes `value` to `name` atomically (temporary file, `fsync`, rename, directory
    /// `fsync`), mode 0600.
    fn write(&self, name: &str, value: &impl Serialize) -> Result<(), ClusterError> {
        let path = self.dir.join(name);
        let failed = |e: std::io::Error| {
            ClusterError::Unavailable(format!("cannot write {}: {e}", path.display()))
        };
        let bytes = serde_json::to_vec(value)
            .map_err(|e| ClusterError::Unavailable(format!("cannot encode {name}: {e}")))?;
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(failed)?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(failed)?;
        drop(file);
        fs::rename(&tmp, &path).map_err(failed)?;
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(failed)
    }

    fn corrupt(&self, name: &str, reason: &str) -> ClusterError {
        ClusterError::Corrupt {
            key: self.dir.join(name).display().to_string(),
            reason: reason.to_owned(),
        }
    }
}

/// A short, input-free description of a JSON error (serde's message may quote the input,
/// which holds password hashes).
trait ClassifyText {
    fn classify_text(&self) -> String;
}

impl ClassifyText for serde_json::Error {
    fn classify_text(&self) -> String {
        format!(
            "{:?} at line {} column {}",
            self.classify(),
            self.line(),
            self.column()
        )
    }
}

/// Creates `dir` (0700) if it is missing; with `tighten`, also sets 0700 on an existing one,
/// which only warns when not allowed (a directory another user made). The data directory
/// itself is never changed once it exists: it may be a volume the process does not own (a
/// Kubernetes emptyDir), whose mode is the platform's business.
fn private_dir(dir: &Path, tighten: bool) -> std::io::Result<()> {
    let existed = dir.is_dir();
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        builder.mode(0o700);
        builder.create(dir)?;
        if existed
            && tighten
            && let Err(e) = fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot make the snapshot directory private (0700)");
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = (existed, tighten);
        builder.create(dir)
    }
}

/// One revocation event as a (one-entry) [`Revocations`].
pub fn revocations_of(event: &RevocationEvent) -> Revocations {
    match event {
        RevocationEvent::Token { jti, exp } => Revocations {
            tokens: vec![(jti.clone(), *exp)],
            subjects: Vec::new(),
        },
        RevocationEvent::Subject {
            subject,
            before,
            keep_until,
        } => Revocations {
            tokens: Vec::new(),
            subjects: vec![(
                subject.clone(),
                SubjectRevocation {
                    before: *before,
                    keep_until: *keep_until,
                },
            )],
        },
    }
}

/// The union of two views of the revocation list: for each entry, the later times win (the
/// list only grows until entries expire, so the union is exact).
pub fn union(a: Revocations, b: Revocations) -> Revocations {
    let mut set = RevocationMap::default();
    set.merge(a);
    set.merge(b);
    set.into_revocations(0)
}

/// Revocations keyed for merging.
#[derive(Default)]
struct RevocationMap {
    tokens: HashMap<String, u64>,
    subjects: HashMap<String, SubjectRevocation>,
}

impl RevocationMap {
    fn merge(&mut self, r: Revocations) {
        for (jti, exp) in r.tokens {
            let e = self.tokens.entry(jti).or_insert(exp);
            *e = (*e).max(exp);
        }
        for (subject, s) in r.subjects {
            self.subjects
                .entry(subject)
                .and_modify(|old| *old = old.merge(s))
                .or_insert(s);
        }
    }

    /// The entries still needed after `cutoff` (0: all), sorted so the file is stable.
    fn into_revocations(self, cutoff: u64) -> Revocations {
        let mut tokens: Vec<_> = self
            .tokens
            .into_iter()
            .filter(|(_, exp)| *exp >= cutoff)
            .collect();
        tokens.sort();
        let mut subjects: Vec<_> = self
            .subjects
            .into_iter()
            .filter(|(_, s)| s.keep_until >= cutoff)
            .collect();
        subjects.sort_by(|a, b| a.0.cmp(&b.0));
        Revocations { tokens, subjects }
    }
}

/// What the writer thread is told.
enum Update {
    /// The node now serves this policy.
    Policy(Arc<Policy>),
    /// Revocations to merge in (an event, or a whole list read from Redis).
    Revocations(Revocations),
    /// Answer on the channel once everything sent before is written.
    Flush(mpsc::Sender<()>),
}

/// The handle on the thread that writes the snapshot: callers hand it what changed and never
/// wait; the thread writes each file at most once per burst of changes, the newest state.
#[derive(Clone)]
pub struct SnapshotWriter {
    /// To the thread.
    tx: mpsc::Sender<Update>,
    /// The files.
    snapshot: Arc<LocalSnapshot>,
}

impl std::fmt::Debug for SnapshotWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotWriter")
            .field("dir", &self.snapshot.dir)
            .finish()
    }
}

// === impl SnapshotWriter ===

impl SnapshotWriter {
    /// Starts the writer thread on `snapshot`; it runs until every handle is dropped.
    pub fn start(snapshot: LocalSnapshot) -> Result<Self, ClusterError> {
        let mut revocations = RevocationMap::default();
        match snapshot.load_revocations() {
            Ok(r) => revocations.merge(r),
            Err(e) => {
                tracing::warn!(error = %e, "the local revocation snapshot is unreadable; rewriting it")
            }
        }
        let snapshot = Arc::new(snapshot);
        let (tx, rx) = mpsc::channel();
        let files = Arc::clone(&snapshot);
        std::thread::Builder::new()
            .name("scopegate-snapshot".into())
            .spawn(move || write_loop(&files, &rx, revocations))
            .map_err(|e| {
                ClusterError::Unavailable(format!("cannot start the snapshot writer: {e}"))
            })?;
        Ok(Self { tx, snapshot })
    }

    /// The files written.
    pub fn snapshot(&self) -> &Arc<LocalSnapshot> {
        &self.snapshot
    }

    /// The node now serves `policy`.
    pub fn policy(&self, policy: &Arc<Policy>) {
        let _ = self.tx.send(Update::Policy(Arc::clone(policy)));
    }

    /// Merges `revocations` into the snapshot.
    pub fn revocations(&self, revocations: Revocations) {
        let _ = self.tx.send(Update::Revocations(revocations));
    }

    /// Waits until everything handed over before is written (tests, and a clean shutdown).
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Update::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

/// The writer thread: takes every pending update, then writes what changed.
fn write_loop(snapshot: &LocalSnapshot, rx: &mpsc::Receiver<Update>, mut revoked: RevocationMap) {
    let mut written_version = None;
    while let Ok(first) = rx.recv() {
        let mut policy = None;
        let mut revocations_changed = false;
        let mut flushes = Vec::new();
        for update in std::iter::once(first).chain(rx.try_iter()) {
            match update {
                Update::Policy(p) => policy = Some(p),
                Update::Revocations(r) => {
                    revoked.merge(r);
                    revocations_changed = true;
                }
                Update::Flush(done) => flushes.push(done),
            }
        }
        if let Some(policy) = policy.filter(|p| written_version != Some(p.version())) {
            match snapshot.write_policy(&policy) {
                Ok(()) => written_version = Some(policy.version()),
                Err(e) => tracing::warn!(error = %e, "could not write the local policy snapshot"),
            }
        }
        if revocations_changed {
            let cutoff = scopegate_jwt::unix_now().saturating_sub(KEEP_AFTER_EXPIRY_SECS);
            let current = std::mem::take(&mut revoked).into_revocations(cutoff);
            if let Err(e) = snapshot.write_revocations(&current) {
                tracing::warn!(error = %e, "could not write the local revocation snapshot");
            }
            revoked.merge(current);
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(version: u64) -> Policy {
        let doc: PolicyDocument =
            serde_json::from_value(serde_json::json!({"scopes": [{"key": "news_read"}]}))
                .expect("document");
        Policy::from_document(version, doc).expect("policy")
    }

    #[test]
    fn files_are_private_and_round_trip() {
        let data = tempfile::tempdir().expect("tempdir");
        let snapshot = LocalSnapshot::open(&data.path().join("data"), "prod").expect("open");
        assert!(snapshot.load_policy().expect("read").is_none());
        assert!(snapshot.load_keys().expect("read").is_none());
        assert_eq!(
            snapshot.load_revocations().expect("read"),
            Revocations::default()
        );

        snapshot.write_policy(&policy(7)).expect("write");
        let keys = BTreeMap::from([("kid1".to_owned(), "{\"sealed\":\"x\"}".to_owned())]);
        snapshot.write_keys(&keys).expect("write");
        let revocations = Revocations {
            tokens: vec![("j1".into(), 100)],
            subjects: vec![(
                "alex".into(),
                SubjectRevocation {
                    before: 5,
                    keep_until: 50,
                },
            )],
        };
        snapshot.write_revocations(&revocations).expect("write");

        let loaded = snapshot.load_policy().expect("read").expect("policy");
        assert_eq!(loaded.version(), 7);
        assert!(loaded.scope("news_read").is_some());
        assert_eq!(snapshot.load_keys().expect("read"), Some(keys));
        assert_eq!(snapshot.load_revocations().expect("read"), revocations);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode(snapshot.dir()), 0o700);
            assert_eq!(mode(&data.path().join("data")), 0o700, "created private");
            // An existing snapshot directory made too open is tightened; an existing data
            // directory (a volume) is left as the platform made it.
            let volume = data.path().join("data");
            fs::set_permissions(snapshot.dir(), fs::Permissions::from_mode(0o755)).unwrap();
            fs::set_permissions(&volume, fs::Permissions::from_mode(0o777)).unwrap();
            let again = LocalSnapshot::open(&volume, "prod").expect("open");
            assert_eq!(mode(again.dir()), 0o700);
            assert_eq!(mode(&volume), 0o777);
            for name in ["policy.json", "keys.json", "revocations.json"] {
                assert_eq!(mode(&snapshot.dir().join(name)), 0o600, "{name}");
            }
            let leftovers: Vec<_> = fs::read_dir(snapshot.dir())
                .expect("list")
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");
        }

        // Another deployment's snapshot is not this one's.
        let other = LocalSnapshot::open(&data.path().join("data"), "staging").expect("open");
        assert!(other.load_policy().expect("read").is_none());
    }

    #[test]
    fn damage_is_an_error_naming_the_file_never_an_empty_snapshot() {
        let data = tempfile::tempdir().expect("tempdir");
        let snapshot = LocalSnapshot::open(data.path(), "p").expect("open");
        fs::write(snapshot.dir().join("policy.json"), "{\"format\":1,").expect("write");
        let err = snapshot.load_policy().expect_err("damaged").to_string();
        assert!(err.contains("policy.json"), "{err}");
        fs::write(
            snapshot.dir().join("policy.json"),
            "{\"format\":9,\"key_prefix\":\"p\"}",
        )
        .expect("write");
        let err = snapshot.load_policy().expect_err("format").to_string();
        assert!(err.contains("format 9"), "{err}");
    }

    #[test]
    fn the_writer_merges_revocations_and_writes_the_newest_policy() {
        let data = tempfile::tempdir().expect("tempdir");
        let snapshot = LocalSnapshot::open(data.path(), "p").expect("open");
        let far = scopegate_jwt::unix_now() + 3_600;
        snapshot
            .write_revocations(&Revocations {
                tokens: vec![("old".into(), far)],
                subjects: Vec::new(),
            })
            .expect("write");
        let writer = SnapshotWriter::start(snapshot.clone()).expect("start");
        for version in 1..=5 {
            writer.policy(&Arc::new(policy(version)));
        }
        writer.revocations(revocations_of(&RevocationEvent::Token {
            jti: "new".into(),
            exp: far,
        }));
        writer.revocations(revocations_of(&RevocationEvent::Subject {
            subject: "alex".into(),
            before: 10,
            keep_until: far,
        }));
        writer.revocations(revocations_of(&RevocationEvent::Token {
            jti: "expired".into(),
            exp: 1,
        }));
        writer.flush();
        assert_eq!(
            snapshot.load_policy().expect("read").map(|p| p.version()),
            Some(5)
        );
        let r = snapshot.load_revocations().expect("read");
        let jtis: Vec<&str> = r.tokens.iter().map(|(j, _)| j.as_str()).collect();
        assert_eq!(
            jtis,
            ["new", "old"],
            "kept across restarts, expired ones pruned"
        );
        assert_eq!(r.subjects.len(), 1);
    }

    #[test]
    fn union_keeps_the_later_times() {
        let a = Revocations {
            tokens: vec![("j".into(), 10)],
            subjects: vec![(
                "s".into(),
                SubjectRevocation {
                    before: 5,
                    keep_until: 50,
                },
            )],
        };
        let b = Revocations {
            tokens: vec![("j".into(), 20), ("k".into(), 1)],
            subjects: vec![(
                "s".into(),
                SubjectRevocation {
                    before: 7,
                    keep_until: 40,
                },
            )],
        };
        let u = union(a, b);
        assert_eq!(u.tokens, vec![("j".into(), 20), ("k".into(), 1)]);
        assert_eq!(
            u.subjects[0].1,
            SubjectRevocation {
                before: 7,
                keep_until: 50
            }
        );
    }
}
