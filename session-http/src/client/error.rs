//! Errors of client sessions.

use std::path::PathBuf;

/// What went wrong with a client session, its file or a request made with it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A session file is not an HTTPie session file.
    #[error("not an HTTPie session file: {0}")]
    Format(String),
    /// A session file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot read", "cannot write" …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A session name HTTPie would refuse.
    #[error(
        "invalid session name {0:?}: use letters, digits, '_', '.', '-', or a path containing '/'"
    )]
    InvalidName(String),
    /// A URL that cannot be requested.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The TLS connection to an `https://` URL failed: the certificate was not accepted, or
    /// the server does not speak TLS.
    #[error("TLS connection to {url} failed: {problem}")]
    Tls {
        /// The URL.
        url: String,
        /// What went wrong, and what to do about it.
        problem: crate::transport::TlsProblem,
    },
    /// TLS settings (CA bundle, client certificate) that cannot be used.
    #[error(transparent)]
    TlsConfig(#[from] crate::transport::TlsConfigError),
    /// A header name or value that HTTP does not allow.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
    /// The request failed on the network.
    #[error("request to {url} failed: {message}")]
    Request {
        /// The URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// The server did not answer within the client's timeout.
    #[error("no response from {url} within {after:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        after: std::time::Duration,
    },
    /// A session attribute that cannot be encoded or decoded as the type asked for.
    #[error("session attribute {key:?}: {message}")]
    Attribute {
        /// The attribute.
        key: String,
        /// Why.
        message: String,
    },
    /// More redirects than allowed.
    #[error("too many redirects (more than {0})")]
    TooManyRedirects(usize),
    /// A session store failed.
    #[error("session store: {0}")]
    Store(#[from] session_core::Error),
    /// An encrypted session file could not be opened (wrong key, tampering).
    #[error("cannot decrypt {path}: {message}")]
    Decrypt {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}
