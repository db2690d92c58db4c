//! Files only scopegate may read: the embedded stores hold password and secret hashes (the
//! policy), refresh-token hashes and revocations. Their directory is made `0700` and each
//! database file `0600` when created, and an existing one is tightened when opened, whatever the
//! process umask. Shared by the three embedded stores (policy, refresh tokens, revocations).

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// The mode of a database file.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with mode `0700`, or sets an existing one to `0700`.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            if meta.permissions().mode() & 0o777 != DIR_MODE {
                fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
            }
            Ok(())
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the data directory exists but is not a directory",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)?;
            // The mode given to mkdir is masked by the umask; make sure.
            fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
        }
        Err(e) => Err(e),
    }
}

/// Creates `path` empty with mode `0600` if it does not exist, or sets an existing file to
/// `0600`; the database engine then opens it.
pub fn private_file(path: &Path) -> io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)?;
    if file.metadata()?.permissions().mode() & 0o777 != FILE_MODE {
        file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn created_private_and_tightened_when_found_open() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("a/data");
        private_dir(&dir).expect("created");
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("x.redb");
        private_file(&file).expect("created");
        assert_eq!(mode(&file), 0o600);

        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
        fs::write(&file, b"kept").expect("write");
        private_dir(&dir).expect("tightened");
        private_file(&file).expect("tightened");
        assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
        assert_eq!(fs::read(&file).expect("read"), b"kept", "content untouched");
    }
}
