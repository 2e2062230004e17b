//! The `hac-emulator` binary: it announces its address, serves HAC's login redirect with the
//! session cookie, and refuses bad options.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn get(addr: &str, path: &str, cookie: Option<&str>) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn the_binary_serves_the_login_redirect_and_a_route() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hac-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--route",
            "r9",
            "--idle-timeout",
            "60",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().expect("piped stdout");
    let _guard = test_support::ChildGuard::new("hac-emulator", child);
    // The first line names the address (port 0 picked a free one).
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .expect("an announcement")
        .to_string();

    let answer = get(&addr, "/hac/", None);
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    assert!(answer.contains("location: /hac/login\r\n"), "{answer}");
    assert!(answer.contains("; Path=/hac; HttpOnly\r\n"), "{answer}");
    assert!(
        answer.contains("set-cookie: ROUTE=r9; Path=/\r\n"),
        "{answer}"
    );
    let page = get(&addr, "/hac/login", None);
    assert!(page.contains("<meta name=\"_csrf\" content=\""), "{page}");
    assert!(page.contains("action=\"/hac/j_spring_security_check\""));
}

#[test]
fn a_rejection_status_other_than_405_or_403_is_a_usage_error() {
    let status = Command::new(env!("CARGO_BIN_EXE_hac-emulator"))
        .args(["--listen", "127.0.0.1:0", "--rejection-status", "500"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}
