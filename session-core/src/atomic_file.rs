//! Atomic replacement of a private file: the one rule every file the workspace writes follows.
//!
//! The new bytes go to a temporary file in the same directory, created exclusively under a
//! name with 64 random bits (so writers in one process or several never share one), mode
//! 0600 from the start; the file is fsynced and renamed over the target, then the directory is
//! fsynced so the rename itself survives a crash. A reader, or a crash at any moment, sees the
//! old file or the new one, whole; of concurrent writers to one path the last rename wins and
//! no file is ever a mix of two writers' bytes.
//!
//! ```
//! # let dir = std::env::temp_dir().join(format!("atomic-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("state.json");
//! session_core::atomic_file::write(&path, b"{}\n")?;
//! assert_eq!(std::fs::read(&path)?, b"{}\n");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many temporary names are tried before giving up (a clash of 64 random bits means
/// something else is creating files under our names).
const NAME_ATTEMPTS: u32 = 16;

/// A step of an atomic write that failed, with the file it was done to and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct AtomicWriteError {
    /// What was being done: "cannot create a temporary file for", "cannot write",
    /// "cannot flush", "cannot replace", "cannot flush the directory" …
    pub action: &'static str,
    /// The file or directory the step was about.
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: io::Error,
}

/// Replaces `path` with `bytes` atomically, as a 0600 file. The temporary file is named
/// `.<file name>.<16 hex digits>.tmp`; the directory must exist.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    write_with_temp_name(path, bytes, &format!(".{name}."), ".tmp")
}

/// As [`write()`], with the temporary file named `<prefix><16 hex digits>`: for directories whose
/// owner removes writers' leftovers by prefix.
pub fn write_with_temp_prefix(
    path: &Path,
    bytes: &[u8],
    prefix: &str,
) -> Result<(), AtomicWriteError> {
    write_with_temp_name(path, bytes, prefix, "")
}

fn write_with_temp_name(
    path: &Path,
    bytes: &[u8],
    prefix: &str,
    suffix: &str,
) -> Result<(), AtomicWriteError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let fail = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| AtomicWriteError {
            action,
            path,
            source,
        }
    };
    let (temp_path, mut file) = create_temp(dir, prefix, suffix)
        .map_err(fail("cannot create a temporary file for", path))?;
    let result = (|| {
        // The mode given at creation is narrowed by the umask; this makes it exactly 0600.
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(fail("cannot set permissions of", &temp_path))?;
        file.write_all(bytes)
            .map_err(fail("cannot write", &temp_path))?;
        file.sync_all().map_err(fail("cannot flush", &temp_path))?;
        fs::rename(&temp_path, path).map_err(fail("cannot replace", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp_path);
    }
    result?;
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(fail("cannot flush the directory", dir))
}

/// Creates a new file under a random name in `dir`. `create_new` never opens an existing file
/// (nor follows a symlink planted under the name), so no other writer's file is ever reused.
fn create_temp(dir: &Path, prefix: &str, suffix: &str) -> io::Result<(PathBuf, File)> {
    for _ in 0..NAME_ATTEMPTS {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random)
            .map_err(|e| io::Error::other(format!("no randomness for a file name: {e}")))?;
        let candidate = dir.join(format!(
            "{prefix}{:016x}{suffix}",
            u64::from_le_bytes(random)
        ));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&candidate)
        {
            Ok(file) => return Ok((candidate, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from(io::ErrorKind::AlreadyExists))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "atomic-file-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_a_private_file_and_leaves_no_temporary_file() {
        let dir = temp_dir("private");
        let path = dir.join("a.json");
        write(&path, b"one").unwrap();
        write(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_file() {
        let dir = temp_dir("failed");
        let path = dir.join("target");
        // A directory cannot be replaced by a file: the rename fails.
        fs::create_dir(&path).unwrap();
        let error = write_with_temp_prefix(&path, b"new", ".tmp-").unwrap_err();
        assert_eq!(error.action, "cannot replace");
        assert!(path.is_dir());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_about_the_target() {
        let dir = temp_dir("missing");
        let path = dir.join("missing-dir").join("x");
        let error = write_with_temp_prefix(&path, b"x", ".tmp-").unwrap_err();
        assert_eq!(error.action, "cannot create a temporary file for");
        assert_eq!(error.path, path);
        fs::remove_dir_all(&dir).unwrap();
    }
}
