//! HTTPie 3.2.4 request items, and the request parts they build.
//!
//! | item | meaning |
//! |---|---|
//! | `Header:value` | a header; `Header:` unsets it (the session keeps it), `Header;` sends it empty |
//! | `Header:@path` | a header whose value is the file's text (trailing newlines removed) |
//! | `name==value`, `name==@path` | a query parameter (from the file: trailing newlines removed) |
//! | `field=value`, `field=@path` | a data field: a JSON string or a form value (the file's text, as is) |
//! | `field:=json`, `field:=@path` | raw JSON (from the file); with `--form`, only a string, number or bool |
//! | `field@path[;type=MIME]` | a file upload (`--form` or `--multipart`; makes the body multipart) |
//!
//! Parsing follows HTTPie: the earliest separator wins, the longest at that position; `\` before
//! one of `: ; = @` escapes it (in the key and the value); a `\` before any other character is
//! kept. Paths may start with `~/`. Files are read as UTF-8 text, except uploads.
//!
//! In the default JSON mode, data field keys are HTTPie 3's nested JSON paths
//! ([`crate::nested_json`]): `a[b]=c`, `a[]=x`, `a[0]=x`, `[]=x` (a top-level array), with `\[`
//! and `\]` for literal brackets. With `--form` and `--multipart` keys are taken literally and
//! repeated fields are grouped under their first occurrence, as HTTPie's multi-value dicts do.
//!
//! JSON bodies keep the order of the items and of the members of embedded JSON (duplicates
//! included) and are written as Python's `json.dumps` writes them ([`session_http::client::python_json`]),
//! so the body is byte for byte the one HTTPie sends. Form values of `:=` items are Python's
//! `str()` of the value (`True`, `1.5e+300`).
//!
//! [`split_item`] and [`build`] are pure (files are read through a [`FileReader`]); every
//! error names the item it comes from.

use crate::nested_json::NestedJson;
use session_http::client::python_json::{Json, python_float};

/// The separators HTTPie 3.2.4 knows, each with its kind.
const SEPARATORS: [(&str, Separator); 10] = [
    (":=@", Separator::JsonFile),
    ("==@", Separator::QueryFile),
    ("=@", Separator::DataFile),
    (":@", Separator::HeaderFile),
    (":=", Separator::Json),
    ("==", Separator::Query),
    ("=", Separator::Data),
    (":", Separator::Header),
    (";", Separator::EmptyHeader),
    ("@", Separator::FileUpload),
];

/// Characters a backslash escapes (every character of a separator).
const SPECIAL: [char; 4] = [':', ';', '=', '@'];

/// What an item's separator means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Separator {
    /// `Header:value`, `Header:` (unset).
    Header,
    /// `Header;` (an empty value).
    EmptyHeader,
    /// `Header:@path`.
    HeaderFile,
    /// `name==value`.
    Query,
    /// `name==@path`.
    QueryFile,
    /// `field=value`.
    Data,
    /// `field=@path`.
    DataFile,
    /// `field:=json`.
    Json,
    /// `field:=@path`.
    JsonFile,
    /// `field@path`.
    FileUpload,
}

impl Separator {
    /// Whether HTTPie counts the item as request data (it makes the default method POST).
    pub(crate) fn is_data(self) -> bool {
        matches!(
            self,
            Separator::Data
                | Separator::DataFile
                | Separator::Json
                | Separator::JsonFile
                | Separator::FileUpload
        )
    }
}

/// One item split into key, separator and value (escapes resolved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawItem {
    /// The item as typed.
    pub(crate) orig: String,
    /// The part before the separator.
    pub(crate) key: String,
    /// The separator.
    pub(crate) separator: Separator,
    /// The part after the separator.
    pub(crate) value: String,
}

