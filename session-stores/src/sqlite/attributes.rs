//! How a record's attributes lie in the `attributes` column, as pure functions over bytes.
//!
//! Everything else of a record (principal, times, policy, version, codec) has its own column,
//! so the blob holds only the attributes, each as its name, the version that wrote it and its
//! value (already encoded by the record's codec), length-prefixed:
//!
//! ```text
//! format (1 byte, = 1)
//! per attribute, in name order:
//!   name length (u32 LE) | name (UTF-8) | version (u64 LE) | value length (u32 LE) | value
//! ```
//!
//! Reading it copies bytes; nothing is parsed as JSON or bincode, whatever the record's codec.

use session_core::{Attribute, AttributeMap};

/// The first byte of every blob this module writes.
const FORMAT: u8 = 1;

/// The blob for `attributes`.
pub fn encode(attributes: &AttributeMap) -> Vec<u8> {
    let size: usize = attributes
        .iter()
        .map(|(name, a)| 16 + name.len() + a.value.len())
        .sum();
    let mut out = Vec::with_capacity(1 + size);
    out.push(FORMAT);
    for (name, attribute) in attributes.iter() {
        put_bytes(&mut out, name.as_bytes());
        out.extend_from_slice(&attribute.version.to_le_bytes());
        put_bytes(&mut out, &attribute.value);
    }
    out
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Records are far below 4 GiB (the store's limits refuse larger ones before a write).
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The attributes in `blob`; an error (never a panic) for anything [`encode`] did not write.
pub fn decode(blob: &[u8]) -> Result<AttributeMap, String> {
    let Some((&format, mut rest)) = blob.split_first() else {
        return Err("empty attributes blob".into());
    };
    if format != FORMAT {
        return Err(format!("unknown attributes format {format}"));
    }
    let mut attributes = AttributeMap::new();
    while !rest.is_empty() {
        let name = take_bytes(&mut rest, "an attribute name")?;
        let name =
            std::str::from_utf8(name).map_err(|_| "an attribute name is not UTF-8".to_string())?;
        let version = u64::from_le_bytes(take_array(&mut rest, "a version")?);
        let value = take_bytes(&mut rest, "a value")?.to_vec();
        if attributes
            .try_insert(name.to_owned(), Attribute { value, version })
            .is_some()
        {
            return Err(format!("attribute {name:?} appears twice"));
        }
    }
    Ok(attributes)
}

fn take_array<const N: usize>(rest: &mut &[u8], what: &str) -> Result<[u8; N], String> {
    let Some((head, tail)) = rest.split_first_chunk::<N>() else {
        return Err(format!("attributes blob cut short in {what}"));
    };
    *rest = tail;
    Ok(*head)
}

fn take_bytes<'a>(rest: &mut &'a [u8], what: &str) -> Result<&'a [u8], String> {
    let len = u32::from_le_bytes(take_array(rest, what)?) as usize;
    if rest.len() < len {
        return Err(format!("attributes blob cut short in {what}"));
    }
    let (head, tail) = rest.split_at(len);
    *rest = tail;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn attributes_round_trip(
            attributes in proptest::collection::btree_map(
                "\\PC{0,12}",
                (proptest::collection::vec(any::<u8>(), 0..40), any::<u64>()),
                0..8,
            ),
        ) {
            let attributes: AttributeMap = attributes
                .into_iter()
                .map(|(name, (value, version))| (name, Attribute { value, version }))
                .collect();
            prop_assert_eq!(decode(&encode(&attributes)), Ok(attributes));
        }

        #[test]
        fn any_bytes_decode_to_a_result_never_a_panic(blob in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&blob);
        }

        #[test]
        fn a_cut_blob_is_an_error(
            value in proptest::collection::vec(any::<u8>(), 1..40),
            cut in 1usize..40,
        ) {
            let mut attributes = AttributeMap::new();
            attributes.insert("name".to_string(), Attribute { value, version: 3 });
            let blob = encode(&attributes);
            // Keep more than the format byte (which alone is a valid empty blob).
            let cut = cut.min(blob.len() - 2);
            prop_assert!(decode(&blob[..blob.len() - cut]).is_err());
        }
    }

    #[test]
    fn an_empty_record_and_foreign_bytes() {
        assert_eq!(
            decode(&encode(&AttributeMap::new())),
            Ok(AttributeMap::new())
        );
        assert!(decode(b"").is_err());
        assert!(decode(br#"{"format":"session-record"}"#).is_err());
    }
}
