//! `sessionctl`'s logs (asked for with `RUST_LOG`) when stderr is not a terminal: plain
//! text that a file or another program can read, never ANSI colour codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let config = test_support::temp_dir();
    let store = format!("sqlite:{}", config.path().join("new.sqlite3").display());
    // A new SQLite store logs its schema migration at INFO.
    let output = run(sessionctl(config.path())
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .args(["store", "--store", &store, "list"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let logs = stderr(&output);
    assert!(
        logs.lines()
            .any(|l| l.contains("INFO") && l.contains("migrated SQLite session schema")),
        "no INFO line in {logs:?}"
    );
    assert!(!logs.contains("\x1b["), "colour codes in {logs:?}");
}
