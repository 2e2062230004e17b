//! The little HTML a HAC client has to read, as pure functions over text: the CSRF token of a
//! page, whether a page is the login page, and the result of an Impex import.
//!
//! HAC pages are server-rendered JSP. A client needs only a handful of attributes from them, so
//! this module scans tags and attributes instead of building a document tree. It never panics on
//! malformed markup; it simply finds nothing.

use std::collections::HashMap;

/// One start tag: its lowercase name and its attributes (lowercase names, unescaped values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    pub(crate) name: String,
    pub(crate) attributes: HashMap<String, String>,
    /// Byte offset just past the tag's closing `>`.
    pub(crate) end: usize,
}

impl Tag {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
}

/// The start tags of `html`, in document order. Comments are skipped.
pub(crate) fn start_tags(html: &str) -> impl Iterator<Item = Tag> + '_ {
    let mut position = 0;
    std::iter::from_fn(move || {
        loop {
            let open = position + html.get(position..)?.find('<')?;
            let rest = &html[open + 1..];
            if rest.starts_with("!--") {
                position = match rest.find("-->") {
                    Some(close) => open + 1 + close + 3,
                    None => html.len(),
                };
                continue;
            }
            let name_len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-')
                .count();
            if name_len == 0 {
                position = open + 1;
                continue;
            }
            let name = rest[..name_len].to_ascii_lowercase();
            let (attributes, consumed) = parse_attributes(&rest[name_len..]);
            let end = open + 1 + name_len + consumed;
            position = end;
            return Some(Tag {
                name,
                attributes,
                end,
            });
        }
    })
}

/// Parses attributes up to and including the closing `>`; returns them and the bytes consumed.
fn parse_attributes(text: &str) -> (HashMap<String, String>, usize) {
    let bytes = text.as_bytes();
    let mut attributes = HashMap::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return (attributes, i);
        }
        if bytes[i] == b'>' {
            return (attributes, i + 1);
        }
        let name_start = i;
        while i < bytes.len()
            && !bytes[i].is_ascii_whitespace()
            && !matches!(bytes[i], b'=' | b'>' | b'/')
        {
            i += 1;
        }
        let name = text[name_start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                let start = i + 1;
                let close = bytes[start..]
                    .iter()
                    .position(|b| *b == quote)
                    .map_or(bytes.len(), |p| start + p);
                value = unescape(&text[start..close]);
                i = (close + 1).min(bytes.len());
            } else {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                value = unescape(&text[start..i]);
            }
        }
        if !name.is_empty() {
            attributes.entry(name).or_insert(value);
        }
    }
}

/// The CSRF token of a HAC page: the hidden `_csrf` input's value, else the `_csrf` meta tag's
/// content (the order hac-client-core uses).
///
/// ```
/// use session_http::hac::csrf_token;
/// let page = r#"<html><head><meta name="_csrf" content="3f1c-77"/></head></html>"#;
/// assert_eq!(csrf_token(page).as_deref(), Some("3f1c-77"));
/// assert_eq!(csrf_token("<html>no token</html>"), None);
/// ```
pub fn csrf_token(html: &str) -> Option<String> {
    let mut meta = None;
    for tag in start_tags(html) {
        if tag.attribute("name") != Some("_csrf") {
            continue;
        }
        match tag.name.as_str() {
            "input" => {
                if let Some(value) = tag.attribute("value").filter(|v| !v.is_empty()) {
                    return Some(value.to_string());
                }
            }
            "meta" if meta.is_none() => {
                meta = tag
                    .attribute("content")
                    .filter(|v| !v.is_empty())
                    .map(str::to_string);
            }
            _ => {}
        }
    }
    meta
}

/// Whether `html` is HAC's login page (the markers hac-client-core checks: the login form's
/// action or its user name field).
pub fn is_login_page(html: &str) -> bool {
    html.contains("j_spring_security_check") || html.contains("name=\"j_username\"")
}

/// What an Impex import page reports: the level and summary of `<span id="impexResult">` and the
/// detail text of `<div class="impexResult"><pre>…</pre></div>` (empty when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImpexPage {
    pub(crate) level: String,
    pub(crate) summary: String,
    pub(crate) detail: String,
}

