//! Session files on disk, written more safely than HTTPie does and still readable by it.
//!
//! HTTPie writes session files in place with the default umask (usually 0644). Here:
//!
//! - files are 0600 and directories this code creates are 0700;
//! - a write goes to a temporary file in the same directory, is flushed to disk and renamed
//!   over the old file, so a crash leaves either the old or the new file, never half of one;
//! - a [`SessionFile`] holds an exclusive advisory lock (on `<file>.lock`, next to the file)
//!   from load to save, so two concurrent runs do not lose each other's cookies.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use session_core::atomic_file;

use super::error::ClientError;
use super::session::ClientSession;

/// A session file, locked against other writers while this value lives.
#[derive(Debug)]
pub struct SessionFile {
    path: PathBuf,
    _lock: File,
}

impl SessionFile {
    /// Locks the session file at `path` (waiting for other holders), creating missing parent
    /// directories with mode 0700. The file itself need not exist yet.
    pub fn lock(path: &Path) -> Result<SessionFile, ClientError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dirs(parent)?;
        }
        let lock_path = lock_path(path);
        let lock = open_lock_file(&lock_path)?;
        lock.lock().map_err(|source| ClientError::Io {
            action: "cannot lock",
            path: lock_path,
            source,
        })?;
        Ok(SessionFile {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The session file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file exists (a new session's file does not).
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Reads the session, bound to `host` (without port); `None` when there is no file yet.
    /// An encrypted file is an error that says a key is needed.
    pub fn load(&self, host: &str) -> Result<Option<ClientSession>, ClientError> {
        self.load_with(host, None)
    }

    /// Reads the session, decrypting it with `sealer` when the file is encrypted (a plain
    /// HTTPie file is read as it is, so turning encryption on needs no conversion step).
    pub fn load_with(
        &self,
        host: &str,
        sealer: Option<&dyn FileSealer>,
    ) -> Result<Option<ClientSession>, ClientError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ClientError::Io {
                    action: "cannot read",
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let plain = if looks_like_json(&bytes) {
            bytes
        } else {
            let Some(sealer) = sealer else {
                return Err(ClientError::Decrypt {
                    path: self.path.clone(),
                    message: "the file is encrypted (or not a session file); a key is needed"
                        .into(),
                });
            };
            sealer
                .unseal(&bytes)
                .map_err(|message| ClientError::Decrypt {
                    path: self.path.clone(),
                    message,
                })?
        };
        let text = String::from_utf8(plain).map_err(|_| {
            ClientError::Format(format!("{} is not UTF-8 text", self.path.display()))
        })?;
        ClientSession::from_httpie_json(&text, host)
            .map(Some)
            .map_err(|e| with_path(e, &self.path))
    }

    /// Writes the session in HTTPie's current layout: 0600, atomically.
    pub fn save(&self, session: &ClientSession) -> Result<(), ClientError> {
        self.save_with(session, None)
    }

    /// Writes the session, encrypted with `sealer` when one is given (HTTPie cannot read an
    /// encrypted file: it says the file is invalid rather than silently starting afresh).
    pub fn save_with(
        &self,
        session: &ClientSession,
        sealer: Option<&dyn FileSealer>,
    ) -> Result<(), ClientError> {
        let text = session.to_httpie_json();
        match sealer {
            None => write_atomic(&self.path, text.as_bytes()),
            Some(sealer) => {
                let sealed =
                    sealer
                        .seal(text.as_bytes())
                        .map_err(|message| ClientError::Decrypt {
                            path: self.path.clone(),
                            message: format!("cannot encrypt: {message}"),
                        })?;
                write_atomic(&self.path, &sealed)
            }
        }
    }

    /// Removes the file (and its lock file); returns whether it existed.
    pub fn delete(self) -> Result<bool, ClientError> {
        let existed = match fs::remove_file(&self.path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(ClientError::Io {
                    action: "cannot delete",
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let _ = fs::remove_file(lock_path(&self.path));
        Ok(existed)
    }
}

/// Encrypts session files at rest; implemented in `sessionctl` with the encrypted store's
/// sealer (XChaCha20-Poly1305, keys from a key file or a passphrase).
pub trait FileSealer: Send + Sync {
    /// The bytes to write for `plain`.
    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, String>;
    /// The plain bytes in `sealed`; an error for a wrong key or a damaged file.
    fn unseal(&self, sealed: &[u8]) -> Result<Vec<u8>, String>;
}

/// Whether file bytes are a plain JSON document (an HTTPie session file) rather than sealed.
pub fn looks_like_json(bytes: &[u8]) -> bool {
    let bytes = bytes
        .strip_prefix(b"\xef\xbb\xbf".as_slice())
        .unwrap_or(bytes);
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'['))
}

fn with_path(error: ClientError, path: &Path) -> ClientError {
    match error {
        ClientError::Format(message) => {
            ClientError::Format(format!("{}: {message}", path.display()))
        }
        other => other,
    }
}

/// The lock file next to a session file: `<file>.lock`.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// Reads a file as UTF-8 text; `None` when it does not exist.
pub fn read_if_exists(path: &Path) -> Result<Option<String>, ClientError> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| ClientError::Format(format!("{} is not UTF-8 text", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ClientError::Io {
            action: "cannot read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Creates `dir` and its missing parents with mode 0700 (existing ones are left alone).
pub fn create_private_dirs(dir: &Path) -> Result<(), ClientError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| ClientError::Io {
            action: "cannot create the directory",
            path: dir.to_path_buf(),
            source,
        })
}

/// Writes `bytes` to `path` atomically with mode 0600 ([`session_core::atomic_file`]),
/// creating missing parent directories with mode 0700.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dirs(parent)?;
    }
    atomic_file::write(path, bytes).map_err(|e| ClientError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    })
}

/// Opens (creating) the lock file 0600, refusing a symbolic link there: whoever can plant one
/// could otherwise make us create or lock a file elsewhere.
fn open_lock_file(lock_path: &Path) -> Result<File, ClientError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(lock_path)
        .map_err(|source| ClientError::Io {
            action: if source.raw_os_error() == Some(libc::ELOOP) {
                "refusing a symbolic link as the lock file"
            } else {
                "cannot open the lock file"
            },
            path: lock_path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    struct Xor;

    impl FileSealer for Xor {
        fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, String> {
            Ok(plain.iter().map(|b| b ^ 0x80).collect())
        }
        fn unseal(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
            if sealed.first() == Some(&(b'{' ^ 0x80)) {
                Ok(sealed.iter().map(|b| b ^ 0x80).collect())
            } else {
                Err("wrong key".into())
            }
        }
    }

    #[test]
    fn sealed_files_need_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let file = SessionFile::lock(&path).unwrap();
        let mut session = ClientSession::new("host");
        session.set_header("X-A", "1");
        file.save_with(&session, Some(&Xor)).unwrap();
        assert!(!looks_like_json(&fs::read(&path).unwrap()));
        assert!(matches!(
            file.load("host"),
            Err(ClientError::Decrypt { .. })
        ));
        let loaded = file.load_with("host", Some(&Xor)).unwrap().unwrap();
        assert_eq!(loaded.headers(), session.headers());
        // A plain file is read with or without a key.
        file.save(&session).unwrap();
        assert!(file.load_with("host", Some(&Xor)).unwrap().is_some());
    }

    #[test]
    fn a_symlink_at_the_lock_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let elsewhere = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, lock_path(&path)).unwrap();
        let error = SessionFile::lock(&path).unwrap_err();
        assert!(
            error.to_string().contains("refusing a symbolic link"),
            "{error}"
        );
        assert!(!elsewhere.exists(), "the link's target was created");
    }

    #[test]
    fn saves_private_files_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions/host_1/dev.json");
        let file = SessionFile::lock(&path).unwrap();
        assert!(file.load("host").unwrap().is_none());
        let mut session = ClientSession::new("host");
        session.set_header("X-A", "1");
        file.save(&session).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        let loaded = file.load("host").unwrap().unwrap();
        assert_eq!(loaded.headers(), session.headers());
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
