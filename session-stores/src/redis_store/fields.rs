//! How a record lies in a Redis hash, as pure functions over field names and bytes.
//!
//! One hash per session, `<prefix>s:{<key hex>}`:
//!
//! | field | value |
//! |---|---|
//! | `m:version`, `m:created`, `m:last` | decimal numbers (times in Unix milliseconds) |
//! | `m:idle`, `m:abs` | timeouts in milliseconds; absent when off |
//! | `m:codec` | the codec's envelope id (1 JSON, 2 bincode) |
//! | `m:principal` | the principal; absent when none |
//! | `m:size`, `m:count` | the record's data size and attribute count (kept for the limits) |
//! | `a:<name>` | an attribute's encoded value |
//! | `v:<name>` | the version that wrote it |
//!
//! Attribute names are prefixed, so no attribute can collide with the metadata.

use std::collections::BTreeMap;
use std::time::Duration;

use session_core::{Attribute, Codec, ExpiryPolicy, Record, SessionKey, Timestamp};

fn number(n: u64) -> Vec<u8> {
    n.to_string().into_bytes()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The fields of `record`, as the create script takes them (name, value, name, value …).
pub(crate) fn record_fields(record: &Record) -> Vec<Vec<u8>> {
    let mut fields: Vec<Vec<u8>> = Vec::with_capacity(20 + 4 * record.attributes.len());
    let mut put = |name: &[u8], value: Vec<u8>| {
        fields.push(name.to_vec());
        fields.push(value);
    };
    put(b"m:version", number(record.version));
    put(b"m:created", number(record.created_at.as_millis()));
    put(b"m:last", number(record.last_access.as_millis()));
    if let Some(idle) = record.expiry.idle {
        put(b"m:idle", number(millis(idle)));
    }
    if let Some(absolute) = record.expiry.absolute {
        put(b"m:abs", number(millis(absolute)));
    }
    put(b"m:codec", number(u64::from(record.codec.id())));
    if let Some(principal) = &record.principal {
        put(b"m:principal", principal.clone().into_bytes());
    }
    put(b"m:size", number(record.data_size() as u64));
    put(b"m:count", number(record.attributes.len() as u64));
    for (name, attribute) in &record.attributes {
        put(&[b"a:", name.as_bytes()].concat(), attribute.value.clone());
        put(
            &[b"v:", name.as_bytes()].concat(),
            number(attribute.version),
        );
    }
    fields
}

fn parse_u64(name: &str, value: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| format!("field {name} is not a number"))
}

fn utf8(bytes: Vec<u8>, what: &str) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| format!("{what} is not UTF-8"))
}

/// An attribute while its two fields are being collected.
#[derive(Default)]
struct Partial {
    value: Option<Vec<u8>>,
    version: Option<u64>,
}

/// A hash's fields and values, in the order Redis sent them.
pub(crate) type FieldPairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The field/value pairs of an `HGETALL` reply (a flat array in RESP2, a map in RESP3),
/// moved out of the reply without copying.
pub(crate) fn hash_pairs(reply: redis::Value) -> Result<FieldPairs, String> {
    fn bytes(value: redis::Value) -> Result<Vec<u8>, String> {
        match value {
            redis::Value::BulkString(bytes) => Ok(bytes),
            redis::Value::SimpleString(text) => Ok(text.into_bytes()),
            other => Err(format!("a hash field or value is {other:?}")),
        }
    }
    match reply {
        redis::Value::Array(items) => {
            if items.len() % 2 != 0 {
                return Err("HGETALL answered an odd number of items".into());
            }
            let mut pairs = Vec::with_capacity(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(field), Some(value)) = (items.next(), items.next()) {
                pairs.push((bytes(field)?, bytes(value)?));
            }
            Ok(pairs)
        }
        redis::Value::Map(entries) => entries
            .into_iter()
            .map(|(field, value)| Ok((bytes(field)?, bytes(value)?)))
            .collect(),
        redis::Value::Nil => Ok(Vec::new()),
        other => Err(format!("HGETALL answered {other:?}")),
    }
}

