//! Raw Protocol A requests from WebSocket clients (httpkom's `"protocol": "a"`), as pure
//! functions: parsing a request into a call number and typed arguments, and writing a reply's
//! tokens back as text.
//!
//! A client sends a request without its reference number (`"35"`, `"62 5 6Hgazonk 0"`). The
//! gateway does not write those bytes to the LysKOM connection as they are: it parses them,
//! checks that they are exactly one call with exactly the number of parameters Protocol A
//! gives that call, and sends that call through the connection's own client, which numbers it
//! like any other call. So a raw request cannot smuggle a second request (with a reference
//! number of its own that could answer, or steal the answer of, a call the gateway is
//! waiting for) and cannot leave half a request in the stream: the connection stays in step.
//! Calls whose parameters this table does not know (set-info, whose `Info-Old` is a structure
//! outside an array) are refused.

use crate::protocol::encode::Arg;
use crate::protocol::token::{Message, Token, parse_message};

/// How deeply arrays may nest in a raw request.
pub const MAX_DEPTH: usize = 16;

/// A raw request, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRequest {
    /// The call number.
    pub call_no: u32,
    /// The parameters, ready for [`crate::client::Client::call_raw`].
    pub args: Vec<Arg>,
}

/// Why a raw request is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RawRequestError {
    /// The text is not Protocol A tokens (or a hollerith string runs past its end).
    #[error("the request is not Protocol A: {0}")]
    Malformed(String),
    /// More than one line (more than one request).
    #[error("a raw request must be one request on one line")]
    SeveralLines,
    /// Nothing but blanks.
    #[error("the request is empty")]
    Empty,
    /// The call is not one the gateway can check.
    #[error("call {0} cannot be sent as a raw request")]
    UnknownCall(u32),
    /// The call has another number of parameters.
    #[error("call {call_no} takes {expected} parameters, the request has {got}")]
    WrongArity {
        /// The call number.
        call_no: u32,
        /// The parameters the call takes (a `Time` counts its nine fields).
        expected: usize,
        /// The parameters the request has.
        got: usize,
    },
}

/// The number of top-level values each call's parameters take (arrays count as one value;
/// a `Time` as its nine fields), from the Protocol A specification; `None` for unknown calls.
pub fn arity(call_no: u32) -> Option<usize> {
    Some(match call_no {
        1 | 23 | 35 | 36 | 39 | 43 | 51 | 56 | 63 | 75 | 81 | 82 | 85 | 94 | 96 | 111 | 113
        | 114 | 115 => 0,
        2 | 4 | 11 | 12 | 26 | 29 | 41 | 42 | 44 | 45 | 49 | 50 | 52 | 54 | 55 | 60 | 61 | 64
        | 65 | 66 | 67 | 68 | 70 | 71 | 73 | 78 | 80 | 84 | 90 | 91 | 112 | 116 | 117 | 118
        | 120 => 1,
        0 | 3 | 5 | 6 | 7 | 9 | 10 | 13 | 15 | 16 | 17 | 18 | 19 | 20 | 21 | 22 | 24 | 27 | 28
        | 31 | 32 | 33 | 37 | 38 | 40 | 53 | 57 | 59 | 69 | 72 | 77 | 95 | 97 | 98 | 105 | 106
        | 109 | 110 => 2,
        8 | 25 | 30 | 34 | 47 | 48 | 62 | 74 | 76 | 83 | 86 | 87 | 88 | 92 | 93 | 101 | 102
        | 103 | 104 | 119 | 121 | 122 => 3,
        14 | 46 | 89 | 99 | 107 => 4,
        100 | 108 => 5,
        58 => 9,
        _ => return None,
    })
}

