//! sessionctl (work in progress).
fn main() {}
