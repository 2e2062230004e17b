//! Arbitrary bytes through the record decoder (both envelopes): never a panic, and whatever
//! decodes re-encodes to bytes that decode to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = session_core::decode_record(data) {
        if let Ok(bytes) = session_core::encode_record(&record) {
            let again = session_core::decode_record(&bytes);
            assert_eq!(again.as_ref().ok(), Some(&record));
        }
    }
});
