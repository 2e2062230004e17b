//! The text form of a session id: its 32 bytes as 43 characters of unpadded URL-safe base64
//! (RFC 4648 §5), canonical form only.
//!
//! Every request that presents an id decodes one and every response that announces one
//! encodes one, so this is on the hot path of the session layer. A general-purpose base64
//! engine spends more on length, padding and chunking bookkeeping than on the conversion of
//! 43 characters (about 750 instructions a decode, counted under valgrind); this one is
//! written for the single length there is: a table lookup per character, no branch per
//! character, no allocation. The tests hold it to the `base64` crate on every input.

use crate::id::{ID_BYTES, ID_TEXT_LEN, IdError};

/// The URL-safe alphabet, in value order.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Marks a byte outside the alphabet in [`VALUES`]; any value with one of the top two bits
/// set is not a digit, so one OR over a group finds a bad character anywhere in it.
const NOT_A_DIGIT: u8 = 0xff;

/// The value of each byte as a digit, [`NOT_A_DIGIT`] for bytes outside the alphabet.
const VALUES: [u8; 256] = {
    let mut values = [NOT_A_DIGIT; 256];
    let mut digit = 0;
    while digit < ALPHABET.len() {
        values[ALPHABET[digit] as usize] = digit as u8;
        digit += 1;
    }
    values
};

/// Groups of four characters (three bytes) before the final three characters (two bytes).
const FULL_GROUPS: usize = ID_BYTES / 3;

/// The 43-character text of `bytes`.
pub(crate) fn encode(bytes: &[u8; ID_BYTES]) -> [u8; ID_TEXT_LEN] {
    let digit = |bits: u32| ALPHABET[(bits & 0x3f) as usize];
    let mut text = [0u8; ID_TEXT_LEN];
    for (chunk, out) in bytes
        .chunks_exact(3)
        .zip(text.chunks_exact_mut(4))
        .take(FULL_GROUPS)
    {
        let group = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        out[0] = digit(group >> 18);
        out[1] = digit(group >> 12);
        out[2] = digit(group >> 6);
        out[3] = digit(group);
    }
    let tail = u32::from(bytes[ID_BYTES - 2]) << 8 | u32::from(bytes[ID_BYTES - 1]);
    text[ID_TEXT_LEN - 3] = digit(tail >> 10);
    text[ID_TEXT_LEN - 2] = digit(tail >> 4);
    text[ID_TEXT_LEN - 1] = digit(tail << 2);
    text
}

/// The 32 bytes `text` encodes, when it is 43 characters of the alphabet in canonical form
/// (the last character carries no bits beyond the 256, so no two texts name the same id).
pub(crate) fn decode(text: &[u8]) -> Result<[u8; ID_BYTES], IdError> {
    let text: &[u8; ID_TEXT_LEN] = text.try_into().map_err(|_| IdError::Length {
        expected: ID_TEXT_LEN,
        actual: text.len(),
    })?;
    let value = |byte: u8| VALUES[usize::from(byte)];
    let mut bytes = [0u8; ID_BYTES];
    let mut seen = 0u8;
    for (chunk, out) in text
        .chunks_exact(4)
        .zip(bytes.chunks_exact_mut(3))
        .take(FULL_GROUPS)
    {
        let (a, b, c, d) = (
            value(chunk[0]),
            value(chunk[1]),
            value(chunk[2]),
            value(chunk[3]),
        );
        seen |= a | b | c | d;
        let group = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
        out[0] = (group >> 16) as u8;
        out[1] = (group >> 8) as u8;
        out[2] = group as u8;
    }
    let (a, b, c) = (
        value(text[ID_TEXT_LEN - 3]),
        value(text[ID_TEXT_LEN - 2]),
        value(text[ID_TEXT_LEN - 1]),
    );
    seen |= a | b | c;
    if seen & 0xc0 != 0 {
        let position = text.iter().position(|&byte| value(byte) == NOT_A_DIGIT);
        return Err(IdError::Alphabet {
            position: position.unwrap_or_default(),
        });
    }
    if c & 0x03 != 0 {
        return Err(IdError::NotCanonical);
    }
    let tail = u32::from(a) << 10 | u32::from(b) << 4 | u32::from(c) >> 2;
    bytes[ID_BYTES - 2] = (tail >> 8) as u8;
    bytes[ID_BYTES - 1] = tail as u8;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_table_inverts_the_alphabet() {
        for (digit, &byte) in ALPHABET.iter().enumerate() {
            assert_eq!(usize::from(VALUES[usize::from(byte)]), digit);
        }
        assert_eq!(VALUES.iter().filter(|&&v| v != NOT_A_DIGIT).count(), 64);
    }

    #[test]
    fn other_lengths_are_not_decoded() {
        for length in [0, 1, 42, 44, 64] {
            assert_eq!(
                decode(&vec![b'A'; length]),
                Err(IdError::Length {
                    expected: ID_TEXT_LEN,
                    actual: length
                })
            );
        }
    }

    #[test]
    fn the_first_bad_character_is_named() {
        let mut text = encode(&[7u8; ID_BYTES]);
        text[42] = b'.';
        assert_eq!(decode(&text), Err(IdError::Alphabet { position: 42 }));
        text[40] = b'=';
        text[41] = b'+';
        assert_eq!(decode(&text), Err(IdError::Alphabet { position: 40 }));
        text[3] = 0xc3;
        assert_eq!(decode(&text), Err(IdError::Alphabet { position: 3 }));
    }

    proptest! {
        #[test]
        fn encodes_as_the_base64_crate_does(bytes in any::<[u8; ID_BYTES]>()) {
            let text = encode(&bytes);
            let reference = URL_SAFE_NO_PAD.encode(bytes);
            prop_assert_eq!(&text[..], reference.as_bytes());
            prop_assert_eq!(decode(&text), Ok(bytes));
        }

        /// Any 43 bytes (mostly alphabet, some not): accepted exactly when the crate's strict
        /// decoder accepts them, with the same bytes.
        #[test]
        fn decodes_exactly_what_the_base64_crate_accepts(
            text in proptest::collection::vec(
                prop_oneof![
                    9 => proptest::sample::select(ALPHABET.to_vec()),
                    1 => any::<u8>(),
                ],
                ID_TEXT_LEN,
            )
        ) {
            let mut reference = [0u8; ID_BYTES];
            let expected = match URL_SAFE_NO_PAD.decode_slice(&text, &mut reference) {
                Ok(ID_BYTES) => Ok(reference),
                _ => Err(()),
            };
            prop_assert_eq!(decode(&text).map_err(|_| ()), expected);
        }
    }
}
