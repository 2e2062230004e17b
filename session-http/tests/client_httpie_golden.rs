//! Golden tests of HTTPie session files: a file HTTPie 3.2.4 wrote (current layout) is read
//! and written back byte for byte, and a legacy-layout file (HTTPie < 3.1) is read and
//! written in the current layout exactly as recorded in `tests/data/httpie/`.
//! `UPDATE_GOLDEN=1` rewrites the expected files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use session_http::client::{Auth, ClientSession};
use url::Url;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/httpie")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

fn check_golden(name: &str, actual: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(data(name), actual).unwrap();
    }
    assert_eq!(
        actual,
        read(name),
        "output differs from tests/data/httpie/{name}"
    );
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

#[test]
fn current_layout_written_by_httpie_round_trips_byte_for_byte() {
    let text = read("current.json");
    let session = ClientSession::from_httpie_json(&text, "localhost").unwrap();
    assert!(!session.layout().is_legacy());
    assert_eq!(session.to_httpie_json(), text);
}

#[test]
fn current_layout_means_what_httpie_means() {
    let session = ClientSession::from_httpie_json(&read("current.json"), "localhost").unwrap();
    assert_eq!(session.auth(), Some(&Auth::basic_from_raw("u:p")));
    assert_eq!(
        session.headers(),
        &[
            ("X-Foo".to_string(), "bar".to_string()),
            (
                "Accept".to_string(),
                "application/json, */*;q=0.5".to_string()
            ),
            ("X-Foo".to_string(), "second value".to_string()),
        ]
    );
    let jar = &session.cookies;
    // `localhost.local` is HTTPie's spelling of a host-only cookie of `localhost`.
    assert_eq!(
        jar.cookie_header(&url("http://localhost:8080/x"))
            .as_deref(),
        Some("sid=s1; theme=dark")
    );
    assert_eq!(jar.cookie_header(&url("http://sub.localhost/")), None);
    // `.example.com` is a domain cookie, and secure.
    assert_eq!(
        jar.cookie_header(&url("https://www.example.com/"))
            .as_deref(),
        Some("region=eu-1")
    );
    assert_eq!(jar.cookie_header(&url("http://www.example.com/")), None);
    // A host-only cookie of an IP address, on its path only.
    assert_eq!(
        jar.cookie_header(&url("http://127.0.0.1/admin/users"))
            .as_deref(),
        Some("csrf=t\u{f6}k\"en")
    );
    assert_eq!(jar.cookie_header(&url("http://127.0.0.1/")), None);
    // Unknown keys are kept.
    assert_eq!(session.extra()["x-team-note"]["owner"], "ops");
}

#[test]
fn legacy_layout_is_read_and_written_in_the_current_layout() {
    let session = ClientSession::from_httpie_json(&read("legacy.json"), "localhost").unwrap();
    let layout = session.layout();
    assert!(layout.legacy_cookies && layout.legacy_headers);
    assert_eq!(
        session.auth(),
        Some(&Auth::Basic {
            username: "alice".into(),
            password: "s3cret".into()
        })
    );
    // Legacy cookies carry no domain: bound to the session's host, never sent elsewhere.
    let jar = &session.cookies;
    assert_eq!(
        jar.cookie_header(&url("http://localhost:8080/app/x"))
            .as_deref(),
        Some("pref=compact; sid=abc123")
    );
    assert_eq!(jar.cookie_header(&url("http://evil.test/")), None);
    check_golden("legacy.expected.json", &session.to_httpie_json());
    // And the upgraded file reads back as the same session, now in the current layout.
    let again =
        ClientSession::from_httpie_json(&read("legacy.expected.json"), "localhost").unwrap();
    assert!(!again.layout().is_legacy());
    assert_eq!(again.to_httpie_json(), read("legacy.expected.json"));
}

#[test]
fn cookies_without_a_domain_are_bound_to_the_session_host() {
    let text = r#"{"cookies": [{"name": "a", "value": "1", "domain": "", "path": "/", "expires": null, "secure": false},
                               {"name": "b", "value": "2", "domain": null, "path": "/", "expires": null, "secure": false}]}"#;
    let session = ClientSession::from_httpie_json(text, "api.example.com").unwrap();
    assert_eq!(
        session
            .cookies
            .cookie_header(&url("http://api.example.com/"))
            .as_deref(),
        Some("a=1; b=2")
    );
    assert_eq!(
        session
            .cookies
            .cookie_header(&url("http://other.example.com/")),
        None
    );
    assert!(
        session
            .to_httpie_json()
            .contains("\"domain\": \"api.example.com\"")
    );
}

#[test]
fn foreign_files_are_refused_with_a_reason() {
    for text in [
        "",
        "[]",
        "{\"cookies\": 5}",
        "{\"headers\": [1]}",
        "{\"cookies\": [{\"value\": \"x\"}]}",
        "not json",
    ] {
        let error = ClientSession::from_httpie_json(text, "h").unwrap_err();
        assert!(
            error.to_string().starts_with("not an HTTPie session file"),
            "{error}"
        );
    }
}

#[test]
fn expired_cookies_in_a_file_are_dropped() {
    let text = r#"{"cookies": [{"name": "old", "value": "1", "domain": "h.test", "path": "/", "expires": 1000, "secure": false}]}"#;
    let session = ClientSession::from_httpie_json(text, "h.test").unwrap();
    assert!(session.cookies.is_empty());
}