/// Splits one item the way HTTPie's `KeyValueArgType` does.
pub(crate) fn split_item(item: &str) -> Result<RawItem, String> {
    // (character, escaped) — an escaped character is never part of a separator.
    let mut chars: Vec<(char, bool)> = Vec::new();
    let mut iter = item.chars().peekable();
    while let Some(c) = iter.next() {
        if c == '\\' {
            match iter.peek() {
                Some(&next) if SPECIAL.contains(&next) => {
                    chars.push((next, true));
                    iter.next();
                }
                Some(&next) => {
                    chars.push(('\\', false));
                    chars.push((next, false));
                    iter.next();
                }
                None => chars.push(('\\', false)),
            }
        } else {
            chars.push((c, false));
        }
    }
    for start in 0..chars.len() {
        if chars[start].1 {
            continue;
        }
        let found = SEPARATORS.iter().find(|(text, _)| {
            let len = text.chars().count();
            chars.len() >= start + len
                && chars[start..start + len]
                    .iter()
                    .zip(text.chars())
                    .all(|(&(c, escaped), s)| !escaped && c == s)
        });
        if let Some((text, separator)) = found {
            let len = text.chars().count();
            return Ok(RawItem {
                orig: item.to_string(),
                key: chars[..start].iter().map(|(c, _)| c).collect(),
                separator: *separator,
                value: chars[start + len..].iter().map(|(c, _)| c).collect(),
            });
        }
    }
    Err(format!(
        "{item:?} is not a request item (Header:value, name==value, field=value, field:=json, \
         field=@file, field:=@file, field@file …)"
    ))
}

/// How data fields are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum BodyKind {
    /// A JSON object or array (HTTPie's default).
    #[default]
    Json,
    /// `--form`: urlencoded, or multipart when a file is uploaded.
    Form,
    /// `--multipart`.
    Multipart,
}

/// One part of a multipart body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// A text field.
    Field {
        /// The field name.
        name: String,
        /// Its value.
        value: String,
    },
    /// An uploaded file.
    File {
        /// The field name.
        name: String,
        /// The file name sent (the path's last component).
        filename: String,
        /// `;type=` or the type guessed from the extension; none when unknown.
        content_type: Option<String>,
        /// The file's bytes.
        contents: Vec<u8>,
    },
}

/// The request body the items build.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Body {
    /// No data items (JSON mode): no body.
    Empty,
    /// JSON (members in the order given, written as HTTPie writes it).
    Json(Json),
    /// `application/x-www-form-urlencoded` fields (possibly none).
    Form(Vec<(String, String)>),
    /// `multipart/form-data` parts (possibly none).
    Multipart(Vec<Part>),
    /// `--raw`: the body as given (JSON or form headers by the mode, as HTTPie, unless empty).
    Raw(Vec<u8>),
    /// Standard input's bytes (JSON or form headers by the mode, as HTTPie, even when empty).
    Stdin(Vec<u8>),
}

/// Everything the items of one request build.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RequestItems {
    /// Headers to send, in order.
    pub(crate) headers: Vec<(String, String)>,
    /// Headers not to send (`Header:`).
    pub(crate) unset: Vec<String>,
    /// Query parameters to append.
    pub(crate) query: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Body,
    /// Whether any data item was given (HTTPie then defaults to POST).
    pub(crate) has_data: bool,
}

/// Reads a file named in an item (the path as typed, `~/` not yet expanded).
pub(crate) type FileReader<'a> = &'a dyn Fn(&str) -> std::io::Result<Vec<u8>>;

/// Reads `path` from the file system, expanding a leading `~/` to `$HOME` as HTTPie does.
pub(crate) fn read_user_file(path: &str) -> std::io::Result<Vec<u8>> {
    let expanded = match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => std::path::PathBuf::from(path),
    };
    std::fs::read(expanded)
}

fn read_text(item: &RawItem, read: FileReader<'_>) -> Result<String, String> {
    let bytes = read(&item.value)
        .map_err(|e| format!("{:?}: cannot read {:?}: {e}", item.orig, item.value))?;
    String::from_utf8(bytes).map_err(|_| {
        format!(
            "{:?}: cannot embed the content of {:?}, not a UTF-8 or ASCII-encoded text file",
            item.orig, item.value
        )
    })
}

fn parse_json(item: &RawItem, text: &str) -> Result<Json, String> {
    serde_json::from_str(text).map_err(|e| format!("{:?}: not valid JSON: {e}", item.orig))
}

/// A JSON value as a form value, as HTTPie's `str()`: only strings, numbers and bools.
fn form_value(item: &RawItem, value: &Json) -> Result<String, String> {
    match value {
        Json::String(text) => Ok(text.clone()),
        Json::Bool(true) => Ok("True".into()),
        Json::Bool(false) => Ok("False".into()),
        Json::Float(f) => Ok(python_float(*f)),
        Json::Int(i) => Ok(i.to_string()),
        _ => Err(format!(
            "{:?}: cannot use complex JSON value types (object, array, null) with --form/--multipart",
            item.orig
        )),
    }
}

