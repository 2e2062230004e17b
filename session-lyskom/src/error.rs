//! The crate's error type.

use std::fmt;

/// Everything that can go wrong talking Protocol A or serving the gateway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not valid Protocol A (the peer sent garbage, or a reply does not have
    /// the shape its call promises).
    #[error("malformed Protocol A data: {0}")]
    Malformed(String),
    /// The server answered a call with a Protocol A error (`%ref code status`).
    #[error("LysKOM error {code} ({}), status {status}", ServerErrorName(*code))]
    Server {
        /// The error code (see the Protocol A specification, "Error Codes").
        code: u32,
        /// The error status; its meaning depends on the code (often the offending argument).
        status: u32,
    },
    /// The server rejected the stream itself (`%%…`), usually because the client sent a
    /// malformed request.
    #[error("LysKOM protocol error: {0}")]
    ProtocolViolation(String),
    /// An argument cannot be sent (e.g. a name with characters outside ISO 8859-1, which
    /// LysKOM names and passwords are written in).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The server did not accept the handshake.
    #[error("LysKOM handshake failed: {0}")]
    Handshake(String),
    /// The connection could not be opened or failed while in use.
    #[error("LysKOM connection I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The connection is closed (by the server, by a disconnect call, or after an error).
    #[error("the LysKOM connection is closed")]
    Disconnected,
    /// No reply arrived within the configured time.
    #[error("the LysKOM server did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// A gateway connection's attribute could not be stored as JSON or read back as the type
    /// asked for.
    #[error("session attribute {key:?}: {reason}")]
    Attribute {
        /// The attribute.
        key: String,
        /// What went wrong.
        reason: String,
    },
}

impl Error {
    /// The Protocol A error code, if this is a server error.
    pub fn server_code(&self) -> Option<u32> {
        match self {
            Error::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the connection this error came from is unusable from now on.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, Error::Io(_) | Error::Disconnected)
    }
}

/// Displays a Protocol A error code by the name pylyskom (and so httpkom's clients) use.
#[derive(Clone, Copy, Debug)]
pub struct ServerErrorName(pub u32);

impl fmt::Display for ServerErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::protocol::error_code::name(self.0).unwrap_or("UnknownError"))
    }
}
