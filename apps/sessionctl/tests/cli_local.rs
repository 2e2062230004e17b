//! `sessionctl local`: a local application's login kept encrypted in the user's state
//! directory, as a script uses it (exit codes, `--json`), with its files private, expired
//! logins removed and an unreadable file set aside, never deleted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// `sessionctl` with its state directory under `state`.
fn local(state: &Path) -> Command {
    let mut command = sessionctl(state);
    command
        .env("XDG_STATE_HOME", state)
        .env_remove("SESSIONCTL_LOCAL_DIR")
        .env_remove("SESSIONCTL_KEY_FILE");
    command
}

fn status_json(state: &Path, app: &str) -> (bool, Value) {
    let output = run(local(state).args(["--json", "local", "status", app]));
    let value = serde_json::from_str(stdout(&output).trim()).unwrap();
    (output.status.success(), value)
}

fn store_dir(state: &Path) -> PathBuf {
    state.join("sessionctl/local")
}

fn login_files(state: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(store_dir(state))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn login_status_extend_logout_as_a_script_sees_them() {
    let state = tempfile::tempdir().unwrap();
    let state = state.path();

    let (logged_in, status) = status_json(state, "deploy");
    assert!(!logged_in, "status exits non-zero before any login");
    assert_eq!(status["logged_in"], false);

    ok(local(state).args([
        "local",
        "login",
        "deploy",
        "alice",
        "--ttl",
        "2h",
        "--data",
        r#"{"token":"s3cret"}"#,
    ]));
    let (logged_in, status) = status_json(state, "deploy");
    assert!(logged_in);
    assert_eq!(status["principal"], "alice");
    let remaining = status["remaining_secs"].as_u64().unwrap();
    assert!((7100..=7200).contains(&remaining), "{status}");
    assert!(
        status.get("data").is_none(),
        "data shown without --show-data"
    );
    let shown = ok(local(state).args(["--json", "local", "status", "deploy", "--show-data"]));
    let shown: Value = serde_json::from_str(shown.trim()).unwrap();
    assert_eq!(shown["data"]["token"], "s3cret");

    // Another application's login is separate.
    assert!(!status_json(state, "other").0);

    ok(local(state).args(["local", "extend", "deploy", "--by", "1h"]));
    let remaining = status_json(state, "deploy").1["remaining_secs"]
        .as_u64()
        .unwrap();
    assert!((10_700..=10_800).contains(&remaining), "{remaining}");

    let out = ok(local(state).args(["--json", "local", "logout", "deploy"]));
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["logged_out"],
        true
    );
    assert!(!status_json(state, "deploy").0);
    let extend = run(local(state).args(["local", "extend", "deploy"]));
    assert!(!extend.status.success());
    assert!(stderr(&extend).contains("nobody is logged in"));
}

