//! Codecs: how attribute values and whole records become bytes.
//!
//! Two codecs sit behind one small interface, [`Codec`]:
//!
//! - [`Codec::Json`]: values are JSON text and a record is one JSON document
//!   (`{"format":"session-record","v":1,…}`) that people and other languages can read.
//! - [`Codec::Bincode`]: values are bincode 2 and a record is a binary envelope
//!   (`SREC`, envelope version, codec id, bincode body). Compact and fast, but bincode is not
//!   self-describing: a value must be decoded as the type it was encoded from, so untyped values
//!   such as `serde_json::Value` cannot round-trip through it.
//!
//! Values are encoded one attribute at a time, so a store can write one changed attribute without
//! decoding the others. Both envelopes carry a version number; [`decode_record`] reads every
//! version this crate has written, which is how stored data migrates.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::clock::Timestamp;
use crate::expiry::ExpiryPolicy;
use crate::id::SessionKey;
use crate::record::Record;
use crate::record_attributes::Attribute;

/// The envelope version this crate writes.
pub const ENVELOPE_VERSION: u8 = 1;
/// First bytes of a binary record envelope.
pub const BINARY_MAGIC: &[u8; 4] = b"SREC";
/// Largest input the bincode decoder accepts, so hostile bytes cannot ask for huge allocations.
const BINCODE_LIMIT: usize = 64 * 1024 * 1024;

/// Why bytes could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A value could not be encoded.
    #[error("{codec} codec could not encode a value: {message}")]
    Encode {
        /// Which codec.
        codec: &'static str,
        /// The codec's message.
        message: String,
    },
    /// A value or a record could not be decoded.
    #[error("{codec} codec could not decode {what}: {message}")]
    Decode {
        /// Which codec.
        codec: &'static str,
        /// What was being decoded (`a value`, `a record`).
        what: &'static str,
        /// The codec's message.
        message: String,
    },
    /// The bytes are no record envelope this crate knows.
    #[error("not a session record (unknown envelope)")]
    UnknownEnvelope,
    /// The envelope is of a version this crate cannot read.
    #[error("session record envelope version {0} is not supported")]
    UnsupportedVersion(u8),
    /// The envelope names a codec this crate does not have.
    #[error("session record names unknown codec {0}")]
    UnknownCodec(u8),
    /// A store's own stored form of a record is damaged (a field missing or malformed, a
    /// record filed under another key).
    #[error("the stored form is damaged: {0}")]
    Damaged(String),
}

/// A codec for attribute values and records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// JSON: inspectable and interoperable.
    #[default]
    Json,
    /// bincode 2: compact and fast; values must be decoded as the type they were encoded from.
    Bincode,
}

impl Codec {
    /// The codec's name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Json => "json",
            Codec::Bincode => "bincode",
        }
    }

    /// The codec's id in a binary envelope.
    pub fn id(self) -> u8 {
        match self {
            Codec::Json => 1,
            Codec::Bincode => 2,
        }
    }

    /// The codec with envelope id `id`.
    pub fn from_id(id: u8) -> Result<Self, CodecError> {
        match id {
            1 => Ok(Codec::Json),
            2 => Ok(Codec::Bincode),
            other => Err(CodecError::UnknownCodec(other)),
        }
    }

    /// Encodes one value.
    pub fn encode_value<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, CodecError> {
        let result = match self {
            Codec::Json => serde_json::to_vec(value).map_err(|e| e.to_string()),
            Codec::Bincode => {
                bincode::serde::encode_to_vec(value, bincode_config()).map_err(|e| e.to_string())
            }
        };
        result.map_err(|message| CodecError::Encode {
            codec: self.name(),
            message,
        })
    }

    /// Decodes one value; trailing bytes are an error.
    pub fn decode_value<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, CodecError> {
        let result = match self {
            Codec::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
            Codec::Bincode => decode_bincode_exact(bytes),
        };
        result.map_err(|message| CodecError::Decode {
            codec: self.name(),
            what: "a value",
            message,
        })
    }

    /// Encodes a record in this codec's envelope (the record's attribute values must be in
    /// this codec already; [`Record::codec`] says which they are in).
    pub fn encode_record(self, record: &Record) -> Result<Vec<u8>, CodecError> {
        match self {
            Codec::Json => encode_json_record(record),
            Codec::Bincode => {
                let mut out = Vec::with_capacity(64 + record.data_size());
                out.extend_from_slice(BINARY_MAGIC);
                out.push(ENVELOPE_VERSION);
                out.push(self.id());
                let body =
                    bincode::serde::encode_to_vec(BinaryRecord::from(record), bincode_config())
                        .map_err(|e| CodecError::Encode {
                            codec: self.name(),
                            message: e.to_string(),
                        })?;
                out.extend_from_slice(&body);
                Ok(out)
            }
        }
    }
}

