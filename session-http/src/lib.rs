//! session-http (work in progress).
