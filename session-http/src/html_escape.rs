//! HTML escaping, the one rule every page of the workspace (the reference server's, the HAC
//! emulator's) uses for text it did not write itself. Needs no cargo feature.

/// Escapes `text` for HTML element content and quoted attribute values: `&`, `<`, `>`, `"`
/// and `'` become character references, everything else stays as it is.
///
/// ```
/// use session_http::html_escape::escape;
/// assert_eq!(
///     escape("<script>alert('x') & \"y\"</script>"),
///     "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
/// );
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