/// Encodes a record in the envelope of its own codec.
pub fn encode_record(record: &Record) -> Result<Vec<u8>, CodecError> {
    record.codec.encode_record(record)
}

/// Decodes a record from either envelope, whichever codec wrote it. Never panics on any input.
pub fn decode_record(bytes: &[u8]) -> Result<Record, CodecError> {
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first == Some(b'{') {
        return decode_json_record(bytes);
    }
    let Some(rest) = bytes.strip_prefix(BINARY_MAGIC.as_slice()) else {
        return Err(CodecError::UnknownEnvelope);
    };
    let [version, codec, body @ ..] = rest else {
        return Err(CodecError::Decode {
            codec: "bincode",
            what: "a record",
            message: "truncated envelope header".into(),
        });
    };
    if *version != ENVELOPE_VERSION {
        return Err(CodecError::UnsupportedVersion(*version));
    }
    let codec = Codec::from_id(*codec)?;
    if codec != Codec::Bincode {
        return Err(CodecError::Decode {
            codec: codec.name(),
            what: "a record",
            message: "binary envelope holds a non-binary codec".into(),
        });
    }
    let wire: BinaryRecord = decode_bincode_exact(body).map_err(|message| CodecError::Decode {
        codec: "bincode",
        what: "a record",
        message,
    })?;
    Ok(wire.into_record())
}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<BINCODE_LIMIT>()
}

fn decode_bincode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, used) = bincode::serde::decode_from_slice::<T, _>(bytes, bincode_config())
        .map_err(|e| e.to_string())?;
    if used != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - used));
    }
    Ok(value)
}

/// The body of a binary envelope.
#[derive(Serialize, Deserialize)]
struct BinaryRecord {
    key: [u8; 32],
    principal: Option<String>,
    created_at: u64,
    last_access: u64,
    expiry: ExpiryPolicy,
    version: u64,
    attributes: Vec<(String, Vec<u8>, u64)>,
}

impl From<&Record> for BinaryRecord {
    fn from(record: &Record) -> Self {
        BinaryRecord {
            key: *record.key.as_bytes(),
            principal: record.principal.clone(),
            created_at: record.created_at.as_millis(),
            last_access: record.last_access.as_millis(),
            expiry: record.expiry,
            version: record.version,
            attributes: record
                .attributes
                .iter()
                .map(|(k, a)| (k.clone(), a.value.clone(), a.version))
                .collect(),
        }
    }
}

impl BinaryRecord {
    fn into_record(self) -> Record {
        Record {
            key: SessionKey::from_bytes(self.key),
            codec: Codec::Bincode,
            attributes: self
                .attributes
                .into_iter()
                .map(|(k, value, version)| (k, Attribute { value, version }))
                .collect(),
            principal: self.principal,
            created_at: Timestamp::from_millis(self.created_at),
            last_access: Timestamp::from_millis(self.last_access),
            expiry: self.expiry,
            version: self.version,
        }
    }
}

/// The JSON envelope: one readable document.
#[derive(Serialize, Deserialize)]
struct JsonRecord<'a> {
    format: String,
    v: u8,
    key: SessionKey,
    principal: Option<String>,
    created_at: u64,
    last_access: u64,
    expiry: ExpiryPolicy,
    version: u64,
    #[serde(borrow)]
    attributes: BTreeMap<String, JsonAttribute<'a>>,
}