/// The record in a hash's fields (`HGETALL`, see [`hash_pairs`]); `None` for an empty hash
/// (no record). One pass; the values are moved into the record, not copied.
pub(crate) fn record_from_fields(
    key: SessionKey,
    fields: FieldPairs,
) -> Result<Option<Record>, String> {
    if fields.is_empty() {
        return Ok(None);
    }
    let (mut version, mut created, mut last, mut idle, mut absolute, mut codec_id) =
        (None, None, None, None, None, None);
    let mut principal = None;
    let mut partial: BTreeMap<String, Partial> = BTreeMap::new();
    for (mut field, value) in fields {
        match field.as_slice() {
            b"m:version" => version = Some(parse_u64("m:version", &value)?),
            b"m:created" => created = Some(parse_u64("m:created", &value)?),
            b"m:last" => last = Some(parse_u64("m:last", &value)?),
            b"m:idle" => idle = Some(parse_u64("m:idle", &value)?),
            b"m:abs" => absolute = Some(parse_u64("m:abs", &value)?),
            b"m:codec" => codec_id = Some(parse_u64("m:codec", &value)?),
            b"m:principal" => principal = Some(utf8(value, "principal")?),
            [b'a', b':', ..] => {
                let name = utf8(field.split_off(2), "attribute name")?;
                partial.entry(name).or_default().value = Some(value);
            }
            [b'v', b':', ..] => {
                let name = utf8(field.split_off(2), "attribute name")?;
                let number = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("version of attribute {name:?} is not a number"))?;
                partial.entry(name).or_default().version = Some(number);
            }
            _ => {}
        }
    }
    let required = |v: Option<u64>, name: &str| v.ok_or_else(|| format!("field {name} is missing"));
    let codec_id = required(codec_id, "m:codec")?;
    let codec = u8::try_from(codec_id)
        .ok()
        .and_then(|id| Codec::from_id(id).ok())
        .ok_or_else(|| format!("unknown codec {codec_id}"))?;
    let mut attributes = BTreeMap::new();
    for (name, Partial { value, version }) in partial {
        let Some(value) = value else {
            // A version without a value: left over by nothing this store writes; ignored
            // as before (only values make attributes).
            continue;
        };
        let version = version.ok_or_else(|| format!("attribute {name:?} has no version"))?;
        attributes.insert(name, Attribute { value, version });
    }
    Ok(Some(Record {
        key,
        codec,
        attributes,
        principal,
        created_at: Timestamp::from_millis(required(created, "m:created")?),
        last_access: Timestamp::from_millis(required(last, "m:last")?),
        expiry: ExpiryPolicy {
            idle: idle.map(Duration::from_millis),
            absolute: absolute.map(Duration::from_millis),
        },
        version: required(version, "m:version")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn records_round_trip_through_hash_fields(
            names in proptest::collection::btree_map("[a-zA-Z0-9:{} ]{1,12}", proptest::collection::vec(any::<u8>(), 0..20), 0..6),
            principal in proptest::option::of("[a-z]{1,8}"),
            idle in proptest::option::of(1u64..10_000_000),
            absolute in proptest::option::of(1u64..10_000_000),
            version in 1u64..1000,
        ) {
            let mut record = Record::new(
                SessionKey::from_bytes([7; 32]),
                Codec::Bincode,
                ExpiryPolicy { idle: idle.map(Duration::from_millis), absolute: absolute.map(Duration::from_millis) },
                Timestamp::from_millis(1_700_000_000_000),
            );
            record.version = version;
            record.principal = principal;
            for (name, value) in names {
                record.attributes.insert(name, Attribute { value, version });
            }
            let flat = record_fields(&record);
            let pairs: FieldPairs = flat.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
            prop_assert_eq!(record_from_fields(record.key, pairs.clone()).unwrap(), Some(record.clone()));
            // As an HGETALL reply, in either protocol.
            let array = redis::Value::Array(flat.iter().cloned().map(redis::Value::BulkString).collect());
            prop_assert_eq!(record_from_fields(record.key, hash_pairs(array).unwrap()).unwrap(), Some(record.clone()));
            let map = redis::Value::Map(pairs.into_iter().map(|(f, v)| (redis::Value::BulkString(f), redis::Value::BulkString(v))).collect());
            prop_assert_eq!(record_from_fields(record.key, hash_pairs(map).unwrap()).unwrap(), Some(record));
        }
    }

    #[test]
    fn an_empty_hash_is_no_record_and_a_damaged_one_an_error() {
        let key = SessionKey::from_bytes([1; 32]);
        assert_eq!(record_from_fields(key, Vec::new()), Ok(None));
        assert!(record_from_fields(key, vec![(b"a:x".to_vec(), b"1".to_vec())]).is_err());
        assert!(hash_pairs(redis::Value::Array(vec![redis::Value::Int(1)])).is_err());
        assert!(hash_pairs(redis::Value::Int(1)).is_err());
    }
}
