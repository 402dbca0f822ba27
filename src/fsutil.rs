//! Writing data files (models, reputation filters) so a crash never leaves a
//! broken file behind, and locking them for read-modify-write updates.

use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` atomically: a temporary file in the same folder,
/// synced, then renamed over the target. An existing file's permissions are
/// kept; a new file is readable by all (0644).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0o644);
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// An exclusive lock for a read-modify-write update of a data file, held
/// until dropped.
///
/// The lock is taken on a lock file beside the data file (`FILE.lock`),
/// not on the data file itself, which each update replaces by a rename. It
/// is the operating system's advisory file lock (`flock` on Unix), so
/// `spamsift learn` runs, `spamsift train`, and a server saving feedback
/// take turns instead of overwriting each other's updates; the lock goes
/// with the process if it dies.
#[derive(Debug)]
pub struct UpdateLock {
    _file: std::fs::File,
}

/// Wait for, and take, the update lock of `path`.
pub fn lock_for_update(path: &Path) -> std::io::Result<UpdateLock> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(name)?;
    file.lock()?;
    Ok(UpdateLock { _file: file })
}
