//! HTTPie-style request items: `Header:value`, `Header:` (unset), `Header;` (empty value),
//! `param==value`, `field=value` (JSON string), `field:=json` (raw JSON).

use serde_json::Value;

/// One parsed request item.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RequestItem {
    /// `Name:value` or `Name;` (empty value).
    Header(String, String),
    /// `Name:` — do not send this header (the session keeps it).
    UnsetHeader(String),
    /// `name==value`.
    Query(String, String),
    /// `name=value` or `name:=json`.
    Field(String, Value),
}

const SEPARATORS: [&str; 8] = [":=@", "=@", ":=", "==", "=", ":", ";", "@"];

/// Parses one item the way HTTPie does: the earliest separator wins, the longest at that
/// position; `\` escapes a separator character.
pub(crate) fn parse_item(item: &str) -> Result<RequestItem, String> {
    let mut key = String::new();
    let chars: Vec<char> = item.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            key.push(chars[i + 1]);
            i += 2;
            continue;
        }
        let rest: String = chars[i..].iter().collect();
        if let Some(separator) = SEPARATORS.iter().find(|s| rest.starts_with(**s)) {
            let value = &rest[separator.len()..];
            return build(key, separator, value, item);
        }
        key.push(chars[i]);
        i += 1;
    }
    Err(format!(
        "{item:?} is not a request item (Header:value, name==value, field=value or field:=json)"
    ))
}

fn build(key: String, separator: &str, value: &str, item: &str) -> Result<RequestItem, String> {
    if key.is_empty() {
        return Err(format!("{item:?} has an empty name"));
    }
    match separator {
        ":" if value.is_empty() => Ok(RequestItem::UnsetHeader(key)),
        ":" => Ok(RequestItem::Header(key, value.to_string())),
        ";" if value.is_empty() => Ok(RequestItem::Header(key, String::new())),
        "==" => Ok(RequestItem::Query(key, value.to_string())),
        "=" => Ok(RequestItem::Field(key, Value::String(value.to_string()))),
        ":=" => serde_json::from_str(value)
            .map(|v| RequestItem::Field(key, v))
            .map_err(|e| format!("{item:?}: the value after := is not JSON: {e}")),
        _ => Err(format!(
            "{item:?}: file items ({separator}) are not supported"
        )),
    }
}

/// HTTPie's URL shorthands: `:3000/x` → `http://localhost:3000/x`, `:/x` → `http://localhost/x`,
/// no scheme → `http://`.
pub(crate) fn expand_url(url: &str) -> String {
    if let Some(rest) = url.strip_prefix(':') {
        let rest = rest
            .strip_prefix('/')
            .map_or_else(|| rest.to_string(), |path| format!("/{path}"));
        if rest.starts_with('/') || rest.is_empty() {
            return format!("http://localhost{rest}");
        }
        return format!("http://localhost:{rest}");
    }
    if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_parse_like_httpie() {
        assert_eq!(
            parse_item("X-A:1").unwrap(),
            RequestItem::Header("X-A".into(), "1".into())
        );
        assert_eq!(
            parse_item("X-A:").unwrap(),
            RequestItem::UnsetHeader("X-A".into())
        );
        assert_eq!(
            parse_item("X-A;").unwrap(),
            RequestItem::Header("X-A".into(), String::new())
        );
        assert_eq!(
            parse_item("q==a=b").unwrap(),
            RequestItem::Query("q".into(), "a=b".into())
        );
        assert_eq!(
            parse_item("n:=1").unwrap(),
            RequestItem::Field("n".into(), Value::from(1))
        );
        assert_eq!(
            parse_item("url=http://x").unwrap(),
            RequestItem::Field("url".into(), Value::from("http://x"))
        );
        assert_eq!(
            parse_item("Referer:http://x").unwrap(),
            RequestItem::Header("Referer".into(), "http://x".into())
        );
        assert_eq!(
            parse_item("a\\:b=c").unwrap(),
            RequestItem::Field("a:b".into(), Value::from("c"))
        );
        assert!(parse_item("plain").is_err());
        assert!(parse_item("n:={").is_err());
    }

    #[test]
    fn urls_expand_like_httpie() {
        assert_eq!(expand_url(":3000/x"), "http://localhost:3000/x");
        assert_eq!(expand_url(":/x"), "http://localhost/x");
        assert_eq!(expand_url(":"), "http://localhost");
        assert_eq!(expand_url("example.com/x"), "http://example.com/x");
        assert_eq!(expand_url("https://e.com"), "https://e.com");
    }
}
