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
    // Named after the target, so a writer killed mid-write leaves a file
    // the next update (under the lock) knows to remove.
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .tempfile_in(dir)?;
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

/// The name prefix of `path`'s temporary files: `.NAME.tmp-`.
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.tmp-")
}

/// Remove temporary files of `path` left by writers that died mid-write.
/// Only safe under the update lock, when no other writer is at work.
fn remove_stale_temp_files(path: &Path) {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
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
    // Every writer of this file holds the lock while it writes: a
    // temporary file of it now is a dead writer's.
    remove_stale_temp_files(path);
    Ok(UpdateLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_writers_temporary_file_is_removed_by_the_next_update() {
        let dir = tempfile::tempdir().expect("temp dir");
        let model = dir.path().join("m.bin");
        write_atomic(&model, b"one").expect("written");
        // What a writer killed mid-write leaves behind.
        let stale = dir.path().join(".m.bin.tmp-abc123");
        std::fs::write(&stale, b"half").expect("written");
        let other = dir.path().join(".other.bin.tmp-x");
        std::fs::write(&other, b"not ours").expect("written");
        {
            let _lock = lock_for_update(&model).expect("locked");
            write_atomic(&model, b"two").expect("written");
        }
        assert!(!stale.exists());
        assert!(other.exists());
        assert_eq!(std::fs::read(&model).expect("read"), b"two");
    }
}
