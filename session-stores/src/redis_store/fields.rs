//! How a record lies in a Redis hash, as pure functions over field names and bytes.
//!
//! One hash per session, `<prefix>s:{<key hex>}`:
//!
//! | field | value |
//! |---|---|
//! | `m` | the metadata, space-separated: version, created, last access (Unix milliseconds), idle and absolute timeouts in milliseconds (empty when off), the codec's envelope id (1 JSON, 2 bincode), the record's data size and attribute count (kept for the limits), then `=<principal>` or nothing |
//! | `a:<name>` | the version that wrote the attribute, a space, then its encoded value |
//!
//! Attribute names are prefixed, so no attribute can collide with the metadata. A load reads
//! one field per attribute plus one: the reply parser's work grows with the number of fields,
//! and the scripts read and write the metadata in one call.
//!
//! The first layout kept every number in a field of its own (`m:version`, `m:created`,
//! `m:last`, `m:idle`, `m:abs`, `m:codec`, `m:principal`, `m:size`, `m:count`) and each
//! attribute's version apart from its value (`v:<name>`). Loads still read it; the first write
//! to such a hash rewrites it in the current layout (the scripts' `upgrade`).

use std::collections::BTreeMap;
use std::time::Duration;

use session_core::{Attribute, Codec, ExpiryPolicy, Record, SessionKey, Timestamp};

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A timeout as the metadata and the save script hold it: milliseconds, or empty when off.
pub(crate) fn timeout_text(timeout: Option<Duration>) -> String {
    timeout.map(|d| millis(d).to_string()).unwrap_or_default()
}

/// The `m` field of `record`.
fn meta_value(record: &Record) -> Vec<u8> {
    let principal = record
        .principal
        .as_ref()
        .map(|p| format!("={p}"))
        .unwrap_or_default();
    format!(
        "{} {} {} {} {} {} {} {} {principal}",
        record.version,
        record.created_at.as_millis(),
        record.last_access.as_millis(),
        timeout_text(record.expiry.idle),
        timeout_text(record.expiry.absolute),
        record.codec.id(),
        record.data_size(),
        record.attributes.len(),
    )
    .into_bytes()
}

/// The fields of `record`, as the create script takes them (name, value, name, value …).
pub fn record_fields(record: &Record) -> Vec<Vec<u8>> {
    let mut fields: Vec<Vec<u8>> = Vec::with_capacity(2 + 2 * record.attributes.len());
    fields.push(b"m".to_vec());
    fields.push(meta_value(record));
    for (name, attribute) in &record.attributes {
        fields.push([b"a:", name.as_bytes()].concat());
        let mut value = format!("{} ", attribute.version).into_bytes();
        value.extend_from_slice(&attribute.value);
        fields.push(value);
    }
    fields
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
pub type FieldPairs = Vec<(Vec<u8>, Vec<u8>)>;

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

/// The record in a hash's fields (as `HGETALL` returns them), in either layout; `None`
/// for an empty hash (no record). One pass; the values are moved into the record, not copied.
pub fn record_from_fields(key: SessionKey, fields: FieldPairs) -> Result<Option<Record>, String> {
    if fields.is_empty() {
        return Ok(None);
    }
    if fields.iter().any(|(name, _)| name == b"m") {
        record_from_current_fields(key, fields).map(Some)
    } else {
        record_from_first_layout(key, fields).map(Some)
    }
}

fn parse_u64(name: &str, value: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| format!("{name} is not a number"))
}

fn codec(id: u64) -> Result<Codec, String> {
    u8::try_from(id)
        .ok()
        .and_then(|id| Codec::from_id(id).ok())
        .ok_or_else(|| format!("unknown codec {id}"))
}

fn optional_millis(name: &str, value: &[u8]) -> Result<Option<Duration>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    parse_u64(name, value).map(|n| Some(Duration::from_millis(n)))
}

