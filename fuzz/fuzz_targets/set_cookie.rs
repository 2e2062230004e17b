//! Arbitrary `Set-Cookie` text from a server the client talks to, through the client's cookie
//! jar: never a panic, and what the jar keeps follows RFC 6265's rules for the URL it came
//! from (a domain that covers the host, a path starting with `/`, nothing that could split the
//! `Cookie` header it later sends).
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_http::client::CookieJar;
use session_http::client::cookie_jar::domain_matches;
use time::OffsetDateTime;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(url) = Url::parse("https://www.example.com/shop/cart") else {
        return;
    };
    let Ok(now) = OffsetDateTime::from_unix_timestamp(1_700_000_000) else {
        return;
    };
    let mut jar = CookieJar::new();
    if jar.store_set_cookie_at(&url, text, now).is_err() {
        assert!(jar.is_empty(), "a refused cookie is not kept");
        return;
    }
    for cookie in jar.iter() {
        assert!(
            domain_matches("www.example.com", &cookie.domain),
            "{cookie:?}"
        );
        assert!(cookie.path.starts_with('/'), "{cookie:?}");
    }
    if let Some(header) = jar.cookie_header_at(&url, now) {
        assert!(
            !header.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0),
            "{header:?}"
        );
    }
});
