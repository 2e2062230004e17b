//! The file layer shared by the file and encrypted-file stores: a private directory with one
//! file per record, atomic replacement and an advisory lock.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use session_core::SessionKey;
use session_core::atomic_file;

use crate::error::{Error, Result};

/// Name of the lock file inside a store directory.
const LOCK_FILE: &str = ".lock";
/// Prefix of temporary files (never a valid record name, which is 64 hex digits).
const TEMP_PREFIX: &str = ".tmp-";

/// A directory of record files named `<64 hex digits of the key>.<extension>`.
///
/// File names come only from [`SessionKey::to_hex`], never from client input, so no id can
/// reach outside the directory. Files are created 0600 and the directory is kept 0700.
#[derive(Debug)]
pub(crate) struct Directory {
    root: PathBuf,
    extension: &'static str,
}

/// An exclusive advisory lock on a store directory, shared by every process using it; released
/// when dropped (the lock goes with the file descriptor).
#[derive(Debug)]
pub(crate) struct DirectoryLock {
    _file: File,
}

impl Directory {
    /// Opens (creating if needed) the directory `root` with mode 0700. An existing directory
    /// that others can reach into is tightened to 0700; one owned by someone else is refused.
    pub(crate) fn open(root: &Path, extension: &'static str) -> Result<Self> {
        match DirBuilder::new().recursive(true).mode(0o700).create(root) {
            Ok(()) => {}
            Err(e) => return Err(Error::io("create directory", root, e)),
        }
        let meta = fs::metadata(root).map_err(|e| Error::io("inspect directory", root, e))?;
        if !meta.is_dir() {
            return Err(Error::UnsafeDirectory {
                path: root.to_path_buf(),
                reason: "is not a directory".into(),
            });
        }
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(root, fs::Permissions::from_mode(0o700)).map_err(|e| {
                Error::UnsafeDirectory {
                    path: root.to_path_buf(),
                    reason: format!(
                        "is reachable by other users (mode {:o}) and could not be made private: {e}",
                        meta.permissions().mode() & 0o777
                    ),
                }
            })?;
        }
        let directory = Directory {
            root: root.to_path_buf(),
            extension,
        };
        // Make sure the lock file exists and is private before anyone locks it.
        drop(directory.open_lock_file()?);
        Ok(directory)
    }

    /// The directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The file of `key`.
    pub(crate) fn path_of(&self, key: &SessionKey) -> PathBuf {
        self.root
            .join(format!("{}.{}", key.to_hex(), self.extension))
    }

    fn open_lock_file(&self) -> Result<File> {
        let path = self.root.join(LOCK_FILE);
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io("open lock file", path, e))
    }

    /// Takes the directory's exclusive advisory lock, waiting for other holders (threads of
    /// this process and other processes alike).
    pub(crate) fn lock(&self) -> Result<DirectoryLock> {
        let file = self.open_lock_file()?;
        file.lock()
            .map_err(|e| Error::io("lock", self.root.join(LOCK_FILE), e))?;
        Ok(DirectoryLock { _file: file })
    }

    /// The bytes of `key`'s file, or `None` when there is none.
    pub(crate) fn read(&self, key: &SessionKey) -> Result<Option<Vec<u8>>> {
        let path = self.path_of(key);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open", path, e)),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", &path, e))?;
        Ok(Some(bytes))
    }

    /// Replaces `key`'s file with `bytes` atomically: a new 0600 temporary file is written and
    /// fsynced, renamed over the record, and the directory is fsynced. A crash at any moment
    /// leaves either the old or the new file, whole.
    pub(crate) fn write(&self, key: &SessionKey, bytes: &[u8]) -> Result<()> {
        // The prefix keeps leftovers recognisable to `remove_stale_temp_files`.
        let prefix = format!("{TEMP_PREFIX}{}-", key.short());
        atomic_file::write_with_temp_prefix(&self.path_of(key), bytes, &prefix)
            .map_err(|e| Error::io(e.action, e.path, e.source))
    }

    /// Removes `key`'s file; returns whether there was one.
    pub(crate) fn remove(&self, key: &SessionKey) -> Result<bool> {
        let path = self.path_of(key);
        match fs::remove_file(&path) {
            Ok(()) => {
                self.sync_directory()?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("remove", path, e)),
        }
    }

    /// Every key with a record file, in ascending key order. Other files are ignored.
    pub(crate) fn keys(&self) -> Result<Vec<SessionKey>> {
        let entries = fs::read_dir(&self.root).map_err(|e| Error::io("list", &self.root, e))?;
        let suffix = format!(".{}", self.extension);
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &self.root, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(stem) = name.strip_suffix(&suffix)
                && let Ok(key) = SessionKey::parse(stem)
            {
                keys.push(key);
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Removes temporary files left by writers that crashed. Call with the lock held (then no
    /// write is in progress anywhere).
    pub(crate) fn remove_stale_temp_files(&self, _lock: &DirectoryLock) -> Result<usize> {
        let entries = fs::read_dir(&self.root).map_err(|e| Error::io("list", &self.root, e))?;
        let mut removed = 0;
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(TEMP_PREFIX))
                && fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn sync_directory(&self) -> Result<()> {
        File::open(&self.root)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| Error::io("fsync directory", &self.root, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_and_named_by_key_digest() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("sessions");
        let dir = Directory::open(&root, "session").unwrap();
        let key = SessionKey::derive("test", &["../../etc/passwd"]);
        dir.write(&key, b"hello").unwrap();
        let path = dir.path_of(&key);
        assert_eq!(path.parent(), Some(root.as_path()));
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some(format!("{}.session", key.to_hex()).as_str())
        );
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&root), 0o700);
        assert_eq!(dir.read(&key).unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(dir.keys().unwrap(), vec![key]);
        assert!(dir.remove(&key).unwrap());
        assert!(!dir.remove(&key).unwrap());
        assert_eq!(dir.read(&key).unwrap(), None);
    }

    #[test]
    fn an_open_directory_is_tightened_to_0700() {
        let temp = tempfile::tempdir().unwrap();
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        Directory::open(temp.path(), "session").unwrap();
        let mode = fs::metadata(temp.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn stray_files_are_not_records() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Directory::open(temp.path(), "session").unwrap();
        fs::write(temp.path().join("notes.txt"), b"x").unwrap();
        fs::write(temp.path().join("zz.session"), b"x").unwrap();
        fs::write(temp.path().join(".tmp-abc-123"), b"x").unwrap();
        assert!(dir.keys().unwrap().is_empty());
        let lock = dir.lock().unwrap();
        assert_eq!(dir.remove_stale_temp_files(&lock).unwrap(), 1);
    }
}
