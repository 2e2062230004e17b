//! The Python-style JSON writer against Python itself: generated values (floats of every
//! magnitude, any Unicode text, nested arrays and objects) written by `Json::dumps_with` must be
//! byte for byte what `json.dumps` writes, with the options of HTTPie's request bodies and of
//! its session files. Python runs once per batch of values.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use session_http::client::python_json::{DumpOptions, Json};

/// Reads one value per line and prints, per value, a JSON array of what `json.dumps` writes
/// for a request body and for a session file.
const PYTHON: &str = r#"
import json, sys
for line in sys.stdin:
    value = json.loads(line)
    print(json.dumps([
        json.dumps(value),
        json.dumps(value, indent=4, sort_keys=True, ensure_ascii=True),
    ]))
"#;

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        // Every bit pattern: subnormals, huge and tiny exponents, NaN, infinities, -0.0.
        any::<f64>(),
        // Where Python switches between positional and exponent notation.
        (-20i32..20, -1000.0f64..1000.0).prop_map(|(exp, m)| m * 10f64.powi(exp)),
        (-1e17f64..1e17).prop_map(f64::trunc),
    ]
}

fn leaf() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|i| Json::Int(i128::from(i))),
        any::<i128>().prop_map(Json::Int),
        float().prop_map(Json::Float),
        any::<String>().prop_map(Json::String),
        "[a-c\u{e9}\u{1F600}\u{7f}\u{1}]{0,4}".prop_map(Json::String),
    ]
}

fn value() -> impl Strategy<Value = Json> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            // Python's dicts hold a key once, so generated objects do too.
            prop::collection::btree_map(any::<String>(), inner.clone(), 0..6)
                .prop_map(|map| Json::Object(map.into_iter().rev().collect())),
            prop::collection::btree_map("[a-z\u{e9}]{0,3}", inner, 0..6)
                .prop_map(|map| Json::Object(map.into_iter().collect())),
        ]
    })
}

/// What Python writes for each value, or `None` when there is no Python to ask.
fn python_dumps(values: &[Json]) -> Option<Vec<[String; 2]>> {
    let Some(python) = test_support::python_peer("python3") else {
        test_support::skip("python_json", "python3 in the peers' virtualenv");
        return None;
    };
    let mut child = Command::new(python)
        .args(["-c", PYTHON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for value in values {
        // The one-line form is the input: Python parses back exactly the value it describes.
        input.push_str(&value.dumps());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "python3 failed");
    let text = String::from_utf8(output.stdout).unwrap();
    Some(
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect(),
    )
}

proptest! {
    // One case is one batch, one Python process.
    #![proptest_config(ProptestConfig::with_cases(3))]

    #[test]
    fn writes_what_python_json_dumps_writes(values in prop::collection::vec(value(), 400)) {
        let Some(expected) = python_dumps(&values) else { return Ok(()) };
        prop_assert_eq!(expected.len(), values.len());
        for (value, [body, session_file]) in values.iter().zip(expected) {
            prop_assert_eq!(value.dumps(), body);
            prop_assert_eq!(value.dumps_with(DumpOptions::HTTPIE_SESSION_FILE), session_file);
        }
    }
}
