//! Damaged or misplaced stores fail with a message naming the path, never as an empty store.

use std::fs;

use scopegate_policy_store::{EmbeddedBackend, LoadError, PolicyStoreHandle, StoreError};

use crate::support::{backend, role, seed};

fn open_error(dir: &std::path::Path) -> LoadError {
    match EmbeddedBackend::open(dir) {
        Ok(_) => panic!("opening {} should fail", dir.display()),
        Err(e) => e,
    }
}

#[test]
fn garbage_in_the_database_file_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.redb");
    for garbage in [
        b"this is not a redb database".to_vec(),
        vec![0xAB; 64 * 1024],
    ] {
        fs::write(&file, &garbage).unwrap();
        let err = open_error(dir.path());
        let message = err.to_string();
        assert!(matches!(err, LoadError::Corrupt { .. }), "{err:?}");
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains("refuses to start"), "{message}");
        // The damaged file is left as it was, for the operator to inspect or restore.
        assert_eq!(fs::read(&file).unwrap(), garbage);
    }
}

#[test]
fn a_regular_file_as_data_dir_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("data");
    fs::write(&not_a_dir, "oops").unwrap();
    let err = open_error(&not_a_dir);
    let message = err.to_string();
    assert!(matches!(err, LoadError::Open { .. }), "{err:?}");
    assert!(
        message.contains(&not_a_dir.display().to_string()),
        "{message}"
    );
    assert!(message.contains("not a directory"), "{message}");
    assert!(message.contains("refuses to start"), "{message}");
}

#[test]
fn a_directory_where_the_database_file_belongs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.redb");
    fs::create_dir(&file).unwrap();
    let err = open_error(dir.path());
    let message = err.to_string();
    assert!(matches!(err, LoadError::Open { .. }), "{err:?}");
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains("is a directory"), "{message}");
}

#[test]
fn a_missing_data_dir_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("var/lib/scopegate");
    let backend = EmbeddedBackend::open(&nested).unwrap();
    assert!(nested.join("policy.redb").is_file());
    assert_eq!(backend.path(), nested.join("policy.redb"));
}

#[test]
fn a_store_open_twice_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _first = EmbeddedBackend::open(dir.path()).unwrap();
    let err = open_error(dir.path());
    assert!(matches!(err, LoadError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("already open"), "{err}");
}

#[actix::test]
async fn a_corrupt_store_fails_start_instead_of_reseeding() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut b = backend(dir.path());
        let policy = scopegate_core::Policy::default().apply(&role("r")).unwrap();
        b.append(&role("r"), &policy).unwrap();
    }
    let file = dir.path().join("policy.redb");
    let mut bytes = fs::read(&file).unwrap();
    // Damage the header (magic number and god byte) as a bad disk or a stray write would.
    bytes[..16].fill(0xFF);
    fs::write(&file, &bytes).unwrap();
    let err = match EmbeddedBackend::open(dir.path()) {
        Ok(b) => match PolicyStoreHandle::start(Box::new(b), Some(seed())) {
            Ok(_) => panic!("a damaged store must not start"),
            Err(e) => e,
        },
        Err(e) => StoreError::Load(e),
    };
    assert!(
        matches!(err, StoreError::Load(LoadError::Corrupt { .. })),
        "{err:?}"
    );
    assert_eq!(
        fs::read(&file).unwrap(),
        bytes,
        "the damaged file is left untouched"
    );
}

#[test]
fn damage_inside_the_database_is_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut b = backend(dir.path());
        let mut policy = scopegate_core::Policy::default();
        for i in 0..50 {
            let event = role(&format!("role-{i}"));
            policy = policy.apply(&event).unwrap();
            b.append(&event, &policy).unwrap();
        }
    }
    let file = dir.path().join("policy.redb");
    let mut bytes = fs::read(&file).unwrap();
    // Flip one byte in twenty past the header (xorshift, so the damage is reproducible).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..bytes.len() / 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = 512 + (x as usize) % (bytes.len() - 512);
        bytes[at] ^= 0x5A;
    }
    fs::write(&file, &bytes).unwrap();
    let err = match EmbeddedBackend::open(dir.path()) {
        Ok(mut b) => match scopegate_policy_store::PolicyBackend::load(&mut b) {
            Ok(p) => panic!("a damaged store loaded as {:?}", p.map(|p| p.version())),
            Err(e) => e,
        },
        Err(e) => e,
    };
    assert!(matches!(err, LoadError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
}
