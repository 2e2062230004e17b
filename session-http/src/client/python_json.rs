//! JSON written exactly as Python's `json.dumps` writes it (with `ensure_ascii=True`, the
//! default), so that what this crate and `sessionctl` write is byte for byte what HTTPie
//! writes: request bodies (`json.dumps(value)`: `", "` and `": "` separators, one line) and
//! session files (`json.dumps(value, indent=4, sort_keys=True)`).
//!
//! [`Json`] keeps the order, and duplicates, of object keys, as HTTPie keeps them in bodies.
//!
//! ```
//! use session_http::client::python_json::{DumpOptions, Json};
//!
//! let value: Json = serde_json::from_str(r#"{"b": 1e16, "a": ["é", 0.5]}"#).unwrap();
//! assert_eq!(value.dumps(), r#"{"b": 1e+16, "a": ["\u00e9", 0.5]}"#);
//! assert_eq!(
//!     value.dumps_with(DumpOptions::HTTPIE_SESSION_FILE),
//!     "{\n    \"a\": [\n        \"\\u00e9\",\n        0.5\n    ],\n    \"b\": 1e+16\n}"
//! );
//! ```

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The `json.dumps` arguments that change the layout (`ensure_ascii` is always on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DumpOptions {
    /// `indent=`: `None` writes one line with `", "` between items; `Some(n)` puts every item
    /// on its own line indented by `n` spaces per level, with `","` between items.
    pub indent: Option<usize>,
    /// `sort_keys=True`: object members in the order of their keys' code points.
    pub sort_keys: bool,
}

impl DumpOptions {
    /// `json.dumps(value)`: what HTTPie sends as a JSON request body.
    pub const BODY: DumpOptions = DumpOptions {
        indent: None,
        sort_keys: false,
    };
    /// `json.dumps(value, indent=4, sort_keys=True, ensure_ascii=True)`: how HTTPie writes
    /// session files.
    pub const HTTPIE_SESSION_FILE: DumpOptions = DumpOptions {
        indent: Some(4),
        sort_keys: true,
    };
}

/// A JSON value; objects are ordered lists of members.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A number with a fraction or an exponent (Python's `float`).
    Float(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in order (duplicates kept, as HTTPie keeps them).
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The JSON type name HTTPie uses in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Object(_) => "object",
            Json::Array(_) => "array",
            Json::Int(_) | Json::Float(_) => "number",
            Json::String(_) => "string",
            Json::Bool(_) => "bool",
            Json::Null => "null",
        }
    }

    /// The value of the first member named `key`.
    pub fn member_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Object(members) => members.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets `key` (the first member of that name, or a new last one).
    pub fn set_member(&mut self, key: &str, value: Json) {
        if let Json::Object(members) = self {
            match members.iter_mut().find(|(k, _)| k == key) {
                Some((_, slot)) => *slot = value,
                None => members.push((key.to_string(), value)),
            }
        }
    }

    /// As a `serde_json::Value` (key order then follows serde_json's map, and of duplicate
    /// keys the last stays).
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Int(i) => i64::try_from(*i)
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(*i as f64)),
            Json::Float(f) => Value::from(*f),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// Python's `json.dumps(value)`.
    pub fn dumps(&self) -> String {
        self.dumps_with(DumpOptions::BODY)
    }

    /// Python's `json.dumps(value, indent=…, sort_keys=…)` with `options`.
    pub fn dumps_with(&self, options: DumpOptions) -> String {
        let mut out = String::new();
        self.write(&mut out, options, 0);
        out
    }

    fn write(&self, out: &mut String, options: DumpOptions, depth: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::Float(f) if f.is_nan() => out.push_str("NaN"),
            Json::Float(f) if f.is_infinite() => {
                out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" });
            }
            Json::Float(f) => out.push_str(&python_float(*f)),
            Json::String(s) => write_python_string(s, out),
            // Python writes empty containers as `[]` and `{}` whatever the indent.
            Json::Array(items) if items.is_empty() => out.push_str("[]"),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    separator(out, options, depth + 1, i == 0);
                    item.write(out, options, depth + 1);
                }
                closing(out, options, depth);
                out.push(']');
            }
            Json::Object(members) if members.is_empty() => out.push_str("{}"),
            Json::Object(members) => {
                let mut members: Vec<&(String, Json)> = members.iter().collect();
                if options.sort_keys {
                    // Rust orders strings by UTF-8 bytes, which is Python's code point order.
                    members.sort_by(|a, b| a.0.cmp(&b.0));
                }
                out.push('{');
                for (i, (key, value)) in members.into_iter().enumerate() {
                    separator(out, options, depth + 1, i == 0);
                    write_python_string(key, out);
                    out.push_str(": ");
                    value.write(out, options, depth + 1);
                }
                closing(out, options, depth);
                out.push('}');
            }
        }
    }
}

