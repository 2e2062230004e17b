//! HTTPie 3's nested JSON keys: `a[b][c]=x`, `a[]=x` (append), `a[0]=x` (index), `[]=x`
//! (a top-level array), with `\[`, `\]` and `\\` escaping the brackets and the backslash.
//!
//! The grammar and the semantics follow HTTPie 3.2.4 (`httpie/cli/nested_json`), quirks
//! included, so that the same items build the same body:
//!
//! - a key is a root (text, a number, `[N]` or `[]`) followed by any number of `[text]`,
//!   `[N]` and `[]`; a part that Python's `int()` accepts is a number (`007` is the key
//!   `"7"` at the root and the index 7 in brackets), `\1` is the text `"1"`;
//! - an index past the end pads the array with `null`; `[]` appends;
//! - a key or index into a value of another type is a type error (`a=1 a[b]=2`);
//! - stepping into a `null` restarts from a new root, as HTTPie does (`a:=null a[b]=1` gives
//!   `{"b": "1"}`).
//!
//! Everything here is pure: [`parse_key`] turns a key into steps, [`NestedJson::insert`]
//! applies one item and [`NestedJson::into_body`] gives the JSON body.

use session_http::client::python_json::Json;

/// The largest array index accepted (HTTPie has no limit; this keeps a typo such as
/// `a[99999999999]` from exhausting memory).
pub(crate) const MAX_INDEX: u64 = 100_000;

/// One step of a nested key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// An object member: the root text, or `[text]`.
    Key(String),
    /// `[N]`: an array element (negative numbers are kept to report them).
    Index(i128),
    /// `[]`: a new element at the end of an array.
    Append,
}

impl Step {
    /// The step as HTTPie writes it back in messages.
    fn reconstruct(&self, is_root: bool) -> String {
        match self {
            Step::Key(key) if is_root => key.clone(),
            Step::Key(key) => format!("[{key}]"),
            Step::Index(index) => format!("[{index}]"),
            Step::Append => "[]".to_string(),
        }
    }

    fn action(&self) -> &'static str {
        match self {
            Step::Key(_) => "key",
            Step::Index(_) => "index",
            Step::Append => "append",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Text(String),
    Number(i128),
    Open,
    Close,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Text(text) => format!("the text {text:?}"),
            Token::Number(n) => format!("the number {n}"),
            Token::Open => "'['".to_string(),
            Token::Close => "']'".to_string(),
        }
    }
}

/// Python's `int()` on ASCII text: surrounding whitespace, a sign, digits with single `_`
/// between them. Saturates far beyond any usable index.
fn python_int(text: &str) -> Option<i128> {
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.as_bytes().first()? {
        b'-' => (true, &trimmed[1..]),
        b'+' => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_digit() || !bytes[bytes.len() - 1].is_ascii_digit() {
        return None;
    }
    let mut value: i128 = 0;
    let mut previous_underscore = false;
    for &byte in bytes {
        if byte == b'_' {
            if previous_underscore {
                return None;
            }
            previous_underscore = true;
            continue;
        }
        if !byte.is_ascii_digit() {
            return None;
        }
        previous_underscore = false;
        value = value
            .saturating_mul(10)
            .saturating_add(i128::from(byte - b'0'));
    }
    Some(if negative { -value } else { value })
}

fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut buffer = String::new();
    let mut escaped = false;
    let flush = |buffer: &mut String, escaped: &mut bool, tokens: &mut Vec<Token>| {
        if buffer.is_empty() {
            return;
        }
        let text = std::mem::take(buffer);
        let token = if *escaped {
            Token::Text(text)
        } else if let Some(number) = python_int(&text) {
            Token::Number(number)
        } else if let Some(rest) = text.strip_prefix('\\')
            && python_int(rest).is_some()
        {
            Token::Text(rest.to_string())
        } else {
            Token::Text(text)
        };
        tokens.push(token);
        *escaped = false;
    };
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '[' | ']' => {
                flush(&mut buffer, &mut escaped, &mut tokens);
                tokens.push(if chars[i] == '[' {
                    Token::Open
                } else {
                    Token::Close
                });
            }
            '\\' if i + 1 < chars.len() => {
                let next = chars[i + 1];
                if matches!(next, '[' | ']' | '\\') {
                    escaped = true;
                } else {
                    buffer.push('\\');
                }
                buffer.push(next);
                i += 1;
            }
            c => buffer.push(c),
        }
        i += 1;
    }
    flush(&mut buffer, &mut escaped, &mut tokens);
    tokens
}

