//! Crash safety (written below).
fn main() {}
