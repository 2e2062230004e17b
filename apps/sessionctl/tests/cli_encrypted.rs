//! Encryption at rest of session files (`--key-file`, `--key-env`) with the encrypted store's
//! sealer: the file is unreadable without the key, a wrong key is a one-line error that
//! changes nothing, and `sessions export` gives HTTPie a plain copy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;

fn key_file(dir: &Path, name: &str, hex_byte: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, hex_byte.repeat(32)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[test]
fn encrypted_sessions_need_their_key() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let key = key_file(config.path(), "k1", "ab");
    let wrong = key_file(config.path(), "k2", "cd");
    let key_arg = key.to_str().unwrap();

    ok(sessionctl(config.path()).args([
        "request",
        "--key-file",
        key_arg,
        "--session",
        "sec",
        "-a",
        "u:secretpw",
        &server.localhost("/set?sid=topsecret"),
    ]));
    let path = session_path(
        config.path(),
        &format!("localhost_{}", server.port()),
        "sec",
    );
    let sealed = std::fs::read(&path).unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("topsecret"));
    assert!(!String::from_utf8_lossy(&sealed).contains("secretpw"));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Without a key, or with the wrong one: one line, non-zero, the file untouched.
    for extra in [vec![], vec!["--key-file", wrong.to_str().unwrap()]] {
        let mut command = sessionctl(config.path());
        command
            .arg("request")
            .args(&extra)
            .args(["--session", "sec", &server.localhost("/x")]);
        let output = run(&mut command);
        assert!(!output.status.success(), "{extra:?}");
        assert_eq!(
            stderr(&output).trim_end().lines().count(),
            1,
            "{}",
            stderr(&output)
        );
        assert!(stderr(&output).contains("decrypt"), "{}", stderr(&output));
        assert_eq!(std::fs::read(&path).unwrap(), sealed);
    }

    // With the key: the cookie and auth go out.
    let out = ok(sessionctl(config.path()).args([
        "--json",
        "request",
        "--key-file",
        key_arg,
        "--session",
        "sec",
        &server.localhost("/x"),
    ]));
    assert_eq!(echoed(&out)["headers"]["cookie"], "sid=topsecret");
    assert_eq!(
        echoed(&out)["headers"]["authorization"],
        "Basic dTpzZWNyZXRwdw=="
    );

    // Listed as encrypted; exported in the clear for HTTPie.
    let list: serde_json::Value = serde_json::from_str(&ok(
        sessionctl(config.path()).args(["--json", "sessions", "list"])
    ))
    .unwrap();
    assert!(list[0]["error"].is_string());
    let list: serde_json::Value = serde_json::from_str(&ok(sessionctl(config.path()).args([
        "--json",
        "--key-file",
        key_arg,
        "sessions",
        "list",
    ])))
    .unwrap();
    assert_eq!(list[0]["layout"], "encrypted");
    let plain_path = config.path().join("plain.json");
    ok(sessionctl(config.path()).args([
        "--key-file",
        key_arg,
        "sessions",
        "export",
        &format!("localhost:{}", server.port()),
        "sec",
        "--output",
        plain_path.to_str().unwrap(),
    ]));
    let plain = session_json(&plain_path);
    assert_eq!(plain["cookies"][0]["value"], "topsecret");

    let Some(mut http) = httpie("encrypted_sessions_need_their_key", config.path()) else {
        return;
    };
    let output = run(http.args([
        "--offline",
        &format!("--session-read-only={}", plain_path.display()),
        &server.localhost("/"),
    ]));
    assert!(output.status.success());
    assert!(stdout(&output).contains("Cookie: sid=topsecret"));
    // HTTPie refuses the encrypted file loudly instead of starting a fresh session.
    let Some(mut http) = httpie("encrypted_sessions_need_their_key", config.path()) else {
        return;
    };
    let output = run(http.args([
        "--offline",
        "--session-read-only=sec",
        &server.localhost("/"),
    ]));
    assert!(!output.status.success());
}

#[test]
fn a_passphrase_from_the_environment_works_too() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    ok(sessionctl(config.path())
        .env("SESSIONCTL_TEST_PASS", "correct horse battery staple")
        .args([
            "request",
            "--key-env",
            "SESSIONCTL_TEST_PASS",
            "--session",
            "p",
            &server.localhost("/set?x=1"),
        ]));
    let out = ok(sessionctl(config.path())
        .env("SESSIONCTL_TEST_PASS", "correct horse battery staple")
        .args([
            "--json",
            "request",
            "--key-env",
            "SESSIONCTL_TEST_PASS",
            "--session",
            "p",
            &server.localhost("/"),
        ]));
    assert_eq!(echoed(&out)["headers"]["cookie"], "x=1");
    let output = run(sessionctl(config.path())
        .env("SESSIONCTL_TEST_PASS", "wrong")
        .args([
            "request",
            "--key-env",
            "SESSIONCTL_TEST_PASS",
            "--session",
            "p",
            &server.localhost("/"),
        ]));
    assert!(!output.status.success());
}