/// Parses a nested key into its steps (the first is the root).
pub(crate) fn parse_key(source: &str) -> Result<Vec<Step>, String> {
    let tokens = tokenize(source);
    let mut rest = tokens.iter();
    let unexpected = |found: Option<&Token>, expected: &str| match found {
        Some(token) => format!("expecting {expected}, found {}", token.describe()),
        None => format!("expecting {expected} at the end"),
    };
    let mut steps = Vec::new();
    match rest.next() {
        None => steps.push(Step::Key(String::new())),
        Some(Token::Text(text)) => steps.push(Step::Key(text.clone())),
        Some(Token::Number(n)) => steps.push(Step::Key(n.to_string())),
        Some(Token::Open) => match rest.next() {
            Some(Token::Number(n)) => match rest.next() {
                Some(Token::Close) => steps.push(Step::Index(*n)),
                other => return Err(unexpected(other, "']'")),
            },
            Some(Token::Close) => steps.push(Step::Append),
            other => return Err(unexpected(other, "a number or ']'")),
        },
        other => return Err(unexpected(other, "a text, a number or '['")),
    }
    while let Some(token) = rest.next() {
        if *token != Token::Open {
            return Err(unexpected(Some(token), "'['"));
        }
        let step = match rest.next() {
            Some(Token::Close) => {
                steps.push(Step::Append);
                continue;
            }
            Some(Token::Text(text)) => Step::Key(text.clone()),
            Some(Token::Number(n)) => Step::Index(*n),
            other => return Err(unexpected(other, "a text, a number or ']'")),
        };
        match rest.next() {
            Some(Token::Close) => steps.push(step),
            other => return Err(unexpected(other, "']'")),
        }
    }
    Ok(steps)
}

/// A JSON body built from nested items, in order.
#[derive(Debug)]
pub(crate) struct NestedJson {
    /// `Null` until the first item (HTTPie's `None`).
    root: Json,
}

impl Default for NestedJson {
    fn default() -> Self {
        NestedJson { root: Json::Null }
    }
}

fn empty_for(step: &Step) -> Json {
    match step {
        Step::Key(_) => Json::Object(Vec::new()),
        Step::Index(_) | Step::Append => Json::Array(Vec::new()),
    }
}

impl NestedJson {
    /// Whether no item was inserted.
    pub(crate) fn is_empty(&self) -> bool {
        self.root == Json::Null
    }

    /// Sets `value` at the nested `key`, as HTTPie's `interpret` does.
    pub(crate) fn insert(&mut self, key: &str, value: Json) -> Result<(), String> {
        let steps = parse_key(key)?;
        // The way from the root to the cursor; HTTPie's "cursor is None" restarts the root.
        let mut trail: Vec<Trail> = Vec::new();
        let mut value = Some(value);
        for (index, step) in steps.iter().enumerate() {
            let next = steps.get(index + 1);
            let mut cursor = follow(&mut self.root, &trail);
            if *cursor == Json::Null {
                self.root = empty_for(step);
                trail.clear();
                cursor = &mut self.root;
            }
            let expected = match step {
                Step::Key(_) => "object",
                Step::Index(_) | Step::Append => "array",
            };
            if cursor.type_name() != expected {
                let so_far: String = steps[..index]
                    .iter()
                    .enumerate()
                    .map(|(i, s)| s.reconstruct(i == 0))
                    .collect();
                return Err(format!(
                    "cannot perform {:?} based access on {so_far:?}, which has a type of {:?}, but this operation requires a type of {expected:?}",
                    step.action(),
                    cursor.type_name(),
                ));
            }
            let new_value = || match next {
                Some(next) => empty_for(next),
                None => Json::Null,
            };
            match (step, cursor) {
                (Step::Key(key), object @ Json::Object(_)) => {
                    if next.is_none() {
                        object.set_member(key, value.take().unwrap_or(Json::Null));
                        break;
                    }
                    if object.member_mut(key).is_none() {
                        object.set_member(key, new_value());
                    }
                    trail.push(Trail::Key(key.clone()));
                }
                (Step::Index(i), Json::Array(array)) => {
                    if *i < 0 {
                        return Err(format!("negative index {i} is not supported"));
                    }
                    if *i as u128 > u128::from(MAX_INDEX) {
                        return Err(format!(
                            "index {i} is larger than the supported {MAX_INDEX}"
                        ));
                    }
                    let position = *i as usize;
                    if array.len() <= position {
                        array.resize(position + 1, Json::Null);
                    }
                    if next.is_none() {
                        array[position] = value.take().unwrap_or(Json::Null);
                        break;
                    }
                    if array[position] == Json::Null {
                        array[position] = new_value();
                    }
                    trail.push(Trail::Index(position));
                }
                (Step::Append, Json::Array(array)) => {
                    if next.is_none() {
                        array.push(value.take().unwrap_or(Json::Null));
                        break;
                    }
                    array.push(new_value());
                    trail.push(Trail::Index(array.len() - 1));
                }
                _ => return Err("internal type mismatch".to_string()),
            }
        }
        Ok(())
    }

    /// The body: an object, or the top-level array built with `[]`/`[N]` roots.
    pub(crate) fn into_body(self) -> Json {
        match self.root {
            Json::Null => Json::Object(Vec::new()),
            other => other,
        }
    }
}

#[derive(Clone, Debug)]
enum Trail {
    Key(String),
    Index(usize),
}

