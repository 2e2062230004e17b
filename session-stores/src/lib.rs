//! session-stores (work in progress).
