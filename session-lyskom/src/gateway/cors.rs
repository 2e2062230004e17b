//! Cross-origin rules: which browser origins may use the gateway, and the CORS headers
//! httpkom sends them.

use http::{HeaderMap, HeaderValue, header};

/// Whether `origin` is on the `allowed` list (`*` allows every origin, httpkom's default).
pub(super) fn allows(allowed: &[String], origin: &HeaderValue) -> bool {
    allowed
        .iter()
        .any(|o| o == "*" || o.as_bytes() == origin.as_bytes())
}

/// Adds httpkom's CORS headers for a request from `origin`, when it is allowed. A
/// disallowed origin gets no CORS headers at all (never `Access-Control-Allow-Origin:
/// null`, which a sandboxed or `file:` page would match), so the browser keeps the answer
/// from it.
pub(super) fn add_headers(headers: &mut HeaderMap, allowed: &[String], origin: &HeaderValue) {
    if !allows(allowed, origin) {
        return;
    }
    if allowed.iter().any(|o| o == "*") {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        // The answer differs by origin: caches must keep them apart.
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS, HEAD"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("0"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "Origin, Accept, Content-Type, X-Requested-With, Cache-Control, Httpkom-Connection",
        ),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Cache-Control, Httpkom-Connection"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(origins: &[&str]) -> Vec<String> {
        origins.iter().map(|o| o.to_string()).collect()
    }

    #[test]
    fn a_listed_origin_is_echoed_and_varies() {
        let mut h = HeaderMap::new();
        let origin = HeaderValue::from_static("https://good.test");
        add_headers(&mut h, &list(&["https://good.test"]), &origin);
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://good.test");
        assert_eq!(h[header::VARY], "Origin");
    }

    #[test]
    fn a_wildcard_allows_every_origin() {
        let mut h = HeaderMap::new();
        add_headers(&mut h, &list(&["*"]), &HeaderValue::from_static("null"));
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    #[test]
    fn a_disallowed_origin_gets_no_cors_headers() {
        let mut h = HeaderMap::new();
        let allowed = list(&["https://good.test"]);
        for origin in ["https://evil.test", "null", "https://good.test.evil.test"] {
            let origin = HeaderValue::from_str(origin).unwrap();
            assert!(!allows(&allowed, &origin));
            add_headers(&mut h, &allowed, &origin);
        }
        assert!(h.is_empty(), "{h:?}");
    }
}
