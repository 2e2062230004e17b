//! Property tests: any session written as an HTTPie file reads back with the same meaning
//! (the same cookies go to the same URLs, the same headers and auth), and writing is stable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use session_http::client::{Auth, ClientSession};
use url::Url;

fn host() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "localhost",
        "api.example.com",
        "example.com",
        "127.0.0.1",
        "intranet",
    ])
    .prop_map(str::to_string)
}

fn cookie() -> impl Strategy<
    Value = (
        String,
        String,
        String,
        Option<String>,
        String,
        bool,
        Option<u32>,
    ),
> {
    (
        "[a-zA-Z][a-zA-Z0-9_]{0,6}",
        "[ -~&&[^;,\"\\\\]]{0,12}",
        host(),
        prop::option::of(
            prop::sample::select(vec!["example.com", "api.example.com"]).prop_map(str::to_string),
        ),
        prop::sample::select(vec!["/", "/a", "/a/b"]).prop_map(str::to_string),
        any::<bool>(),
        prop::option::of(1u32..1_000_000),
    )
}

fn auth() -> impl Strategy<Value = Option<Auth>> {
    prop_oneof![
        Just(None),
        ("[a-z]{1,6}", "[ -~]{0,10}")
            .prop_map(|(username, password)| Some(Auth::Basic { username, password })),
        "[A-Za-z0-9._-]{1,20}".prop_map(|token| Some(Auth::Bearer { token })),
    ]
}

fn probe_urls() -> Vec<Url> {
    let mut urls = Vec::new();
    for host in [
        "localhost",
        "api.example.com",
        "example.com",
        "www.example.com",
        "127.0.0.1",
        "intranet",
        "other.test",
    ] {
        for scheme in ["http", "https"] {
            for path in ["/", "/a", "/a/b/c"] {
                urls.push(Url::parse(&format!("{scheme}://{host}{path}")).unwrap());
            }
        }
    }
    urls
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn httpie_files_keep_the_meaning_of_a_session(
        cookies in prop::collection::vec(cookie(), 0..8),
        headers in prop::collection::vec(("X-[A-Za-z]{1,8}", "[ -~]{0,16}"), 0..5),
        auth in auth(),
    ) {
        let mut session = ClientSession::new("localhost");
        for (name, value, host, domain, path, secure, max_age) in &cookies {
            let scheme = if *secure { "https" } else { "http" };
            let url = Url::parse(&format!("{scheme}://{host}{path}/x")).unwrap();
            let mut header = format!("{name}={value}; Path={path}");
            if let Some(domain) = domain { header.push_str(&format!("; Domain={domain}")); }
            if *secure { header.push_str("; Secure"); }
            if let Some(max_age) = max_age { header.push_str(&format!("; Max-Age={max_age}")); }
            let _ = session.cookies.store_set_cookie(&url, &header);
        }
        for (name, value) in &headers {
            session.set_header(name, value.trim());
        }
        session.set_auth(auth.clone());

        let text = session.to_httpie_json();
        let again = ClientSession::from_httpie_json(&text, "localhost").unwrap();
        for url in probe_urls() {
            prop_assert_eq!(again.cookies.cookie_header(&url), session.cookies.cookie_header(&url), "{}", url);
        }
        prop_assert_eq!(again.headers(), session.headers());
        prop_assert_eq!(again.auth(), auth.as_ref());
        // Writing what was read gives the same file.
        prop_assert_eq!(again.to_httpie_json(), text);
    }
}
