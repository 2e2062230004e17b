//! Interoperability with the real HTTPie 3.2.4 (from the peers' virtualenv): both tools use
//! the same HTTPIE_CONFIG_DIR and the same session files, in both directions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;

/// What HTTPie would send, from `http --offline --session-read-only=NAME URL` (no stderr).
fn httpie_offline_request(
    test: &str,
    config: &std::path::Path,
    session: &str,
    url: &str,
) -> Option<String> {
    let mut command = httpie(test, config)?;
    let output = run(command.args(["--offline", &format!("--session-read-only={session}"), url]));
    assert!(
        output.status.success(),
        "HTTPie failed: {}",
        stderr(&output)
    );
    assert_eq!(stderr(&output), "", "HTTPie warned about the session file");
    Some(stdout(&output))
}

fn header_line<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}: ", name.to_ascii_lowercase()))
        })
        .map(|l| &l[name.len() + 2..])
}

type Meaning = (Vec<(String, String, String, String)>, Value, Value);

/// The meaning of a session file: cookies as a set, headers, auth.
fn meaning(file: &Value) -> Meaning {
    (
        cookie_set(file),
        file["headers"].clone(),
        file["auth"].clone(),
    )
}

#[test]
fn an_httpie_session_works_in_sessionctl_and_comes_back_unchanged() {
    let test = "an_httpie_session_works_in_sessionctl_and_comes_back_unchanged";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };

    // 1. HTTPie creates the session against the server: cookies, auth, a header.
    let output = run(http.args([
        "--session=dev",
        "-a",
        "alice:pw",
        &server.localhost("/set?sid=s1&theme=dark"),
        "X-Api-Version:2",
    ]));
    assert!(output.status.success(), "{}", stderr(&output));
    let path = session_path(
        config.path(),
        &format!("localhost_{}", server.port()),
        "dev",
    );
    let written_by_httpie = session_json(&path);

    // 2. sessionctl uses it: same cookies, auth and header go out.
    let out = ok(sessionctl(config.path()).args([
        "--json",
        "request",
        "--session=dev",
        "GET",
        &server.localhost("/use"),
    ]));
    let headers = &echoed(&out)["headers"];
    assert_eq!(headers["cookie"], "sid=s1; theme=dark");
    assert_eq!(headers["authorization"], "Basic YWxpY2U6cHc=");
    assert_eq!(headers["x-api-version"], "2");
    // ... and saves it back with the same meaning.
    let written_by_sessionctl = session_json(&path);
    assert_eq!(meaning(&written_by_sessionctl), meaning(&written_by_httpie));
    assert_eq!(
        written_by_sessionctl["__meta__"],
        written_by_httpie["__meta__"]
    );

    // 3. HTTPie reads sessionctl's file without a warning and sends the same again.
    let Some(request) =
        httpie_offline_request(test, config.path(), "dev", &server.localhost("/again"))
    else {
        return;
    };
    assert_eq!(header_line(&request, "Cookie"), Some("sid=s1; theme=dark"));
    assert_eq!(
        header_line(&request, "Authorization"),
        Some("Basic YWxpY2U6cHc=")
    );
    assert_eq!(header_line(&request, "X-Api-Version"), Some("2"));
}

#[test]
fn a_cookie_deleted_by_the_server_is_gone_for_both_tools() {
    let test = "a_cookie_deleted_by_the_server_is_gone_for_both_tools";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };
    assert!(
        run(http.args(["--session=del", &server.localhost("/set?a=1&b=2&c=3")]))
            .status
            .success()
    );

    // Deleted through sessionctl: HTTPie no longer sends it.
    ok(sessionctl(config.path()).args(["request", "--session=del", &server.localhost("/del?a")]));
    let Some(request) = httpie_offline_request(test, config.path(), "del", &server.localhost("/"))
    else {
        return;
    };
    assert_eq!(header_line(&request, "Cookie"), Some("b=2; c=3"));

    // Deleted through HTTPie: sessionctl no longer sends it.
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };
    assert!(
        run(http.args(["--session=del", &server.localhost("/del?b")]))
            .status
            .success()
    );
    let out = ok(sessionctl(config.path()).args([
        "--json",
        "request",
        "--session=del",
        &server.localhost("/"),
    ]));
    assert_eq!(echoed(&out)["headers"]["cookie"], "c=3");
}

#[test]
fn a_session_created_by_sessionctl_is_used_by_httpie() {
    let test = "a_session_created_by_sessionctl_is_used_by_httpie";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    ok(sessionctl(config.path()).args([
        "request",
        "--session=fresh",
        "-A",
        "bearer",
        "-a",
        "t0k3n",
        &server.localhost("/set?sid=new"),
        "X-Team:core",
    ]));
    let Some(request) =
        httpie_offline_request(test, config.path(), "fresh", &server.localhost("/x"))
    else {
        return;
    };
    assert_eq!(header_line(&request, "Cookie"), Some("sid=new"));
    assert_eq!(header_line(&request, "Authorization"), Some("Bearer t0k3n"));
    assert_eq!(header_line(&request, "X-Team"), Some("core"));
    // Another host gets nothing (the cookie is host-only for localhost).
    let ip = format!("http://127.0.0.1:{}/", server.port());
    let config_path = config.path();
    let Some(mut http) = httpie(test, config_path) else {
        return;
    };
    let other = session_path(
        config_path,
        &format!("localhost_{}", server.port()),
        "fresh",
    );
    let output = run(http.args([
        "--offline",
        &format!("--session-read-only={}", other.display()),
        &ip,
    ]));
    assert!(output.status.success());
    assert_eq!(header_line(&stdout(&output), "Cookie"), None);
}

#[test]
fn a_legacy_session_upgraded_by_sessionctl_is_accepted_by_httpie_without_warnings() {
    let test = "a_legacy_session_upgraded_by_sessionctl_is_accepted_by_httpie_without_warnings";
    let config = test_support::temp_dir();
    let path = session_path(config.path(), "localhost_8080", "old");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let legacy = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../session-http/tests/data/httpie/legacy.json");
    std::fs::copy(legacy, &path).unwrap();

    // HTTPie itself warns about the legacy layout.
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };
    let output = run(http.args([
        "--offline",
        "--session-read-only=old",
        "localhost:8080/app/x",
    ]));
    assert!(
        stderr(&output).contains("Outdated layout"),
        "{}",
        stderr(&output)
    );

    ok(sessionctl(config.path()).args(["sessions", "upgrade", "localhost:8080", "old"]));
    let Some(request) = httpie_offline_request(test, config.path(), "old", "localhost:8080/app/x")
    else {
        return;
    };
    assert_eq!(
        header_line(&request, "Cookie"),
        Some("pref=compact; sid=abc123")
    );
    assert_eq!(
        header_line(&request, "Authorization"),
        Some("Basic YWxpY2U6czNjcmV0")
    );
    assert_eq!(header_line(&request, "X-Api-Version"), Some("2"));
}
