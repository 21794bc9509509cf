//! Files under the data directory are private: the directory is created 0700 and every file in
//! it 0600 (contracts: log.db with its WAL, gateway.db, signing.key, the PII salt, checkpoints).
//! SQLite creates `-wal` and `-shm` with the mode of their database, so creating the database
//! file first with 0600 is enough for those. Existing files and directories keep their modes: an
//! operator may have set them on purpose.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Create `dir` (and missing parents) with mode 0700.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Create `path` empty with mode 0600 if it does not exist yet, so a library that opens it
/// afterwards (SQLite) keeps that mode.
pub fn precreate_private(path: &Path) -> io::Result<()> {
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Open `path` for appending, creating it with mode 0600.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}
