//! HAC emulator (work in progress).
fn main() {}
