//! What can go wrong talking to HAC.

use std::path::PathBuf;

/// An error of the HAC client or its session cache.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HacError {
    /// The server refused the user name or password (it answered with the login page again).
    #[error("HAC refused the user name or password for {username}@{base_url}")]
    InvalidCredentials {
        /// The base URL.
        base_url: String,
        /// The user name.
        username: String,
    },
    /// A login is needed and no password was given.
    #[error(
        "the cached HAC session is missing or expired and no password was given (set HAC_PASSWORD or pass it on stdin)"
    )]
    PasswordRequired,
    /// A page that should carry a CSRF token carries none.
    #[error(
        "no CSRF token (_csrf meta tag or hidden input) in the page at {url}; is this a HAC login page?"
    )]
    NoCsrfToken {
        /// Where the page came from.
        url: String,
    },
    /// The server still treats the session as gone after a fresh login and one retry.
    #[error(
        "HAC rejected the session for {operation} even after a fresh login (last answer: {answer})"
    )]
    SessionRejected {
        /// What was attempted.
        operation: &'static str,
        /// How the server answered (status, or "the login page").
        answer: String,
    },
    /// The server answered with a status the client does not expect.
    #[error("HAC answered {operation} with HTTP {status}")]
    UnexpectedStatus {
        /// What was attempted.
        operation: &'static str,
        /// The status code.
        status: u16,
    },
    /// The server's answer could not be understood.
    #[error("HAC's answer to {operation} cannot be read: {detail}")]
    InvalidResponse {
        /// What was attempted.
        operation: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The base URL is not an http(s) URL this client can use.
    #[error("invalid HAC base URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it is unusable.
        reason: String,
    },
    /// The server could not be reached, or the connection failed.
    #[error("cannot reach HAC at {url}: {source}")]
    Connection {
        /// The URL requested.
        url: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The TLS connection to an `https://` HAC failed: its certificate was not accepted (not
    /// trusted, for another host name, expired), or the port does not speak TLS.
    #[error("TLS connection to HAC at {url} failed: {problem}")]
    Tls {
        /// The URL requested.
        url: String,
        /// What went wrong, and what to do about it.
        problem: crate::transport::TlsProblem,
    },
    /// TLS settings (CA bundle, client certificate) that cannot be used.
    #[error(transparent)]
    TlsConfig(#[from] crate::transport::TlsConfigError),
    /// The request took too long.
    #[error("HAC did not answer {url} within {seconds} s")]
    Timeout {
        /// The URL requested.
        url: String,
        /// The timeout.
        seconds: u64,
    },
    /// The session cache could not be read or written.
    #[error("session cache {path}: {source}")]
    Cache {
        /// The file or directory concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The session store backing the cache failed.
    #[error("session cache store: {0}")]
    Store(#[source] session_core::Error),
    /// A session attribute could not be encoded or decoded as the type asked for.
    #[error("session attribute {key:?}: {source}")]
    Attribute {
        /// The attribute's name.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}
