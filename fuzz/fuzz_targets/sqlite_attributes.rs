//! Arbitrary bytes through the SQLite store's attributes-column decoder. Never a panic;
//! whatever decodes re-encodes to a blob that decodes to the same attributes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_stores::stored_forms::sqlite_attributes::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(attributes) = decode(data) {
        assert_eq!(decode(&encode(&attributes)), Ok(attributes));
    }
});
