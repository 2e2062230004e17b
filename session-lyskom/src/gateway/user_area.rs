//! The user area (a person's settings text, content type `x-kom/user-area`): a pure decoder
//! and the `GET /persons/<p>/user-area/<block>` resource.
//!
//! A user area is one hollerith string holding the block names (each a hollerith string,
//! separated by blanks), followed by one hollerith string per name with that block's
//! contents, in the same order:
//!
//! ```text
//! 17H 6Hcommon 5Helisp 14H{"a":1,"b":[]} 3Hnil
//! ```
//!
//! The decoder reads what pylyskom's `decode_user_area` reads: blanks (space, tab, CR, LF)
//! may precede every hollerith string, the name list ends at its end or at the first empty
//! name, a name whose block is missing (the area ends early) has no block, and a later block
//! with the same name replaces an earlier one. Unlike pylyskom it never loops forever on
//! trailing blanks and rejects a hollerith string longer than the bytes that remain, with an
//! error that says where.

use http::StatusCode;
use serde_json::Value;

use super::Ctx;
use super::json::{self as j, parse_content_type};
use super::response::{Fail, Outcome, empty, fail, json};
use crate::protocol::numbers::PersNo;

/// Why bytes are not a user area.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserAreaError {
    /// A hollerith string was expected at byte `at` but something else is there.
    #[error("not a hollerith string at byte {at} of the user area")]
    NotHollerith {
        /// The offset, from the start of the part being read.
        at: usize,
    },
    /// A hollerith string at byte `at` claims more bytes than remain.
    #[error(
        "the hollerith string at byte {at} of the user area claims {length} bytes, but only {available} remain"
    )]
    Truncated {
        /// The offset, from the start of the part being read.
        at: usize,
        /// The length the string claims.
        length: usize,
        /// The bytes left after its `H`.
        available: usize,
    },
}

/// A decoded user area: `(name, contents)` pairs in the order they are stored.
pub type UserAreaBlocks = Vec<(Vec<u8>, Vec<u8>)>;

/// A hollerith string's contents and the bytes after it.
type Split<'a> = (&'a [u8], &'a [u8]);

/// Reads one hollerith string from `input` after optional blanks: `Ok(None)` at the end of
/// the input, else the string and the rest.
fn hollerith(input: &[u8]) -> Result<Option<Split<'_>>, UserAreaError> {
    let start = input
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(input.len());
    if start == input.len() {
        return Ok(None);
    }
    let digits = input[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let h = start + digits;
    if input.get(h) != Some(&b'H') {
        return Err(UserAreaError::NotHollerith { at: start });
    }
    let mut length = 0usize;
    for &d in &input[start..h] {
        length = length
            .checked_mul(10)
            .and_then(|l| l.checked_add(usize::from(d - b'0')))
            .ok_or(UserAreaError::NotHollerith { at: start })?;
    }
    let rest = &input[h + 1..];
    if length > rest.len() {
        return Err(UserAreaError::Truncated {
            at: start,
            length,
            available: rest.len(),
        });
    }
    Ok(Some(rest.split_at(length)))
}

/// Decodes a user area into its blocks. Never panics, whatever the bytes.
pub fn decode_user_area(area: &[u8]) -> Result<UserAreaBlocks, UserAreaError> {
    let Some((mut names, mut blocks)) = hollerith(area)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    while let Some((name, rest)) = hollerith(names)? {
        if name.is_empty() {
            break;
        }
        names = rest;
        let Some((block, rest)) = hollerith(blocks)? else {
            break;
        };
        blocks = rest;
        out.push((name.to_vec(), block.to_vec()));
    }
    Ok(out)
}

/// Encodes blocks as a user area (the inverse of [`decode_user_area`] for non-empty names).
pub fn encode_user_area(blocks: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let holl = |out: &mut Vec<u8>, s: &[u8]| {
        out.extend_from_slice(s.len().to_string().as_bytes());
        out.push(b'H');
        out.extend_from_slice(s);
    };
    let mut names = Vec::new();
    let mut contents = Vec::new();
    for (name, block) in blocks {
        names.push(b' ');
        holl(&mut names, name);
        contents.push(b' ');
        holl(&mut contents, block);
    }
    let mut out = Vec::new();
    holl(&mut out, &names);
    out.extend_from_slice(&contents);
    out
}

/// The block called `name`, if present (the last one when a name repeats).
pub fn find_block<'a>(blocks: &'a UserAreaBlocks, name: &[u8]) -> Option<&'a [u8]> {
    blocks
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, b)| b.as_slice())
}

