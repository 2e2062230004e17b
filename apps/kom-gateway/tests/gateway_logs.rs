//! kom-gateway's logs as an operator reads them, against a real lyskomd: with `RUST_LOG`
//! at `info`, one line per request with its method, route template, status, latency and a
//! hash of its connection id — never the id, which is the key to a logged-in LysKOM session
//! — and no colour codes when stderr is not a terminal; metrics scrapes only at DEBUG.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Http, lyskomd, open, start_gateway_logging};
use serde_json::json;
use test_support::lyskomd::{ADMIN_PASSWORD, ADMIN_PERSON};
use test_support::startup::read_until;

/// The value of `field=` in a log line.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("{name}="))? + name.len() + 1;
    let rest = &line[start..];
    let end = rest.find([' ', '}', ':']).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[test]
fn each_request_logs_method_route_status_latency_and_a_hashed_connection() {
    let Some(kom) =
        lyskomd("each_request_logs_method_route_status_latency_and_a_hashed_connection")
    else {
        return;
    };
    let (gw, output) = start_gateway_logging(&[("kom", kom.port())], "", "info");
    let http = Http::new(gw.addr);
    // A metrics scrape is logged at DEBUG only.
    assert_eq!(http.get("/metrics").status, 200);
    let (conn, _) = open(&http, "kom");
    let id = conn.connection.clone().unwrap();
    let r = conn.post(
        "/kom/sessions/current/login",
        &json!({"pers_no": ADMIN_PERSON, "passwd": ADMIN_PASSWORD}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(conn.get("/kom/conferences/1").status, 200);
    let r = http.get(&format!("/kom/texts/4711?Httpkom-Connection={id}"));
    assert!(r.status >= 400, "{}", r.status);

    let mut lines = read_until(
        &output,
        &["route=/{server}/sessions/current/login", "answered"],
    );
    let login = lines.last().unwrap().clone();
    for wanted in ["INFO", "method=POST", "status=201", "latency_ms="] {
        assert!(login.contains(wanted), "{wanted} missing in {login}");
    }
    let hash = field(&login, "connection").unwrap().to_owned();
    assert_eq!(hash.len(), 12, "{login}");
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{login}");
    let latency: f64 = field(&login, "latency_ms").unwrap().parse().unwrap();
    assert!(latency > 0.0, "{login}");

    lines.extend(read_until(
        &output,
        &["route=/{server}/conferences/{n}", "status=200", "answered"],
    ));
    let conference = lines.last().unwrap().clone();
    assert!(conference.contains("method=GET"), "{conference}");
    assert_eq!(field(&conference, "connection"), Some(hash.as_str()));
    // The id as a query parameter names the same connection, and is not logged either.
    lines.extend(read_until(
        &output,
        &["route=/{server}/texts/{n}", "answered"],
    ));
    assert_eq!(
        field(lines.last().unwrap(), "connection"),
        Some(hash.as_str())
    );

    for line in &lines {
        assert!(!line.contains("route=/metrics"), "a scrape at INFO: {line}");
        assert!(!line.contains(&id), "the connection id was logged: {line}");
        assert!(!line.contains("4711"), "a raw path was logged: {line}");
        assert!(
            !line.contains("\x1b["),
            "colour codes in a piped log: {line:?}"
        );
    }
    drop(gw);
}