/// Parses a raw request (the text after the reference number; one trailing newline is
/// allowed). Never panics, whatever the bytes.
pub fn parse_raw_request(raw: &[u8]) -> Result<RawRequest, RawRequestError> {
    let mut framed = Vec::with_capacity(raw.len() + 4);
    framed.extend_from_slice(b"=0 ");
    framed.extend_from_slice(raw);
    framed.push(b'\n');
    let body = match parse_message(&framed) {
        Ok(Some((Message::Reply { body, .. }, used))) => {
            if framed[used..]
                .iter()
                .any(|b| !matches!(b, b' ' | b'\r' | b'\n'))
            {
                return Err(RawRequestError::SeveralLines);
            }
            body
        }
        Ok(Some(_)) => return Err(RawRequestError::Malformed("not a request".into())),
        Ok(None) => {
            return Err(RawRequestError::Malformed(
                "a hollerith string runs past the end of the request".into(),
            ));
        }
        Err(e) => return Err(RawRequestError::Malformed(e.to_string())),
    };
    let mut pos = 0;
    let mut values = Vec::new();
    while pos < body.len() {
        let (value, next) = value(&body, pos, 0)?;
        values.push(value);
        pos = next;
    }
    let mut values = values.into_iter();
    let call_no = match values.next() {
        None => return Err(RawRequestError::Empty),
        Some(Arg::Int(n)) => n,
        Some(Arg::Bits(bits)) if bits.len() == 1 => u32::from(bits[0]),
        Some(_) => {
            return Err(RawRequestError::Malformed(
                "a request must start with its call number".into(),
            ));
        }
    };
    let args: Vec<Arg> = values.collect();
    let expected = arity(call_no).ok_or(RawRequestError::UnknownCall(call_no))?;
    if args.len() != expected {
        return Err(RawRequestError::WrongArity {
            call_no,
            expected,
            got: args.len(),
        });
    }
    Ok(RawRequest { call_no, args })
}

/// One value starting at `tokens[pos]` and the position after it.
fn value(tokens: &[Token], pos: usize, depth: usize) -> Result<(Arg, usize), RawRequestError> {
    let malformed = |m: &str| RawRequestError::Malformed(m.into());
    match tokens.get(pos) {
        Some(Token::Str(bytes)) => Ok((Arg::Str(bytes.clone()), pos + 1)),
        Some(Token::Atom(atom)) => match tokens.get(pos + 1) {
            Some(Token::Open) => {
                if depth >= MAX_DEPTH {
                    return Err(malformed("arrays nest too deeply"));
                }
                let count =
                    canonical_number(atom).ok_or_else(|| malformed("a bad array length"))?;
                let mut items = Vec::new();
                let mut p = pos + 2;
                loop {
                    match tokens.get(p) {
                        Some(Token::Close) => break,
                        None => return Err(malformed("an array without its `}`")),
                        Some(_) => {
                            let (item, next) = value(tokens, p, depth + 1)?;
                            items.push(item);
                            p = next;
                        }
                    }
                }
                Ok((group(items, count)?, p + 1))
            }
            Some(Token::Star) => match canonical_number(atom) {
                Some(0) => Ok((Arg::Array(Vec::new()), pos + 2)),
                _ => Err(malformed("only an empty array may be sent as `*`")),
            },
            _ => Ok((atom_arg(atom)?, pos + 1)),
        },
        Some(Token::Open | Token::Close | Token::Star) | None => {
            Err(malformed("`{`, `}` and `*` must follow an array length"))
        }
    }
}

/// Groups an array's values into `count` elements of equal size (Protocol A structures inside
/// arrays, such as Misc-Info or Aux-Item-Input, are their fields one after the other).
fn group(items: Vec<Arg>, count: u32) -> Result<Arg, RawRequestError> {
    let count = count as usize;
    if count == 0 || items.is_empty() {
        return if count == 0 && items.is_empty() {
            Ok(Arg::Array(items))
        } else {
            Err(RawRequestError::Malformed(
                "an array's length does not match its elements".into(),
            ))
        };
    }
    if !items.len().is_multiple_of(count) {
        return Err(RawRequestError::Malformed(
            "an array's length does not match its elements".into(),
        ));
    }
    let size = items.len() / count;
    if size == 1 {
        return Ok(Arg::Array(items));
    }
    let mut elements = Vec::with_capacity(count);
    let mut iter = items.into_iter();
    for _ in 0..count {
        elements.push(Arg::Struct(iter.by_ref().take(size).collect()));
    }
    Ok(Arg::Array(elements))
}

/// A number written the way the encoder writes it (no sign, no leading zeros).
fn canonical_number(atom: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(atom).ok()?;
    let n: u32 = text.parse().ok()?;
    (n.to_string() == text).then_some(n)
}

/// A number or a bit-string, as an argument that encodes to the same bytes.
fn atom_arg(atom: &[u8]) -> Result<Arg, RawRequestError> {
    if let Some(n) = canonical_number(atom) {
        return Ok(Arg::Int(n));
    }
    if !atom.is_empty() && atom.iter().all(|b| matches!(b, b'0' | b'1')) {
        return Ok(Arg::Bits(atom.iter().map(|b| *b == b'1').collect()));
    }
    Err(RawRequestError::Malformed(format!(
        "{:?} is not a number or a bit-string",
        String::from_utf8_lossy(atom)
    )))
}

