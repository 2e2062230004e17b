//! Name lookup as LysKOM clients do it: a name of the form `#<number>` means the conference
//! (or person) with that number, any other name is expanded by the server (lookup-z-name).
//!
//! This is pylyskom's `lookup_name`, which httpkom's `GET /conferences/?name=…` and its login
//! by `pers_name` use: after the `#` comes a number as Python's `int()` reads it (surrounding
//! white space, a sign and `_` between digits allowed); the answer is that conference alone
//! when it exists and is of a wanted kind (a letterbox when persons are wanted, another
//! conference when conferences are), and nothing at all otherwise: not a number, no such
//! conference, or one of the other kind. A `#` name never falls back to a lookup by name.
//! (Python's `int()` also takes digits of other scripts; here only ASCII digits count.)
//!
//! ```
//! use session_lyskom::lookup::NameQuery;
//! use session_lyskom::protocol::numbers::ConfNo;
//!
//! assert_eq!(NameQuery::parse("#4"), NameQuery::Number(Some(ConfNo(4))));
//! assert_eq!(NameQuery::parse("# 1_000 "), NameQuery::Number(Some(ConfNo(1000))));
//! assert_eq!(NameQuery::parse("#kaffe"), NameQuery::Number(None));
//! assert_eq!(NameQuery::parse("Kaffe"), NameQuery::Name("Kaffe"));
//! ```

use crate::client::Client;
use crate::error::Error;
use crate::protocol::numbers::ConfNo;
use crate::protocol::types::ConfZInfo;

/// What a name to look up asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameQuery<'a> {
    /// A `#` name: the conference with this number, or `None` when what follows the `#` is
    /// not a number any conference can have (not a number, zero, negative, too large); such
    /// a lookup finds nothing.
    Number(Option<ConfNo>),
    /// Any other name, expanded by the server.
    Name(&'a str),
}

impl<'a> NameQuery<'a> {
    /// Reads `name` the way pylyskom does. Pure.
    pub fn parse(name: &'a str) -> Self {
        match name.strip_prefix('#') {
            Some(number) => NameQuery::Number(python_int(number).and_then(conf_no)),
            None => NameQuery::Name(name),
        }
    }
}

/// A number as Python's `int(text)` reads it in base 10, for ASCII digits: surrounding
/// white space, an optional sign, digits with single underscores between them. `None` when
/// `int()` would raise (or the number does not fit in an `i64`, which no conference has).
fn python_int(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let bytes = digits.as_bytes();
    let (first, last) = (bytes.first()?, bytes.last()?);
    if !first.is_ascii_digit() || !last.is_ascii_digit() {
        return None;
    }
    let mut value: i64 = 0;
    let mut previous_underscore = false;
    for &b in bytes {
        if b == b'_' {
            if previous_underscore {
                return None;
            }
            previous_underscore = true;
            continue;
        }
        previous_underscore = false;
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

/// The conference number `n` can be: positive and within 32 bits.
fn conf_no(n: i64) -> Option<ConfNo> {
    u32::try_from(n).ok().filter(|n| *n > 0).map(ConfNo)
}

/// Looks `name` up among persons (`want_persons`) and/or conferences (`want_confs`), with
/// `#<number>` names answered by the conference with that number (see the module docs).
///
/// A Protocol A error while reading a `#` conference (it does not exist, it is secret, the
/// connection is not logged in and the server wants it to be) finds nothing, as in
/// pylyskom; a lost connection is an error.
pub async fn lookup_name(
    client: &Client,
    name: &str,
    want_persons: bool,
    want_confs: bool,
) -> Result<Vec<ConfZInfo>, Error> {
    let conf_no = match NameQuery::parse(name) {
        NameQuery::Name(name) => return client.lookup_z_name(name, want_persons, want_confs).await,
        NameQuery::Number(None) => return Ok(Vec::new()),
        NameQuery::Number(Some(conf_no)) => conf_no,
    };
    let conf = match client.get_uconf_stat(conf_no).await {
        Ok(conf) => conf,
        Err(Error::Server { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let letterbox = conf.conf_type.letterbox;
    if (want_persons && letterbox) || (want_confs && !letterbox) {
        Ok(vec![ConfZInfo {
            name: conf.name,
            conf_type: conf.conf_type,
            conf_no,
        }])
    } else {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers_after_a_hash_read_like_python_int() {
        let number = |s| match NameQuery::parse(s) {
            NameQuery::Number(n) => n,
            NameQuery::Name(_) => panic!("{s:?} is a # name"),
        };
        assert_eq!(number("#4"), Some(ConfNo(4)));
        assert_eq!(number("#007"), Some(ConfNo(7)));
        assert_eq!(number("#+12"), Some(ConfNo(12)));
        assert_eq!(number("#\t 12\n"), Some(ConfNo(12)));
        assert_eq!(number("#1_2_3"), Some(ConfNo(123)));
        assert_eq!(number("#4294967295"), Some(ConfNo(u32::MAX)));
        for nothing in [
            "#",
            "# ",
            "#0",
            "#-3",
            "#-0",
            "#4294967296",
            "#1__2",
            "#_1",
            "#1_",
            "#1 2",
            "#x",
            "#4a",
            "#+",
            "#++1",
            "#+-1",
            "#٣",
            "#99999999999999999999999",
        ] {
            assert_eq!(number(nothing), None, "{nothing:?}");
        }
    }

    #[test]
    fn names_without_a_leading_hash_are_names() {
        assert_eq!(NameQuery::parse(""), NameQuery::Name(""));
        assert_eq!(NameQuery::parse("Kaffe #4"), NameQuery::Name("Kaffe #4"));
        assert_eq!(NameQuery::parse(" #4"), NameQuery::Name(" #4"));
    }

    proptest! {
        #[test]
        fn any_conference_number_is_found_by_its_hash_name(n in 1u32..) {
            let name = format!("#{n}");
            prop_assert_eq!(NameQuery::parse(&name), NameQuery::Number(Some(ConfNo(n))));
        }

        #[test]
        fn parsing_never_panics(s in "\\PC*") {
            let _ = NameQuery::parse(&s);
            let _ = NameQuery::parse(&format!("#{s}"));
        }
    }
}
