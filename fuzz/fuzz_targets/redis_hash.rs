//! Arbitrary field/value pairs through the Redis store's hash decoder (both layouts). Never a
//! panic; whatever decodes re-encodes to fields that decode to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::SessionKey;
use session_stores::stored_forms::redis_hash::{FieldPairs, record_fields, record_from_fields};

/// The next item of the input: a length byte, then up to that many bytes.
fn item(rest: &mut &[u8]) -> Option<Vec<u8>> {
    let (&len, tail) = rest.split_first()?;
    let (item, tail) = tail.split_at(usize::from(len).min(tail.len()));
    *rest = tail;
    Some(item.to_vec())
}

fuzz_target!(|data: &[u8]| {
    let key = SessionKey::from_bytes([7; 32]);
    let mut rest = data;
    let mut pairs = FieldPairs::new();
    while let (Some(field), Some(value)) = (item(&mut rest), item(&mut rest)) {
        pairs.push((field, value));
    }
    if let Ok(Some(record)) = record_from_fields(key, pairs) {
        let fields = record_fields(&record);
        let again: FieldPairs = fields
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect();
        assert_eq!(record_from_fields(key, again), Ok(Some(record)));
    }
});