/// A reply's tokens as the server wrote them after the reference number: `12 30 …`,
/// `5Hhello`, `2 { 1 2 }`. Empty for an empty reply.
pub fn format_reply(tokens: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        match token {
            Token::Atom(a) => out.extend_from_slice(a),
            Token::Str(s) => {
                out.extend_from_slice(s.len().to_string().as_bytes());
                out.push(b'H');
                out.extend_from_slice(s);
            }
            Token::Open => out.push(b'{'),
            Token::Close => out.push(b'}'),
            Token::Star => out.push(b'*'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::encode::encode_request;
    use proptest::prelude::*;

    fn reencoded(raw: &[u8]) -> Vec<u8> {
        let r = parse_raw_request(raw).unwrap();
        encode_request(7, r.call_no, &r.args)
    }

    #[test]
    fn requests_are_renumbered_byte_for_byte() {
        assert_eq!(reencoded(b"35"), b"7 35\n");
        assert_eq!(reencoded(b"56\n"), b"7 56\n");
        assert_eq!(reencoded(b"62 5 6Hgazonk 0"), b"7 62 5 6Hgazonk 0\n");
        assert_eq!(
            reencoded(b"86 5Hhi\nyo 2 { 0 6 1 7 } 1 { 1 00000000 0 3Hx/y }"),
            b"7 86 5Hhi\nyo 2 { 0 6 1 7 } 1 { 1 00000000 0 3Hx/y }\n"
        );
        assert_eq!(
            reencoded(b"89 1Ha 1Hb 00000000 0 *"),
            b"7 89 1Ha 1Hb 00000000 0 { }\n"
        );
        assert_eq!(reencoded(b"80 0 { }"), b"7 80 0 { }\n");
    }

    #[test]
    fn smuggled_or_broken_requests_are_refused() {
        assert_eq!(
            parse_raw_request(b"35 1 56"),
            Err(RawRequestError::WrongArity {
                call_no: 35,
                expected: 0,
                got: 2
            })
        );
        assert_eq!(
            parse_raw_request(b"35\n1 56"),
            Err(RawRequestError::SeveralLines)
        );
        assert_eq!(parse_raw_request(b"  "), Err(RawRequestError::Empty));
        assert_eq!(
            parse_raw_request(b"79 1 2 3 4 5 6"),
            Err(RawRequestError::UnknownCall(79))
        );
        assert!(parse_raw_request(b"53 0 9Hshort").is_err());
        assert!(parse_raw_request(b"27 1 3 { 1 2 }").is_err());
        assert!(parse_raw_request(b"27 1 2 { 1 2").is_err());
        assert!(parse_raw_request(b"49 -1").is_err());
        assert!(parse_raw_request(b"{ 35 }").is_err());
        assert!(parse_raw_request(b"49 x").is_err());
    }

    #[test]
    fn replies_are_written_as_the_server_sends_them() {
        let tokens = vec![
            Token::Atom(b"2".to_vec()),
            Token::Open,
            Token::Str(b"ab".to_vec()),
            Token::Atom(b"0101".to_vec()),
            Token::Close,
            Token::Atom(b"0".to_vec()),
            Token::Star,
        ];
        assert_eq!(format_reply(&tokens), b"2 { 2Hab 0101 } 0 *");
        assert_eq!(format_reply(&[]), b"");
    }

    fn arg() -> impl Strategy<Value = Arg> {
        let leaf = prop_oneof![
            any::<u32>().prop_map(Arg::Int),
            proptest::collection::vec(any::<u8>(), 0..12).prop_map(Arg::Str),
            proptest::collection::vec(any::<bool>(), 2..12).prop_map(Arg::Bits),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            (1usize..4, proptest::collection::vec(inner, 1..4)).prop_map(|(n, fields)| {
                let element = if fields.len() == 1 {
                    fields[0].clone()
                } else {
                    Arg::Struct(fields)
                };
                Arg::Array(vec![element; n])
            })
        })
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_raw_request(&bytes);
        }

        #[test]
        fn encoded_requests_parse_back_to_the_same_bytes(
            args in proptest::collection::vec(arg(), 3),
        ) {
            let wire = encode_request(1, 76, &args);
            let raw = &wire[2..wire.len() - 1];
            let parsed = parse_raw_request(raw).unwrap();
            prop_assert_eq!(encode_request(1, parsed.call_no, &parsed.args), wire);
        }
    }
}
