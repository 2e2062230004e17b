//! The one error type of this crate.
//!
//! Store operations report through [`session_core::Error`] (so that every store looks the same
//! to a session manager); when a backend fails, the core error's `Backend` variant carries one of
//! these as its source, which callers can downcast to tell the cases apart. Opening a store
//! (`open`, the builders) returns this type directly.

use std::path::PathBuf;

/// What went wrong opening or running a persistent store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A store URL could not be understood.
    #[error("bad store URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given (store URLs name no secrets: keys come from files or variables).
        url: String,
        /// What is wrong with it, and what would be right.
        reason: String,
    },
    /// The URL names a store whose cargo feature this build does not have.
    #[error(
        "store {scheme:?} is not built in (enable the `{feature}` feature of session-stores); no other store was opened in its place"
    )]
    NotBuiltIn {
        /// The URL scheme.
        scheme: String,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// A file or directory operation failed.
    #[error("{operation} {path}: {source}")]
    Io {
        /// What was being done (`create directory`, `write`, `lock` …).
        operation: &'static str,
        /// Which path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A directory is not safe to keep sessions in.
    #[error("{path}: {reason}")]
    UnsafeDirectory {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A stored record could not be read (not a session record, or damaged). The reason is
    /// the error's source, so the session layer can tell an undecodable record (which it
    /// discards) from a failing store.
    #[error("stored record {location} is unreadable: {reason}")]
    Corrupt {
        /// Where the record is (a file path, a Redis key, a row).
        location: String,
        /// What is wrong.
        #[source]
        reason: session_core::CodecError,
    },
    /// SQLite failed.
    #[cfg(feature = "sqlite")]
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The SQLite database has a schema this version does not know.
    #[cfg(feature = "sqlite")]
    #[error(
        "SQLite database schema version {found} is newer than this program knows ({known}); upgrade the program"
    )]
    SchemaTooNew {
        /// The version in the database.
        found: i64,
        /// The newest version this program knows.
        known: i64,
    },
    /// Redis failed (connection refused, server gone, script error …).
    #[cfg(feature = "redis")]
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis answered something this store did not expect.
    #[error("unexpected reply from Redis: {0}")]
    RedisReply(String),
    /// An encrypted file was changed after it was written (authentication failed with the key
    /// that wrote it).
    #[error(
        "encrypted record {location} was tampered with or damaged (authentication failed); it was left in place"
    )]
    Tampered {
        /// The file.
        location: String,
    },
    /// An encrypted file is shorter than its format requires (an interrupted copy, a truncation).
    #[error(
        "encrypted record {location} is truncated ({actual} bytes, at least {needed} needed); it was left in place"
    )]
    Truncated {
        /// The file.
        location: String,
        /// Its length.
        actual: usize,
        /// The least length the format needs.
        needed: usize,
    },
    /// An encrypted file was written with a key this store was not given.
    #[error(
        "encrypted record {location} was written with a key this store does not have (key id {key_id}); add that key (older keys still read) or check the passphrase"
    )]
    WrongKey {
        /// The file.
        location: String,
        /// The hex id of the key that wrote it.
        key_id: String,
    },
    /// An encrypted file's header is of a format or version this program cannot read.
    #[error("encrypted record {location}: {reason}")]
    UnsupportedFormat {
        /// The file.
        location: String,
        /// What is not supported.
        reason: String,
    },
    /// A key could not be obtained or derived.
    #[error("encryption key: {0}")]
    Key(String),
}

#[cfg_attr(
    not(any(feature = "file", feature = "sqlite", feature = "redis")),
    allow(dead_code)
)]
impl Error {
    #[cfg(any(feature = "file", feature = "sqlite"))]
    pub(crate) fn io(
        operation: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            operation,
            path: path.into(),
            source,
        }
    }

    /// This error as a core backend error of `store` during `operation`.
    pub(crate) fn into_core(
        self,
        store: &'static str,
        operation: &'static str,
    ) -> session_core::Error {
        session_core::Error::backend(store, operation, self)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure inside a blocking store operation (file and SQLite stores): a contract outcome
/// (`Gone`, `Conflict` …) passed on as it is, or a backend failure that gets the store's name and
/// the operation attached.
#[cfg(any(feature = "file", feature = "sqlite"))]
pub(crate) enum OpError {
    Contract(session_core::Error),
    Backend(Error),
}

#[cfg(any(feature = "file", feature = "sqlite"))]
impl From<session_core::Error> for OpError {
    fn from(e: session_core::Error) -> Self {
        OpError::Contract(e)
    }
}

#[cfg(any(feature = "file", feature = "sqlite"))]
impl From<Error> for OpError {
    fn from(e: Error) -> Self {
        OpError::Backend(e)
    }
}

#[cfg(any(feature = "file", feature = "sqlite"))]
impl OpError {
    /// What a blocking job's result means to a session manager.
    pub(crate) fn finish<T>(
        joined: std::result::Result<std::result::Result<T, OpError>, tokio::task::JoinError>,
        store: &'static str,
        operation: &'static str,
    ) -> session_core::Result<T> {
        match joined {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(OpError::Contract(e))) => Err(e),
            Ok(Err(OpError::Backend(e))) => Err(e.into_core(store, operation)),
            Err(join) => Err(session_core::Error::backend(store, operation, join)),
        }
    }
}
