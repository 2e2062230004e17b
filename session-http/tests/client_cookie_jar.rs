//! Property tests of the RFC 6265 cookie jar: no cookie ever reaches a host it was not set
//! for, paths and expiry behave as the RFC says, and no input makes the jar panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use session_http::client::CookieJar;
use session_http::client::cookie_jar::{domain_matches, path_matches};
use time::OffsetDateTime;
use url::Url;

fn host() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "example", "com", "test"]),
        1..4,
    )
    .prop_map(|labels| labels.join("."))
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["x", "y", "xy", ""]), 0..4)
        .prop_map(|segments| format!("/{}", segments.join("/")))
}

fn url(host: &str, path: &str) -> Url {
    Url::parse(&format!("http://{host}{path}")).unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn host_only_cookies_go_to_exactly_their_host(setter in host(), target in host()) {
        let mut jar = CookieJar::new();
        jar.store_set_cookie_at(&url(&setter, "/"), "id=1; Path=/", now()).unwrap();
        let sent = jar.cookie_header_at(&url(&target, "/"), now()).is_some();
        prop_assert_eq!(sent, setter == target);
    }

    #[test]
    fn domain_cookies_stay_inside_their_domain(setter in host(), domain in host(), target in host()) {
        let mut jar = CookieJar::new();
        let stored = jar
            .store_set_cookie_at(&url(&setter, "/"), &format!("id=1; Path=/; Domain={domain}"), now())
            .is_ok();
        // Only a host inside the domain may set it (single labels only for the host itself).
        prop_assert_eq!(
            stored,
            setter == domain || (domain.contains('.') && domain_matches(&setter, &domain))
        );
        let sent = jar.cookie_header_at(&url(&target, "/"), now()).is_some();
        if sent {
            // Never outside the domain, and never anywhere but the setter for a host-only cookie.
            prop_assert!(domain_matches(&target, &domain));
            prop_assert!(target == setter || domain_matches(&target, &domain) && domain != setter);
        }
    }

    #[test]
    fn cookies_are_sent_exactly_on_matching_paths(cookie_path in path(), request_path in path()) {
        let mut jar = CookieJar::new();
        jar.store_set_cookie_at(&url("h.test", "/"), &format!("p=1; Path={cookie_path}"), now()).unwrap();
        let sent = jar.cookie_header_at(&url("h.test", &request_path), now()).is_some();
        prop_assert_eq!(sent, path_matches(&request_path, &cookie_path));
    }

    #[test]
    fn header_lists_longer_paths_first(paths in prop::collection::vec(path(), 1..8)) {
        let mut jar = CookieJar::new();
        for (i, p) in paths.iter().enumerate() {
            jar.store_set_cookie_at(&url("h.test", "/"), &format!("c{i}=v; Path={p}"), now()).unwrap();
        }
        let sent = jar.matching_at(&url("h.test", "/x/y/xy/x"), now());
        for pair in sent.windows(2) {
            prop_assert!(pair[0].path.len() >= pair[1].path.len());
        }
        let header = jar.cookie_header_at(&url("h.test", "/x/y/xy/x"), now()).unwrap_or_default();
        prop_assert_eq!(header.split("; ").filter(|s| !s.is_empty()).count(), sent.len());
    }

    #[test]
    fn non_positive_max_age_always_deletes(max_age in -1_000_000i64..=0, value in "[a-z0-9]{0,8}") {
        let mut jar = CookieJar::new();
        let u = url("h.test", "/");
        jar.store_set_cookie_at(&u, "gone=1; Path=/", now()).unwrap();
        jar.store_set_cookie_at(&u, &format!("gone={value}; Path=/; Max-Age={max_age}"), now()).unwrap();
        prop_assert!(jar.is_empty());
    }

    #[test]
    fn max_age_expires_exactly_then(max_age in 1i64..10_000_000, probe in 0i64..20_000_000) {
        let mut jar = CookieJar::new();
        let u = url("h.test", "/");
        jar.store_set_cookie_at(&u, &format!("t=1; Max-Age={max_age}"), now()).unwrap();
        let later = now() + time::Duration::seconds(probe);
        prop_assert_eq!(jar.cookie_header_at(&u, later).is_some(), probe < max_age);
    }

    #[test]
    fn arbitrary_set_cookie_values_never_panic(header in ".{0,200}", host in host()) {
        let mut jar = CookieJar::new();
        let u = url(&host, "/a/b");
        let _ = jar.store_set_cookie_at(&u, &header, now());
        let _ = jar.cookie_header_at(&u, now());
    }
}