/// What goes before an item: `", "` on one line, or `","`, a newline and the indent.
fn separator(out: &mut String, options: DumpOptions, depth: usize, first: bool) {
    match options.indent {
        None if first => {}
        None => out.push_str(", "),
        Some(indent) => {
            if !first {
                out.push(',');
            }
            newline(out, indent * depth);
        }
    }
}

/// What goes before a closing bracket: nothing on one line, else a newline and the indent.
fn closing(out: &mut String, options: DumpOptions, depth: usize) {
    if let Some(indent) = options.indent {
        newline(out, indent * depth);
    }
}

fn newline(out: &mut String, spaces: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', spaces));
}

impl From<&Value> for Json {
    /// serde_json's value (its object's key order is serde_json's map's).
    fn from(value: &Value) -> Json {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Json::Int(i128::from(i)),
                (None, Some(u)) => Json::Int(i128::from(u)),
                (None, None) => Json::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Json::String(s.clone()),
            Value::Array(items) => Json::Array(items.iter().map(Json::from).collect()),
            Value::Object(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Json::from(v)))
                    .collect(),
            ),
        }
    }
}

/// A string as `json.dumps` writes it with `ensure_ascii=True`.
fn write_python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// Python's `repr()` of a float, from Rust's shortest round-trip digits.
pub fn python_float(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Python's repr: the fewest digits that read back as `value`, correctly rounded (ties to
    // even). Rust's shortest `{:e}` can pick the other of two equally near digit strings
    // (657949821467135.25 → `…135.3` where Python writes `…135.2`), so the digits come from
    // correctly rounded formatting at growing precision instead: "1.5e300", "-1e-5", "0e0".
    let scientific = (0..17)
        .map(|precision| format!("{value:.precision$e}"))
        .find(|text| text.parse::<f64>() == Ok(value))
        .unwrap_or_else(|| format!("{value:e}"));
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if value != 0.0 && !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exp_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1; // digits before the decimal point
    let (integer, fraction) = if point <= 0 {
        (
            "0".to_string(),
            "0".repeat(point.unsigned_abs() as usize) + &digits,
        )
    } else if point as usize >= digits.len() {
        (
            digits.clone() + &"0".repeat(point as usize - digits.len()),
            String::new(),
        )
    } else {
        let (i, f) = digits.split_at(point as usize);
        (i.to_string(), f.to_string())
    };
    let fraction = fraction.trim_end_matches('0');
    let fraction = if fraction.is_empty() { "0" } else { fraction };
    format!("{sign}{integer}.{fraction}")
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Int(i128::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Int(i128::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_written_like_python_json_dumps() {
        let value: Json =
            serde_json::from_str(r#"{"z": [1, 2.5, 1e100, -0.0001], "a": {"é": "x\"\n😀"}, "z": null, "e": {}, "l": []}"#)
                .unwrap();
        assert_eq!(
            value.dumps(),
            r#"{"z": [1, 2.5, 1e+100, -0.0001], "a": {"\u00e9": "x\"\n\ud83d\ude00"}, "z": null, "e": {}, "l": []}"#
        );
    }

    #[test]
    fn session_files_are_indented_and_sorted() {
        let value: Json =
            serde_json::from_str(r#"{"b": [1, {"z": null, "a": "é\n"}], "a": {}, "c": []}"#)
                .unwrap();
        assert_eq!(
            value.dumps_with(DumpOptions::HTTPIE_SESSION_FILE),
            "{\n    \"a\": {},\n    \"b\": [\n        1,\n        {\n            \"a\": \"\\u00e9\\n\",\n            \"z\": null\n        }\n    ],\n    \"c\": []\n}"
        );
    }

    #[test]
    fn floats_are_written_like_python_repr() {
        assert_eq!(python_float(1.0), "1.0");
        assert_eq!(python_float(100.0), "100.0");
        assert_eq!(python_float(0.0001), "0.0001");
        assert_eq!(python_float(0.00001), "1e-05");
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(123456.5), "123456.5");
        assert_eq!(python_float(-2.5e-7), "-2.5e-07");
        assert_eq!(python_float(1.5e300), "1.5e+300");
        // Exactly halfway between two 16-digit strings: Python rounds to the even one.
        assert_eq!(
            python_float(657_949_821_467_135.0 + 0.25),
            "657949821467135.2"
        );
    }
}
