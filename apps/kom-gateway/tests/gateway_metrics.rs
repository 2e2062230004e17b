//! kom-gateway's `GET /metrics` against a real lyskomd: Prometheus text whose counters move
//! with what clients do, checked line by line against the exposition format, and a server
//! with the id `metrics` that keeps all of its resources.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Http, WsClient, lyskomd, open, start_gateway};
use serde_json::json;
use test_support::lyskomd::{ADMIN_PASSWORD, ADMIN_PERSON};

/// Checks `text` against the text exposition format (0.0.4) as Prometheus reads it: `# HELP`
/// and `# TYPE` lines, then samples `name{label="value",…} number` of the family last
/// typed (`_total` for counters; `_bucket`, `_sum`, `_count` for histograms). Returns the
/// samples by series.
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    let is_name = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut samples = HashMap::new();
    let mut family: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(help) = line.strip_prefix("# HELP ") {
            let (name, doc) = help.split_once(' ').unwrap();
            assert!(is_name(name) && !doc.is_empty(), "{line}");
            continue;
        }
        if let Some(typed) = line.strip_prefix("# TYPE ") {
            let (name, kind) = typed.split_once(' ').unwrap();
            assert!(is_name(name), "{line}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "a counter without _total: {line}");
            }
            family = Some((name.to_owned(), kind.to_owned()));
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').unwrap();
                for pair in labels.split(',') {
                    let (key, quoted) = pair.split_once('=').unwrap();
                    assert!(is_name(key), "{line}");
                    assert!(quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"'));
                }
                name
            }
            None => series,
        };
        let (family_name, kind) = family.as_ref().expect("a sample before any # TYPE");
        let suffix = name
            .strip_prefix(family_name.as_str())
            .unwrap_or_else(|| panic!("{line} is not of the family {family_name}"));
        let allowed: &[&str] = if kind == "histogram" {
            &["_bucket", "_sum", "_count"]
        } else {
            &[""]
        };
        assert!(allowed.contains(&suffix), "{line} in a {kind}");
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "twice: {line}"
        );
    }
    samples
}

/// `GET /metrics`, checked and parsed.
fn scrape(http: &Http) -> HashMap<String, f64> {
    let r = http.get("/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse_exposition(std::str::from_utf8(&r.body).unwrap())
}

#[test]
fn metrics_count_connections_logins_requests_and_websockets() {
    let Some(kom) = lyskomd("metrics_count_connections_logins_requests_and_websockets") else {
        return;
    };
    // A server with the id `metrics`: its resources live under /metrics/… and stay its own.
    let gw = start_gateway(&[("metrics", kom.port())], "");
    let http = Http::new(gw.addr);
    let before = scrape(&http);
    let series = |name: &str| name.to_owned();
    for (name, value) in [
        ("kom_gateway_connections_open", 0.0),
        ("kom_gateway_logins_total{result=\"success\"}", 0.0),
        ("kom_gateway_logins_total{result=\"failure\"}", 0.0),
        ("kom_gateway_websockets_open", 0.0),
    ] {
        assert_eq!(before.get(&series(name)), Some(&value), "{name}");
    }

    let (conn, _) = open(&http, "metrics");
    let r = conn.post(
        "/metrics/sessions/current/login",
        &json!({"pers_no": ADMIN_PERSON, "passwd": "wrong"}),
    );
    assert_eq!(r.status, 401);
    let r = conn.post(
        "/metrics/sessions/current/login",
        &json!({"pers_no": ADMIN_PERSON, "passwd": ADMIN_PASSWORD}),
    );
    assert_eq!(r.status, 201);
    let ws = WsClient::open(gw.addr, conn.connection.as_deref().unwrap()).unwrap();

    let after = scrape(&http);
    let moved = |name: &str| after[name] - before.get(name).copied().unwrap_or(0.0);
    assert_eq!(after["kom_gateway_connections_open"], 1.0);
    assert_eq!(moved("kom_gateway_connections_opened_total"), 1.0);
    assert_eq!(moved("kom_gateway_logins_total{result=\"success\"}"), 1.0);
    assert_eq!(moved("kom_gateway_logins_total{result=\"failure\"}"), 1.0);
    assert_eq!(after["kom_gateway_websockets_open"], 1.0);
    assert_eq!(moved("kom_gateway_websockets_opened_total"), 1.0);
    // The first scrape, the opening and the login: 2xx; the refused login: 4xx; the
    // upgrade: 1xx.
    assert!(moved("kom_gateway_http_requests_total{class=\"2xx\"}") >= 3.0);
    assert_eq!(moved("kom_gateway_http_requests_total{class=\"4xx\"}"), 1.0);
    assert_eq!(moved("kom_gateway_http_requests_total{class=\"1xx\"}"), 1.0);
    let count = after["kom_gateway_http_request_duration_seconds_count"];
    assert!(count >= 5.0, "{count}");
    assert_eq!(
        after["kom_gateway_http_request_duration_seconds_bucket{le=\"+Inf\"}"],
        count
    );
    assert!(after["kom_gateway_http_request_duration_seconds_sum"] > 0.0);

    ws.close();
    test_support::wait_until(Duration::from_secs(30), || {
        scrape(&http)["kom_gateway_websockets_open"] == 0.0
    })
    .expect("the closed WebSocket is still counted as open");
    let r = conn.delete("/metrics/sessions/0");
    assert_eq!(r.status, 204);
    let last = scrape(&http);
    assert_eq!(last["kom_gateway_connections_open"], 0.0);
    assert_eq!(
        last["kom_gateway_connections_closed_total{reason=\"client\"}"],
        1.0
    );
}