#[test]
fn the_store_is_encrypted_and_private_with_a_key_made_on_first_use() {
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    ok(local(state).args(["local", "login", "deploy", "alice", "--data", r#""s3cret""#]));

    let key = state.join("sessionctl/local.key");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&state.join("sessionctl")), 0o700);
    assert_eq!(mode(&store_dir(state)), 0o700);
    let files = login_files(state);
    assert_eq!(files.len(), 1);
    assert_eq!(mode(&files[0]), 0o600);
    let bytes = std::fs::read(&files[0]).unwrap();
    for clear in [&b"alice"[..], b"s3cret", b"deploy"] {
        assert!(
            !bytes.windows(clear.len()).any(|w| w == clear),
            "{} in clear on disk",
            String::from_utf8_lossy(clear)
        );
    }

    // The same key is used again, not replaced.
    let key_bytes = std::fs::read(&key).unwrap();
    assert!(status_json(state, "deploy").0);
    assert_eq!(std::fs::read(&key).unwrap(), key_bytes);
}

#[test]
fn a_passphrase_replaces_the_key_file() {
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    ok(local(state)
        .env("LOCAL_PASS", "correct horse battery staple")
        .args([
            "--key-env",
            "LOCAL_PASS",
            "local",
            "login",
            "deploy",
            "alice",
        ]));
    assert!(!state.join("sessionctl/local.key").exists());
    let output = run(local(state)
        .env("LOCAL_PASS", "correct horse battery staple")
        .args([
            "--json",
            "--key-env",
            "LOCAL_PASS",
            "local",
            "status",
            "deploy",
        ]));
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn expired_logins_are_gone_and_pruned() {
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    ok(local(state).args(["local", "login", "short", "alice", "--ttl", "1s"]));
    ok(local(state).args(["local", "login", "long", "bob", "--ttl", "1h"]));
    assert_eq!(login_files(state).len(), 2);

    let deadline = Instant::now() + Duration::from_secs(10);
    while status_json(state, "short").0 {
        assert!(
            Instant::now() < deadline,
            "a 1 s login still live after 10 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The status call that found it expired removed its file.
    assert_eq!(login_files(state).len(), 1);
    let pruned = ok(local(state).args(["--json", "local", "prune"]));
    assert_eq!(
        serde_json::from_str::<Value>(pruned.trim()).unwrap()["removed"],
        0
    );
    assert!(status_json(state, "long").0, "a live login was pruned");
}

#[test]
fn an_unreadable_login_file_is_named_and_set_aside() {
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    ok(local(state).args(["local", "login", "deploy", "alice"]));
    let file = login_files(state).remove(0);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap();

    let output = run(local(state).args(["local", "status", "deploy"]));
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains(&*file.to_string_lossy()), "{message}");
    assert!(message.contains("moved to"), "{message}");
    assert_eq!(message.trim().lines().count(), 1, "{message}");

    // The bytes are kept beside it, and the next login starts clean.
    let files = login_files(state);
    assert_eq!(files.len(), 1);
    assert!(
        files[0].to_string_lossy().contains(".sealed.unreadable-"),
        "{files:?}"
    );
    assert_eq!(std::fs::read(&files[0]).unwrap(), bytes);
    assert!(!status_json(state, "deploy").0);
    ok(local(state).args(["local", "login", "deploy", "bob"]));
    assert_eq!(status_json(state, "deploy").1["principal"], "bob");
}

#[test]
fn a_login_under_another_key_is_set_aside_by_the_next_login_not_overwritten() {
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    ok(local(state).env("LOCAL_PASS", "first passphrase").args([
        "--key-env",
        "LOCAL_PASS",
        "local",
        "login",
        "deploy",
        "alice",
    ]));
    let sealed = std::fs::read(&login_files(state)[0]).unwrap();

    let output = run(local(state).env("LOCAL_PASS", "second passphrase").args([
        "--key-env",
        "LOCAL_PASS",
        "local",
        "login",
        "deploy",
        "bob",
    ]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("moved to"), "{}", stderr(&output));
    let files = login_files(state);
    assert_eq!(files.len(), 2, "{files:?}");
    let aside = files
        .iter()
        .find(|f| f.to_string_lossy().contains(".unreadable-"))
        .unwrap();
    assert_eq!(std::fs::read(aside).unwrap(), sealed);
    let status = run(local(state).env("LOCAL_PASS", "second passphrase").args([
        "--json",
        "--key-env",
        "LOCAL_PASS",
        "local",
        "status",
        "deploy",
    ]));
    assert!(stdout(&status).contains("\"bob\""), "{}", stdout(&status));
}

#[test]
fn bad_arguments_are_one_line_usage_errors() {
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    for args in [
        &["local", "login", "deploy", "alice", "--ttl", "5w"][..],
        &["local", "login", "deploy", "alice", "--data", "{not json"],
        &["local", "extend", "deploy", "--by", "0s"],
    ] {
        let output = run(local(state).args(args));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).trim().is_empty());
    }
    let without_home = run(local(state)
        .env_remove("XDG_STATE_HOME")
        .env_remove("HOME")
        .args(["local", "status", "deploy"]));
    assert_eq!(without_home.status.code(), Some(2));
    assert!(stderr(&without_home).contains("--dir"));
}
