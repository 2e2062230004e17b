//! session-lyskom (work in progress).