/// GET /persons/<p>/user-area/<block>: the block, JSON-decoded (its bytes read as ISO 8859-1,
/// as pylyskom does), or 404 when the person has no user area or no such block.
pub(super) async fn get_block(ctx: &Ctx<'_>, pers_no: PersNo, block_name: &str) -> Outcome {
    let c = ctx.login()?;
    let person = c.client.get_person_stat(pers_no).await?;
    if person.user_area.is_zero() {
        return Ok(empty(StatusCode::NOT_FOUND));
    }
    let stat = c.client.get_text_stat(person.user_area).await?;
    let content_type = j::stored_content_type(&stat);
    let (major, minor, _, _) = parse_content_type(&content_type);
    if major != "x-kom" || minor != "user-area" {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            &format!("Unknown content type for user area text: {major}/{minor}"),
        ));
    }
    let text = c.client.get_text(person.user_area).await?;
    let blocks = decode_user_area(&text).map_err(|e| {
        tracing::warn!("person {pers_no}'s user area cannot be read: {e}");
        unknown_error()
    })?;
    let Some(name) = latin1(block_name) else {
        return Ok(empty(StatusCode::NOT_FOUND));
    };
    let Some(block) = find_block(&blocks, &name) else {
        return Ok(empty(StatusCode::NOT_FOUND));
    };
    let block_text: String = block.iter().map(|&b| char::from(b)).collect();
    let value: Value = serde_json::from_str(&block_text).map_err(|e| {
        tracing::warn!("block {block_name:?} of person {pers_no}'s user area is not JSON: {e}");
        unknown_error()
    })?;
    Ok(json(StatusCode::OK, &value))
}

/// httpkom's answer to an exception it did not expect.
fn unknown_error() -> Fail {
    fail(StatusCode::INTERNAL_SERVER_ERROR, "Unknown error")
}

/// `s` in ISO 8859-1 (block names are compared as pylyskom's bytes), `None` if it cannot be.
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_what_lyskom_clients_write() {
        let area = b"17H 6Hcommon 5Helisp 14H{\"a\":1,\"b\":[]} 3Hnil";
        let blocks = decode_user_area(area).unwrap();
        assert_eq!(
            find_block(&blocks, b"common"),
            Some(&b"{\"a\":1,\"b\":[]}"[..])
        );
        assert_eq!(find_block(&blocks, b"elisp"), Some(&b"nil"[..]));
        assert_eq!(find_block(&blocks, b"jskom"), None);
        assert_eq!(decode_user_area(b"").unwrap(), vec![]);
        assert_eq!(decode_user_area(b"0H").unwrap(), vec![]);
        assert_eq!(decode_user_area(b"  \n ").unwrap(), vec![]);
    }

    #[test]
    fn bad_bytes_are_errors_that_say_where() {
        assert_eq!(
            decode_user_area(b"x"),
            Err(UserAreaError::NotHollerith { at: 0 })
        );
        assert_eq!(
            decode_user_area(b"9H 1Ha"),
            Err(UserAreaError::Truncated {
                at: 0,
                length: 9,
                available: 4
            })
        );
        assert!(decode_user_area(b"99999999999999999999999H").is_err());
        assert!(decode_user_area(b"4H 1Ha 5Hbb").is_err());
    }

    #[test]
    fn a_missing_block_or_an_empty_name_ends_the_list() {
        let blocks = decode_user_area(b"11H 1Ha 1Hb 0H 1Hx").unwrap();
        assert_eq!(blocks, vec![(b"a".to_vec(), b"x".to_vec())]);
        let blocks = decode_user_area(b"11H 1Ha 0H 1Hb 1Hx").unwrap();
        assert_eq!(blocks, vec![(b"a".to_vec(), b"x".to_vec())]);
    }

    proptest! {
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_user_area(&bytes);
        }

        #[test]
        fn encoded_blocks_decode_back(
            blocks in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 1..20),
                 proptest::collection::vec(any::<u8>(), 0..60)),
                0..8,
            )
        ) {
            let area = encode_user_area(&blocks);
            prop_assert_eq!(decode_user_area(&area).unwrap(), blocks);
        }

        #[test]
        fn a_cut_user_area_decodes_or_fails_cleanly(
            blocks in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 1..10),
                 proptest::collection::vec(any::<u8>(), 0..30)),
                1..5,
            ),
            cut in any::<prop::sample::Index>(),
        ) {
            let area = encode_user_area(&blocks);
            let cut = cut.index(area.len());
            if let Ok(decoded) = decode_user_area(&area[..cut]) {
                prop_assert!(decoded.len() <= blocks.len());
                for (got, want) in decoded.iter().zip(&blocks) {
                    prop_assert_eq!(&got.0, &want.0);
                }
            }
        }
    }
}
