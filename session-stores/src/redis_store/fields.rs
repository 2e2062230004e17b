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

use std::collections::{BTreeMap, HashMap};
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

fn parse_number(fields: &HashMap<Vec<u8>, Vec<u8>>, name: &str) -> Result<Option<u64>, String> {
    fields
        .get(name.as_bytes())
        .map(|v| {
            std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| format!("field {name} is not a number"))
        })
        .transpose()
}

fn required(fields: &HashMap<Vec<u8>, Vec<u8>>, name: &str) -> Result<u64, String> {
    parse_number(fields, name)?.ok_or_else(|| format!("field {name} is missing"))
}

/// The record in a hash's fields (`HGETALL`); `None` for an empty hash (no record).
pub(crate) fn record_from_fields(
    key: SessionKey,
    fields: &HashMap<Vec<u8>, Vec<u8>>,
) -> Result<Option<Record>, String> {
    if fields.is_empty() {
        return Ok(None);
    }
    let codec_id = required(fields, "m:codec")?;
    let codec = u8::try_from(codec_id)
        .ok()
        .and_then(|id| Codec::from_id(id).ok())
        .ok_or_else(|| format!("unknown codec {codec_id}"))?;
    let principal = fields
        .get(b"m:principal".as_slice())
        .map(|p| String::from_utf8(p.clone()).map_err(|_| "principal is not UTF-8".to_string()))
        .transpose()?;
    let mut values: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for (field, value) in fields {
        if let Some(name) = field.strip_prefix(b"a:") {
            let name = String::from_utf8(name.to_vec())
                .map_err(|_| "attribute name is not UTF-8".to_string())?;
            values.insert(name, value.clone());
        } else if let Some(name) = field.strip_prefix(b"v:") {
            let name = String::from_utf8(name.to_vec())
                .map_err(|_| "attribute name is not UTF-8".to_string())?;
            let version = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("version of attribute {name:?} is not a number"))?;
            versions.insert(name, version);
        }
    }
    let mut attributes = BTreeMap::new();
    for (name, value) in values {
        let version = versions
            .get(&name)
            .copied()
            .ok_or_else(|| format!("attribute {name:?} has no version"))?;
        attributes.insert(name, Attribute { value, version });
    }
    Ok(Some(Record {
        key,
        codec,
        attributes,
        principal,
        created_at: Timestamp::from_millis(required(fields, "m:created")?),
        last_access: Timestamp::from_millis(required(fields, "m:last")?),
        expiry: ExpiryPolicy {
            idle: parse_number(fields, "m:idle")?.map(Duration::from_millis),
            absolute: parse_number(fields, "m:abs")?.map(Duration::from_millis),
        },
        version: required(fields, "m:version")?,
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
            let map: HashMap<Vec<u8>, Vec<u8>> = flat.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
            prop_assert_eq!(record_from_fields(record.key, &map).unwrap(), Some(record));
        }
    }

    #[test]
    fn an_empty_hash_is_no_record_and_a_damaged_one_an_error() {
        let key = SessionKey::from_bytes([1; 32]);
        assert_eq!(record_from_fields(key, &HashMap::new()), Ok(None));
        let mut damaged = HashMap::new();
        damaged.insert(b"a:x".to_vec(), b"1".to_vec());
        assert!(record_from_fields(key, &damaged).is_err());
    }
}
