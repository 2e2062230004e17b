//! kom-gateway (work in progress).
fn main() {}
