//! Arbitrary text as an HTTPie session file: never a panic, and a file that reads writes back
//! to a file that reads the same (headers, cookies) and writes back to itself, so reading and
//! saving a session loses nothing that was read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_http::client::httpie_format::{parse_httpie_file, write_httpie_file};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(read) = parse_httpie_file(text, "example.com") else {
        return;
    };
    let written = write_httpie_file(&read);
    let again = parse_httpie_file(&written, "example.com")
        .unwrap_or_else(|e| panic!("a written file does not read: {e}\n{written}"));
    assert_eq!(again.headers, read.headers, "{written}");
    assert!(again.cookies == read.cookies, "{written}");
    assert_eq!(write_httpie_file(&again), written);
});