#[derive(Serialize, Deserialize)]
struct JsonAttribute<'a> {
    #[serde(borrow)]
    value: &'a RawValue,
    version: u64,
}

const JSON_FORMAT: &str = "session-record";

fn json_error(what: &'static str, message: impl ToString) -> CodecError {
    CodecError::Decode {
        codec: "json",
        what,
        message: message.to_string(),
    }
}

fn encode_json_record(record: &Record) -> Result<Vec<u8>, CodecError> {
    let mut attributes = BTreeMap::new();
    for (name, attribute) in &record.attributes {
        let text = std::str::from_utf8(&attribute.value).map_err(|e| CodecError::Encode {
            codec: "json",
            message: format!("attribute {name:?} is not JSON text: {e}"),
        })?;
        let value: &RawValue = serde_json::from_str(text).map_err(|e| CodecError::Encode {
            codec: "json",
            message: format!("attribute {name:?} is not JSON: {e}"),
        })?;
        attributes.insert(
            name.clone(),
            JsonAttribute {
                value,
                version: attribute.version,
            },
        );
    }
    let document = JsonRecord {
        format: JSON_FORMAT.into(),
        v: ENVELOPE_VERSION,
        key: record.key,
        principal: record.principal.clone(),
        created_at: record.created_at.as_millis(),
        last_access: record.last_access.as_millis(),
        expiry: record.expiry,
        version: record.version,
        attributes,
    };
    serde_json::to_vec(&document).map_err(|e| CodecError::Encode {
        codec: "json",
        message: e.to_string(),
    })
}

fn decode_json_record(bytes: &[u8]) -> Result<Record, CodecError> {
    #[derive(Deserialize)]
    struct Header {
        format: String,
        v: u8,
    }
    let header: Header = serde_json::from_slice(bytes).map_err(|e| json_error("a record", e))?;
    if header.format != JSON_FORMAT {
        return Err(CodecError::UnknownEnvelope);
    }
    if header.v != ENVELOPE_VERSION {
        return Err(CodecError::UnsupportedVersion(header.v));
    }
    let document: JsonRecord<'_> =
        serde_json::from_slice(bytes).map_err(|e| json_error("a record", e))?;
    Ok(Record {
        key: document.key,
        codec: Codec::Json,
        attributes: document
            .attributes
            .into_iter()
            .map(|(name, a)| {
                let attribute = Attribute {
                    value: a.value.get().as_bytes().to_vec(),
                    version: a.version,
                };
                (name, attribute)
            })
            .collect(),
        principal: document.principal,
        created_at: Timestamp::from_millis(document.created_at),
        last_access: Timestamp::from_millis(document.last_access),
        expiry: document.expiry,
        version: document.version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_clear_error() {
        assert_eq!(decode_record(b""), Err(CodecError::UnknownEnvelope));
        assert_eq!(decode_record(b"hello"), Err(CodecError::UnknownEnvelope));
        assert_eq!(
            decode_record(b"SREC\x09\x02"),
            Err(CodecError::UnsupportedVersion(9))
        );
        assert_eq!(
            decode_record(b"SREC\x01\x07"),
            Err(CodecError::UnknownCodec(7))
        );
        assert!(matches!(
            decode_record(b"SREC\x01\x02\xff\xff"),
            Err(CodecError::Decode { .. })
        ));
        assert!(matches!(
            decode_record(br#"{"format":"session-record","v":1}"#),
            Err(CodecError::Decode { .. })
        ));
        assert_eq!(
            decode_record(br#"{"format":"other","v":1}"#),
            Err(CodecError::UnknownEnvelope)
        );
    }

    #[test]
    fn bincode_values_refuse_trailing_bytes() {
        let mut bytes = Codec::Bincode.encode_value(&7u32).unwrap();
        bytes.push(0);
        assert!(Codec::Bincode.decode_value::<u32>(&bytes).is_err());
    }
}
