//! session-server (work in progress).
fn main() {}