/// A record of the current layout (`m` and `a:<name>` fields).
fn record_from_current_fields(key: SessionKey, fields: FieldPairs) -> Result<Record, String> {
    let mut meta = None;
    let mut attributes = BTreeMap::new();
    for (mut field, mut value) in fields {
        match field.as_slice() {
            b"m" => meta = Some(value),
            [b'a', b':', ..] => {
                let name = utf8(field.split_off(2), "attribute name")?;
                let space = value
                    .iter()
                    .position(|&b| b == b' ')
                    .ok_or_else(|| format!("attribute {name:?} has no version"))?;
                let version = parse_u64(
                    &format!("the version of attribute {name:?}"),
                    &value[..space],
                )?;
                value.drain(..=space);
                attributes.insert(name, Attribute { value, version });
            }
            _ => {}
        }
    }
    let meta = meta.ok_or("field m is missing")?;
    let mut parts = meta.splitn(9, |&b| b == b' ');
    let mut next = |what: &str| {
        parts
            .next()
            .ok_or_else(|| format!("the metadata lacks the {what}"))
    };
    let version = parse_u64("the version", next("version")?)?;
    let created = parse_u64("the creation time", next("creation time")?)?;
    let last = parse_u64("the last access", next("last access")?)?;
    let idle = optional_millis("the idle timeout", next("idle timeout")?)?;
    let absolute = optional_millis("the absolute timeout", next("absolute timeout")?)?;
    let codec = codec(parse_u64("the codec", next("codec")?)?)?;
    next("size")?;
    next("count")?;
    let principal = match next("principal")? {
        [] => None,
        [b'=', principal @ ..] => Some(utf8(principal.to_vec(), "principal")?),
        _ => return Err("the metadata's principal part is not =<principal>".into()),
    };
    Ok(Record {
        key,
        codec,
        attributes: attributes.into(),
        principal,
        created_at: Timestamp::from_millis(created),
        last_access: Timestamp::from_millis(last),
        expiry: ExpiryPolicy { idle, absolute },
        version,
    })
}

/// A record of the first layout (one field per number, `v:<name>` beside `a:<name>`).
fn record_from_first_layout(key: SessionKey, fields: FieldPairs) -> Result<Record, String> {
    let (mut version, mut created, mut last, mut idle, mut absolute, mut codec_id) =
        (None, None, None, None, None, None);
    let mut principal = None;
    let mut partial: BTreeMap<String, Partial> = BTreeMap::new();
    for (mut field, value) in fields {
        match field.as_slice() {
            b"m:version" => version = Some(parse_u64("field m:version", &value)?),
            b"m:created" => created = Some(parse_u64("field m:created", &value)?),
            b"m:last" => last = Some(parse_u64("field m:last", &value)?),
            b"m:idle" => idle = Some(parse_u64("field m:idle", &value)?),
            b"m:abs" => absolute = Some(parse_u64("field m:abs", &value)?),
            b"m:codec" => codec_id = Some(parse_u64("field m:codec", &value)?),
            b"m:principal" => principal = Some(utf8(value, "principal")?),
            [b'a', b':', ..] => {
                let name = utf8(field.split_off(2), "attribute name")?;
                partial.entry(name).or_default().value = Some(value);
            }
            [b'v', b':', ..] => {
                let name = utf8(field.split_off(2), "attribute name")?;
                let number = parse_u64(&format!("the version of attribute {name:?}"), &value)?;
                partial.entry(name).or_default().version = Some(number);
            }
            _ => {}
        }
    }
    let required = |v: Option<u64>, name: &str| v.ok_or_else(|| format!("field {name} is missing"));
    let codec = codec(required(codec_id, "m:codec")?)?;
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
    Ok(Record {
        key,
        codec,
        attributes: attributes.into(),
        principal,
        created_at: Timestamp::from_millis(required(created, "m:created")?),
        last_access: Timestamp::from_millis(required(last, "m:last")?),
        expiry: ExpiryPolicy {
            idle: idle.map(Duration::from_millis),
            absolute: absolute.map(Duration::from_millis),
        },
        version: required(version, "m:version")?,
    })
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
        let meta = |m: &str| (b"m".to_vec(), m.as_bytes().to_vec());
        assert!(
            record_from_fields(key, vec![meta("1 2 3   1 0 0 ")])
                .unwrap()
                .is_some()
        );
        for damaged in [
            "1 2 3   1 0 0",
            "1 2 x   1 0 0 ",
            "1 2 3   9 0 0 ",
            "1 2 3   1 0 0 alice",
        ] {
            assert!(
                record_from_fields(key, vec![meta(damaged)]).is_err(),
                "{damaged}"
            );
        }
        let unversioned = (b"a:x".to_vec(), b"value".to_vec());
        assert!(record_from_fields(key, vec![meta("1 2 3   1 0 0 "), unversioned]).is_err());
        assert!(hash_pairs(redis::Value::Array(vec![redis::Value::Int(1)])).is_err());
        assert!(hash_pairs(redis::Value::Int(1)).is_err());
    }
}
