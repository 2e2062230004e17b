//! The rule of a change set's additions: an integer added to an attribute's stored value, as
//! one step in the store, so that concurrent increments all count.
//!
//! The value must be a JSON integer (`-?(0|[1-9][0-9]*)`, what the JSON codec writes for any
//! Rust integer) no larger in magnitude than [`MAX_SAFE_INTEGER`], 2^53 − 1 (JSON's, and
//! JavaScript's, largest integer that every reader keeps exactly, and the largest a Redis Lua
//! script computes exactly). A missing attribute counts as 0. The amount must be in the same
//! range and so must the sum; anything else refuses the change set. Every store follows this
//! one rule: those that apply change sets with [`Record::apply`](crate::Record::apply) call
//! [`add_to_json_integer`]; the Redis store's script repeats it in Lua.

/// The largest magnitude an added-to value, an amount or a sum may have: 2^53 − 1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Why an addition cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdditionError {
    /// The stored value is not a JSON integer within ±[`MAX_SAFE_INTEGER`].
    #[error("the value is not a JSON integer within ±(2^53 - 1)")]
    NotAnInteger,
    /// The amount or the sum is outside ±[`MAX_SAFE_INTEGER`].
    #[error("the amount or the sum is outside ±(2^53 - 1)")]
    OutOfRange,
}

/// The JSON integer `current` holds (`None`: absent, counted as 0) plus `amount`, encoded as
/// the JSON codec encodes an integer.
pub fn add_to_json_integer(current: Option<&[u8]>, amount: i64) -> Result<Vec<u8>, AdditionError> {
    if !safe(amount) {
        return Err(AdditionError::OutOfRange);
    }
    let base = match current {
        Some(bytes) => parse_json_integer(bytes).ok_or(AdditionError::NotAnInteger)?,
        None => 0,
    };
    // Both within 2^53, so the sum cannot overflow an i64.
    let sum = base + amount;
    if !safe(sum) {
        return Err(AdditionError::OutOfRange);
    }
    Ok(itoa::Buffer::new().format(sum).as_bytes().to_vec())
}

/// The integer `bytes` spell in JSON's integer grammar, when within ±[`MAX_SAFE_INTEGER`].
pub fn parse_json_integer(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let canonical = match digits {
        [] => false,
        [b'0'] => true,
        [first, ..] => *first != b'0' && digits.iter().all(u8::is_ascii_digit),
    };
    // 16 digits hold every safe integer; longer texts would only overflow the parse.
    if !canonical || digits.len() > 16 {
        return None;
    }
    // At most 16 digits: below 10^16, far from overflowing an i64.
    let magnitude = digits
        .iter()
        .fold(0i64, |value, digit| value * 10 + i64::from(digit - b'0'));
    let value = if digits.len() < bytes.len() {
        -magnitude
    } else {
        magnitude
    };
    safe(value).then_some(value)
}

fn safe(value: i64) -> bool {
    (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&value)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Every safe integer reads back from the text the JSON codec writes for it.
        #[test]
        fn safe_integers_read_back(value in -MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER) {
            prop_assert_eq!(parse_json_integer(value.to_string().as_bytes()), Some(value));
        }

        /// Nothing else reads as an integer: what is accepted is the canonical text of its
        /// value (or `-0`).
        #[test]
        fn only_canonical_texts_are_integers(text in "[-+0-9 .e]{0,20}") {
            if let Some(value) = parse_json_integer(text.as_bytes()) {
                prop_assert!(text == value.to_string() || (text == "-0" && value == 0), "{text}");
            }
        }
    }

    #[test]
    fn json_integers_and_what_is_not_one() {
        assert_eq!(parse_json_integer(b"0"), Some(0));
        assert_eq!(parse_json_integer(b"-0"), Some(0));
        assert_eq!(parse_json_integer(b"42"), Some(42));
        assert_eq!(parse_json_integer(b"-7"), Some(-7));
        assert_eq!(
            parse_json_integer(b"9007199254740991"),
            Some(MAX_SAFE_INTEGER)
        );
        for not_one in [
            &b""[..],
            b"-",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1.0",
            b"1e3",
            b"\"1\"",
            b"true",
            b"9007199254740992",
            b"-9007199254740992",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_json_integer(not_one), None, "{not_one:?}");
        }
    }

    #[test]
    fn sums_absent_values_and_limits() {
        assert_eq!(add_to_json_integer(None, 5), Ok(b"5".to_vec()));
        assert_eq!(add_to_json_integer(Some(b"41"), 1), Ok(b"42".to_vec()));
        assert_eq!(add_to_json_integer(Some(b"1"), -3), Ok(b"-2".to_vec()));
        assert_eq!(
            add_to_json_integer(Some(b"\"x\""), 1),
            Err(AdditionError::NotAnInteger)
        );
        assert_eq!(
            add_to_json_integer(Some(b"9007199254740991"), 1),
            Err(AdditionError::OutOfRange)
        );
        assert_eq!(
            add_to_json_integer(None, MAX_SAFE_INTEGER + 1),
            Err(AdditionError::OutOfRange)
        );
    }
}
