//! Headers that keep a stored text's body inert on the gateway's origin.
//!
//! Anyone who may post a text chooses its content type, so `GET /texts/N/body` serving it
//! as stored would let a person run script on the gateway's origin (stored XSS): HTML, SVG,
//! XHTML, XML and JavaScript are all active in a browser. Every body is therefore served
//! with `X-Content-Type-Options: nosniff` (no guessing a script out of text) and
//! `Content-Security-Policy: sandbox` (no script, no same-origin access even if opened),
//! and a body whose type is not on a short list of passive types is also sent as a
//! download (`Content-Disposition: attachment`). Images stay usable in `<img>`, which is
//! how jskom shows them.

use http::{HeaderMap, HeaderValue, header};

/// The types a browser only displays: text shown as text, and raster images.
const PASSIVE_TYPES: &[&str] = &[
    "text/plain",
    "text/x-kom-basic",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/avif",
];

/// Whether a body of `major/minor` (in any case) is safe to display inline.
pub(super) fn is_passive(major: &str, minor: &str) -> bool {
    PASSIVE_TYPES.iter().any(|t| {
        t.split_once('/').is_some_and(|(ma, mi)| {
            ma.eq_ignore_ascii_case(major) && mi.eq_ignore_ascii_case(minor)
        })
    })
}

/// Adds the headers every text body gets, and the download header for active types.
pub(super) fn add_headers(headers: &mut HeaderMap, major: &str, minor: &str) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    if !is_passive(major, minor) {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_and_unknown_types_are_downloads() {
        for (major, minor) in [
            ("text", "html"),
            ("image", "svg+xml"),
            ("application", "xhtml+xml"),
            ("text", "xml"),
            ("application", "xml"),
            ("text", "javascript"),
            ("application", "javascript"),
            ("application", "pdf"),
            ("x-kom", "user-area"),
            ("text", "enriched"),
        ] {
            let mut h = HeaderMap::new();
            add_headers(&mut h, major, minor);
            assert_eq!(
                h[header::CONTENT_DISPOSITION],
                "attachment",
                "{major}/{minor}"
            );
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], "sandbox");
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
    }

    #[test]
    fn plain_text_and_raster_images_display_inline() {
        for (major, minor) in [
            ("text", "plain"),
            ("Text", "Plain"),
            ("text", "x-kom-basic"),
            ("image", "png"),
        ] {
            let mut h = HeaderMap::new();
            add_headers(&mut h, major, minor);
            assert!(
                !h.contains_key(header::CONTENT_DISPOSITION),
                "{major}/{minor}"
            );
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
    }
}