/// The content type Python's `mimetypes` guesses for common extensions (none when unknown).
pub(crate) fn guess_content_type(filename: &str) -> Option<&'static str> {
    let extension = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "txt" | "text" | "log" | "conf" | "ini" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" | "mjs" => "text/javascript",
        "md" | "markdown" => "text/markdown",
        "xml" => "text/xml",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => return None,
    })
}

/// Adds `value` under `name`, grouped after the earlier values of the same name (HTTPie's
/// multi-value dicts keep a name at its first position).
fn push_grouped<T>(list: &mut Vec<(String, T)>, name: String, value: T) {
    match list.iter().rposition(|(n, _)| *n == name) {
        Some(last) => list.insert(last + 1, (name, value)),
        None => list.push((name, value)),
    }
}

/// Builds the headers, query and body of `items` as HTTPie 3.2.4 does.
pub(crate) fn build(
    items: &[String],
    kind: BodyKind,
    read: FileReader<'_>,
) -> Result<RequestItems, String> {
    let raw: Vec<RawItem> = items
        .iter()
        .map(|item| split_item(item))
        .collect::<Result<_, _>>()?;
    let mut headers = Vec::new();
    let mut unset = Vec::new();
    let mut query = Vec::new();
    let mut nested = NestedJson::default();
    let mut form: Vec<(String, String)> = Vec::new();
    let mut parts: Vec<(String, Part)> = Vec::new();
    let mut uploads = Vec::new();
    for item in &raw {
        match item.separator {
            Separator::Header if item.value.is_empty() => unset.push(item.key.clone()),
            Separator::Header => headers.push((item.key.clone(), item.value.clone())),
            Separator::EmptyHeader if item.value.is_empty() => {
                headers.push((item.key.clone(), String::new()));
            }
            Separator::EmptyHeader => {
                return Err(format!(
                    "invalid item {:?} (to specify an empty header use `Header;`)",
                    item.orig
                ));
            }
            Separator::HeaderFile => {
                let text = read_text(item, read)?;
                headers.push((item.key.clone(), text.trim_end_matches('\n').to_string()));
            }
            Separator::Query => query.push((item.key.clone(), item.value.clone())),
            Separator::QueryFile => {
                let text = read_text(item, read)?;
                query.push((item.key.clone(), text.trim_end_matches('\n').to_string()));
            }
            Separator::Data | Separator::DataFile | Separator::Json | Separator::JsonFile => {
                let value = match item.separator {
                    Separator::Data => Json::String(item.value.clone()),
                    Separator::DataFile => Json::String(read_text(item, read)?),
                    Separator::Json => parse_json(item, &item.value)?,
                    _ => parse_json(item, &read_text(item, read)?)?,
                };
                if kind == BodyKind::Json {
                    nested
                        .insert(&item.key, value)
                        .map_err(|e| format!("{:?}: {e}", item.orig))?;
                    continue;
                }
                let text = form_value(item, &value)?;
                // HTTPie's multipart parts come from `=`, `=@` and `@` items only.
                if matches!(item.separator, Separator::Data | Separator::DataFile) {
                    push_grouped(
                        &mut parts,
                        item.key.clone(),
                        Part::Field {
                            name: item.key.clone(),
                            value: text.clone(),
                        },
                    );
                }
                push_grouped(&mut form, item.key.clone(), text);
            }
            Separator::FileUpload => {
                uploads.push(item.key.clone());
                if kind == BodyKind::Json {
                    continue;
                }
                let (path, explicit_type) = match item.value.split_once(";type=") {
                    Some((path, mime)) => (path, Some(mime.to_string())),
                    None => (item.value.as_str(), None),
                };
                let contents = read(path)
                    .map_err(|e| format!("{:?}: cannot read {path:?}: {e}", item.orig))?;
                let filename = path.rsplit('/').next().unwrap_or(path).to_string();
                let content_type =
                    explicit_type.or_else(|| guess_content_type(&filename).map(str::to_string));
                push_grouped(
                    &mut parts,
                    item.key.clone(),
                    Part::File {
                        name: item.key.clone(),
                        filename,
                        content_type,
                        contents,
                    },
                );
            }
        }
    }
    if kind == BodyKind::Json && !uploads.is_empty() {
        return Err(format!(
            "invalid file fields (perhaps you meant --form?): {}",
            uploads.join(", ")
        ));
    }
    let body = match kind {
        BodyKind::Json if nested.is_empty() => Body::Empty,
        BodyKind::Json => Body::Json(nested.into_body()),
        BodyKind::Form if uploads.is_empty() => Body::Form(form),
        BodyKind::Form | BodyKind::Multipart => {
            Body::Multipart(parts.into_iter().map(|(_, part)| part).collect())
        }
    };
    Ok(RequestItems {
        headers,
        unset,
        query,
        body,
        has_data: raw.iter().any(|item| item.separator.is_data()),
    })
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
    use std::collections::HashMap;

    use super::*;
    use serde_json::json;

    fn split(item: &str) -> (String, Separator, String) {
        let raw = split_item(item).unwrap();
        (raw.key, raw.separator, raw.value)
    }

    fn files() -> HashMap<&'static str, Vec<u8>> {
        HashMap::from([
            ("t.txt", b"hello\n".to_vec()),
            ("j.json", b"{\"x\": [1, 2]}\n".to_vec()),
            ("bad.json", b"bad{".to_vec()),
            ("bin", vec![0xff, 0xfe]),
            ("dir/i.png", vec![0x89, b'P', b'N', b'G']),
        ])
    }

    fn json_body(body: &Body) -> serde_json::Value {
        match body {
            Body::Json(json) => json.to_value(),
            other => panic!("not JSON: {other:?}"),
        }
    }

    fn build_with(items: &[&str], kind: BodyKind) -> Result<RequestItems, String> {
        let files = files();
        let read = |path: &str| {
            files.get(path).cloned().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
            })
        };
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        build(&items, kind, &read)
    }

    #[test]
    fn items_split_like_httpie() {
        use Separator::*;
        let s = |k: &str, sep, v: &str| (k.to_string(), sep, v.to_string());
        assert_eq!(split("X-A:1"), s("X-A", Header, "1"));
        assert_eq!(split("X-A:"), s("X-A", Header, ""));
        assert_eq!(split("X-A;"), s("X-A", EmptyHeader, ""));
        assert_eq!(split("q==a=b"), s("q", Query, "a=b"));
        assert_eq!(split("q==@f"), s("q", QueryFile, "f"));
        assert_eq!(split("n:=1"), s("n", Json, "1"));
        assert_eq!(split("n:=@f"), s("n", JsonFile, "f"));
        assert_eq!(split("n=@f"), s("n", DataFile, "f"));
        assert_eq!(split("H:@f"), s("H", HeaderFile, "f"));
        assert_eq!(
            split("f@a.txt;type=x/y"),
            s("f", FileUpload, "a.txt;type=x/y")
        );
        assert_eq!(split("url=http://x"), s("url", Data, "http://x"));
        assert_eq!(split("Referer:http://x"), s("Referer", Header, "http://x"));
        assert_eq!(split("a\\:b=c"), s("a:b", Data, "c"));
        assert_eq!(split("a=b\\=c\\d"), s("a", Data, "b=c\\d"));
        assert_eq!(split("a:\\=b"), s("a", Header, "=b"));
        assert_eq!(split("a\\[b]=c"), s("a\\[b]", Data, "c"));
        assert_eq!(split("=c"), s("", Data, "c"));
        assert!(split_item("plain").is_err());
        assert!(split_item("a\\=b").is_err());
    }

    #[test]
    fn json_items_build_nested_bodies_with_file_contents() {
        let built = build_with(
            &["x=@t.txt", "y:=@j.json", "a[b][]:=1", "a[b][]=2", "n:=null"],
            BodyKind::Json,
        )
        .unwrap();
        assert_eq!(
            json_body(&built.body),
            json!({"x": "hello\n", "y": {"x": [1, 2]}, "a": {"b": [1, "2"]}, "n": null})
        );
        let Body::Json(ordered) = &built.body else {
            panic!("not JSON")
        };
        assert_eq!(
            ordered.dumps(),
            r#"{"x": "hello\n", "y": {"x": [1, 2]}, "a": {"b": [1, "2"]}, "n": null}"#
        );
        assert!(built.has_data);
        let top = build_with(&["[]=x", "[1]:=2"], BodyKind::Json).unwrap();
        assert_eq!(json_body(&top.body), json!(["x", 2]));
        let none = build_with(&["H:v", "q==1"], BodyKind::Json).unwrap();
        assert_eq!(none.body, Body::Empty);
        assert!(!none.has_data);
    }

    #[test]
    fn header_and_query_files_lose_trailing_newlines() {
        let built = build_with(&["H:@t.txt", "q==@t.txt", "E;", "U:"], BodyKind::Json).unwrap();
        assert_eq!(
            built.headers,
            vec![("H".into(), "hello".into()), ("E".into(), String::new())]
        );
        assert_eq!(built.query, vec![("q".into(), "hello".into())]);
        assert_eq!(built.unset, vec!["U".to_string()]);
    }

    #[test]
    fn bad_items_are_errors_naming_the_item() {
        let error = |items: &[&str], kind| build_with(items, kind).unwrap_err();
        assert!(error(&["x=@missing"], BodyKind::Json).contains("\"x=@missing\": cannot read"));
        assert!(
            error(&["x:=@bad.json"], BodyKind::Json).contains("\"x:=@bad.json\": not valid JSON")
        );
        assert!(error(&["x=@bin"], BodyKind::Json).contains("not a UTF-8"));
        assert!(error(&["x:={"], BodyKind::Json).contains("not valid JSON"));
        assert!(error(&["a=1", "a[b]=2"], BodyKind::Json).contains("\"a[b]=2\""));
        assert!(error(&["a[b=2"], BodyKind::Json).contains("expecting ']'"));
        assert!(error(&["f@t.txt"], BodyKind::Json).contains("perhaps you meant --form"));
        assert!(error(&["f@missing"], BodyKind::Form).contains("\"f@missing\": cannot read"));
        assert!(error(&["c:=[1]"], BodyKind::Form).contains("complex JSON"));
        assert!(error(&["H;x"], BodyKind::Json).contains("empty header"));
    }

    #[test]
    fn form_items_are_literal_grouped_and_stringified_like_python() {
        let built = build_with(
            &["a=1", "b[x]=2", "a=3", "t:=true", "f:=1.5e300", "x=@t.txt"],
            BodyKind::Form,
        )
        .unwrap();
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            built.body,
            Body::Form(pairs(&[
                ("a", "1"),
                ("a", "3"),
                ("b[x]", "2"),
                ("t", "True"),
                ("f", "1.5e+300"),
                ("x", "hello\n"),
            ]))
        );
    }

    #[test]
    fn multipart_parts_keep_uploads_and_text_fields_only() {
        let built = build_with(
            &[
                "a=1",
                "f@dir/i.png",
                "q:=2",
                "h@t.txt;type=text/x-foo",
                "a=@t.txt",
            ],
            BodyKind::Multipart,
        )
        .unwrap();
        let Body::Multipart(parts) = built.body else {
            panic!("not multipart")
        };
        let names: Vec<_> = parts
            .iter()
            .map(|p| match p {
                Part::Field { name, value } => format!("{name}={value}"),
                Part::File {
                    name,
                    filename,
                    content_type,
                    ..
                } => format!("{name}@{filename};{content_type:?}"),
            })
            .collect();
        assert_eq!(
            names,
            vec![
                "a=1",
                "a=hello\n",
                "f@i.png;Some(\"image/png\")",
                "h@t.txt;Some(\"text/x-foo\")"
            ]
        );
        // --form with a file upload is multipart too.
        assert!(matches!(
            build_with(&["f@t.txt"], BodyKind::Form).unwrap().body,
            Body::Multipart(_)
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_items_never_panic(
            items in proptest::collection::vec("[ab1:=@;./tx\"{é\\[\\]\\\\]{0,14}", 0..4)
        ) {
            let items: Vec<&str> = items.iter().map(String::as_str).collect();
            for kind in [BodyKind::Json, BodyKind::Form, BodyKind::Multipart] {
                let _ = build_with(&items, kind);
            }
        }
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