/// Reads the result of an Impex import from the page HAC answers with; `None` when the page
/// has no `impexResult` span (it is not an import result page).
pub(crate) fn impex_page(html: &str) -> Option<ImpexPage> {
    let span =
        start_tags(html).find(|t| t.name == "span" && t.attribute("id") == Some("impexResult"))?;
    let detail = start_tags(html)
        .find(|t| {
            t.name == "div"
                && t.attribute("class")
                    .is_some_and(|c| c.split_ascii_whitespace().any(|c| c == "impexResult"))
        })
        .and_then(|div| {
            let after = &html[div.end..];
            let pre = start_tags(after).find(|t| t.name == "pre")?;
            let body = &after[pre.end..];
            let close = body.find("</pre>").unwrap_or(body.len());
            Some(unescape(&strip_tags(&body[..close])).trim().to_string())
        })
        .unwrap_or_default();
    Some(ImpexPage {
        level: span.attribute("data-level").unwrap_or_default().to_string(),
        summary: span
            .attribute("data-result")
            .unwrap_or_default()
            .to_string(),
        detail,
    })
}

fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Replaces the character references HAC pages use (named basics and numeric ones).
pub(crate) fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').filter(|end| *end <= 10).and_then(|end| {
            let entity = &after[..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => entity.strip_prefix('#').and_then(|n| {
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => n.parse().ok(),
                    };
                    code.and_then(char::from_u32)
                }),
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html_escape::escape;
    use proptest::prelude::*;

    #[test]
    fn the_hidden_input_wins_over_the_meta_tag() {
        let page = r#"<meta name="_csrf" content="meta-token"><form>
            <input type="hidden" name="_csrf" value="input-token" /></form>"#;
        assert_eq!(csrf_token(page).as_deref(), Some("input-token"));
    }

    #[test]
    fn attributes_in_any_order_quote_and_case() {
        let page = "<META CONTENT='a&amp;b' NAME='_csrf'>";
        assert_eq!(csrf_token(page).as_deref(), Some("a&b"));
        let page = "<input value=tok-1 name=_csrf>";
        assert_eq!(csrf_token(page).as_deref(), Some("tok-1"));
    }

    #[test]
    fn commented_out_tokens_are_ignored() {
        assert_eq!(
            csrf_token(r#"<!-- <meta name="_csrf" content="x"> -->"#),
            None
        );
    }

    #[test]
    fn login_page_markers() {
        assert!(is_login_page(
            r#"<form action="/hac/j_spring_security_check">"#
        ));
        assert!(is_login_page(r#"<input name="j_username">"#));
        assert!(!is_login_page("<h1>hybris administration console</h1>"));
    }

    #[test]
    fn impex_result_page_is_read() {
        let page = r#"<span id="impexResult" data-level="error" data-result="Import has encountered problems"></span>
            <div class="box impexResult quiet"><pre>INSERT Foo;code
,,,,unknown type &#39;Foo&#39;</pre></div>"#;
        let result = impex_page(page).unwrap();
        assert_eq!(result.level, "error");
        assert_eq!(result.summary, "Import has encountered problems");
        assert_eq!(result.detail, "INSERT Foo;code\n,,,,unknown type 'Foo'");
        assert!(impex_page("<html></html>").is_none());
    }

    proptest! {
        #[test]
        fn scanning_never_panics(html in ".{0,300}") {
            let _ = csrf_token(&html);
            let _ = impex_page(&html);
            let _ = unescape(&html);
        }

        #[test]
        fn escaped_tokens_round_trip(token in "[ -~]{1,40}") {
            let page = format!(r#"<meta name="_csrf" content="{}">"#, escape(&token));
            prop_assert_eq!(csrf_token(&page), Some(token.clone()));
            let page = format!(r#"<input type="hidden" name="_csrf" value="{}">"#, escape(&token));
            prop_assert_eq!(csrf_token(&page), Some(token));
        }
    }
}