fn follow<'a>(root: &'a mut Json, trail: &[Trail]) -> &'a mut Json {
    let Some((step, rest)) = trail.split_first() else {
        return root;
    };
    // The trail was built from this tree, so every step exists; stop rather than panic.
    let position = match (&*root, step) {
        (Json::Object(members), Trail::Key(key)) => members.iter().position(|(k, _)| k == key),
        (Json::Array(items), Trail::Index(i)) => (*i < items.len()).then_some(*i),
        _ => None,
    };
    let Some(position) = position else {
        return root;
    };
    match root {
        Json::Object(members) => follow(&mut members[position].1, rest),
        Json::Array(items) => follow(&mut items[position], rest),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(items: &[(&str, serde_json::Value)]) -> Result<serde_json::Value, String> {
        let mut body = NestedJson::default();
        for (key, value) in items {
            let value: Json = serde_json::from_value(value.clone()).unwrap();
            body.insert(key, value)?;
        }
        Ok(body.into_body().to_value())
    }

    #[test]
    fn keys_parse_like_httpie() {
        assert_eq!(parse_key("a").unwrap(), vec![Step::Key("a".into())]);
        assert_eq!(parse_key("").unwrap(), vec![Step::Key(String::new())]);
        assert_eq!(parse_key("007").unwrap(), vec![Step::Key("7".into())]);
        assert_eq!(
            parse_key("a[b][0][]").unwrap(),
            vec![
                Step::Key("a".into()),
                Step::Key("b".into()),
                Step::Index(0),
                Step::Append
            ]
        );
        assert_eq!(parse_key("[]").unwrap(), vec![Step::Append]);
        assert_eq!(parse_key("[1_0]").unwrap(), vec![Step::Index(10)]);
        assert_eq!(
            parse_key("a[\\1]").unwrap(),
            vec![Step::Key("a".into()), Step::Key("1".into())]
        );
        assert_eq!(
            parse_key("a\\[b\\]").unwrap(),
            vec![Step::Key("a[b]".into())]
        );
        assert_eq!(parse_key("a\\b").unwrap(), vec![Step::Key("a\\b".into())]);
        assert!(parse_key("a[b").unwrap_err().contains("expecting ']'"));
        assert!(parse_key("a\\[b]").unwrap_err().contains("expecting '['"));
        assert!(parse_key("[b]").unwrap_err().contains("a number or ']'"));
        assert!(parse_key("a]").is_err());
    }

    #[test]
    fn items_build_the_body_httpie_builds() {
        assert_eq!(
            build(&[("a[b]", json!("c")), ("a[d][e]", json!(1))]).unwrap(),
            json!({"a": {"b": "c", "d": {"e": 1}}})
        );
        assert_eq!(
            build(&[("[]", json!("x")), ("[1]", json!("y"))]).unwrap(),
            json!(["x", "y"])
        );
        assert_eq!(
            build(&[("a[0]", json!("x")), ("a[]", json!("y"))]).unwrap(),
            json!({"a": ["x", "y"]})
        );
        assert_eq!(
            build(&[("a[2]", json!("x"))]).unwrap(),
            json!({"a": [null, null, "x"]})
        );
        assert_eq!(
            build(&[("a", json!(null)), ("a[b]", json!("1"))]).unwrap(),
            json!({"b": "1"})
        );
        assert_eq!(
            build(&[("a", json!({"x": 1})), ("a[y]", json!(2))]).unwrap(),
            json!({"a": {"x": 1, "y": 2}})
        );
        assert_eq!(build(&[]).unwrap(), json!({}));
    }

    #[test]
    fn type_conflicts_and_bad_indexes_are_errors() {
        let error = build(&[("a", json!("1")), ("a[b]", json!("2"))]).unwrap_err();
        assert!(error.contains("\"key\" based access on \"a\""), "{error}");
        assert!(error.contains("\"string\""), "{error}");
        assert!(build(&[("a", json!("1")), ("[]", json!("2"))]).is_err());
        assert!(build(&[("a[]", json!("1")), ("a[b]", json!("2"))]).is_err());
        assert!(
            build(&[("a[-1]", json!("1"))])
                .unwrap_err()
                .contains("negative")
        );
        assert!(build(&[("a[99999999999]", json!("1"))]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_keys_never_panic(keys in proptest::collection::vec("[ab017_ +\\-\\[\\]\\\\]{0,12}", 1..3)) {
            let mut body = NestedJson::default();
            for key in &keys {
                let _ = body.insert(key, Json::String("v".into()));
            }
            let _ = body.into_body();
        }

        #[test]
        fn plain_key_paths_round_trip(parts in proptest::collection::vec("k[ab017_ +\\-]{0,10}", 1..5)) {
            let key = format!(
                "{}{}",
                parts[0],
                parts[1..].iter().map(|p| format!("[{p}]")).collect::<String>()
            );
            let steps = parse_key(&key).unwrap();
            proptest::prop_assert_eq!(
                steps,
                parts.iter().map(|p| Step::Key(p.clone())).collect::<Vec<_>>()
            );
            let body = build(&[(&key, json!("v"))]).unwrap();
            let mut expected = json!("v");
            for part in parts.iter().rev() {
                expected = json!({ part.clone(): expected });
            }
            proptest::prop_assert_eq!(body, expected, "{}", key);
        }
    }
}
