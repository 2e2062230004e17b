//! The numbers Protocol A names things by: conferences, persons, texts and sessions.
//!
//! All four are 32-bit numbers on the wire and easy to swap in code, so each has a type of its
//! own. They decode from and encode to the plain number Protocol A sends, print and parse as
//! the decimal number (parsing accepts ASCII digits only: no sign, no spaces), and serialize as
//! the bare number (`#[serde(transparent)]`), so JSON written with them is the JSON written
//! with the numbers themselves.
//!
//! In Protocol A a person is also a conference (its letterbox has the person's number), so a
//! [`PersNo`] turns into a [`ConfNo`] with `From`. The other way is not automatic:
//! [`ConfNo::to_pers_no`] says in the code that the conference is known to be a person.
//!
//! ```
//! use session_lyskom::protocol::numbers::{ConfNo, PersNo};
//!
//! let admin: PersNo = "5".parse()?;
//! assert_eq!(ConfNo::from(admin), ConfNo(5));
//! assert_eq!(admin.to_string(), "5");
//! assert!("+5".parse::<PersNo>().is_err());
//! # Ok::<(), session_lyskom::protocol::numbers::ParseNumberError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use super::encode::Arg;
use super::reader::{Decode, TokenReader};
use crate::error::Error;

/// Why a string is not a LysKOM number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseNumberError {
    /// The string is empty.
    #[error("a number was expected, found nothing")]
    Empty,
    /// The string has something other than ASCII digits.
    #[error("only the digits 0-9 may make up a number")]
    NotDigits,
    /// The number does not fit in 32 bits.
    #[error("the number is larger than 4294967295")]
    TooLarge,
}

/// Parses a decimal number made of ASCII digits only (leading zeros allowed).
fn parse_digits(s: &str) -> Result<u32, ParseNumberError> {
    if s.is_empty() {
        return Err(ParseNumberError::Empty);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseNumberError::NotDigits);
    }
    s.parse().map_err(|_| ParseNumberError::TooLarge)
}

macro_rules! lyskom_number {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(
            feature = "serde",
            derive(serde::Serialize, serde::Deserialize),
            serde(transparent)
        )]
        pub struct $name(pub u32);

        impl $name {
            /// The number itself.
            pub const fn get(self) -> u32 {
                self.0
            }

            /// Whether this is number 0, which Protocol A uses for "none".
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = ParseNumberError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_digits(s).map($name)
            }
        }

        impl Decode for $name {
            fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
                r.int().map($name)
            }
        }

        impl From<$name> for Arg {
            fn from(n: $name) -> Arg {
                Arg::Int(n.0)
            }
        }
    };
}

lyskom_number! {
    /// A conference number (`Conf-No`). Persons are conferences too: their letterboxes.
    ConfNo
}

lyskom_number! {
    /// A person number (`Pers-No`).
    PersNo
}

lyskom_number! {
    /// A global text number (`Text-No`); not a conference's local number.
    TextNo
}

lyskom_number! {
    /// A session number (`Session-No`): one connection to the server, as who-am-i tells it.
    SessionNo
}

impl From<PersNo> for ConfNo {
    /// A person's letterbox: the conference with the person's number.
    fn from(p: PersNo) -> ConfNo {
        ConfNo(p.0)
    }
}

impl ConfNo {
    /// The person whose letterbox this conference is. Only meaningful where the conference is
    /// known to be a person (a name lookup for persons only, a letterbox flag).
    pub const fn to_pers_no(self) -> PersNo {
        PersNo(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parsing_takes_digits_only() {
        assert_eq!("0".parse::<TextNo>(), Ok(TextNo(0)));
        assert_eq!("007".parse::<ConfNo>(), Ok(ConfNo(7)));
        assert_eq!("4294967295".parse::<SessionNo>(), Ok(SessionNo(u32::MAX)));
        assert_eq!("".parse::<PersNo>(), Err(ParseNumberError::Empty));
        for bad in ["+5", "-5", " 5", "5 ", "5a", "٣", "0x5"] {
            assert_eq!(
                bad.parse::<PersNo>(),
                Err(ParseNumberError::NotDigits),
                "{bad:?}"
            );
        }
        assert_eq!(
            "4294967296".parse::<PersNo>(),
            Err(ParseNumberError::TooLarge)
        );
    }

    #[test]
    fn a_person_is_a_conference() {
        assert_eq!(ConfNo::from(PersNo(6)), ConfNo(6));
        assert_eq!(ConfNo(6).to_pers_no(), PersNo(6));
        assert!(TextNo(0).is_zero() && !TextNo(1).is_zero());
    }

    #[test]
    fn numbers_encode_and_decode_as_plain_numbers() {
        use crate::protocol::encode::encode_request;
        use crate::protocol::reader::decode_all;
        use crate::protocol::token::Token;
        assert_eq!(
            encode_request(1, 91, &[ConfNo(12).into(), TextNo(3).into()]),
            b"1 91 12 3\n"
        );
        let tokens = [Token::Atom(b"42".to_vec())];
        assert_eq!(decode_all::<SessionNo>(&tokens).ok(), Some(SessionNo(42)));
    }

    proptest! {
        #[test]
        fn display_and_from_str_round_trip(n in any::<u32>()) {
            let text = ConfNo(n).to_string();
            prop_assert_eq!(&text, &n.to_string());
            prop_assert_eq!(text.parse::<ConfNo>(), Ok(ConfNo(n)));
            prop_assert_eq!(PersNo(n).to_string().parse::<PersNo>(), Ok(PersNo(n)));
            prop_assert_eq!(TextNo(n).to_string().parse::<TextNo>(), Ok(TextNo(n)));
            prop_assert_eq!(SessionNo(n).to_string().parse::<SessionNo>(), Ok(SessionNo(n)));
        }

        #[test]
        fn only_strings_of_digits_parse(s in "\\PC*") {
            let digits_only = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            prop_assert_eq!(s.parse::<TextNo>().is_ok(), digits_only && s.parse::<u32>().is_ok());
        }
    }

    #[cfg(feature = "serde")]
    proptest! {
        #[test]
        fn json_is_the_bare_number(n in any::<u32>()) {
            let plain = serde_json::to_string(&n).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for written in [
                serde_json::to_string(&ConfNo(n)),
                serde_json::to_string(&PersNo(n)),
                serde_json::to_string(&TextNo(n)),
                serde_json::to_string(&SessionNo(n)),
            ] {
                prop_assert_eq!(written.ok(), Some(plain.clone()));
            }
            prop_assert_eq!(serde_json::from_str::<PersNo>(&plain).ok(), Some(PersNo(n)));
            prop_assert_eq!(serde_json::from_str::<TextNo>(&plain).ok(), Some(TextNo(n)));
            let in_object = serde_json::json!({"conf_no": ConfNo(n), "pers_no": PersNo(n)});
            prop_assert_eq!(in_object, serde_json::json!({"conf_no": n, "pers_no": n}));
        }
    }
}
