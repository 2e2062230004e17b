//! Framing and tokenizing what a LysKOM server sends: pure functions over bytes.
//!
//! Every server message ends with a newline that is not inside a hollerith string, so a
//! message can be cut out and split into tokens without knowing which call it answers; the
//! typed decoding ([`super::reader`]) happens later, once the reference number has told the
//! client which call that was.

use crate::error::Error;

/// The longest hollerith string accepted (16 MiB); longer ones are treated as garbage so that
/// a hostile length cannot make the client wait for, or allocate, unbounded memory.
pub const MAX_STRING_LEN: usize = 16 * 1024 * 1024;
/// The most tokens one message may hold.
pub const MAX_TOKENS: usize = 1 << 20;

/// One lexical element of a server message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A run of digits (a number or a bit-string; also `-` and `.` for the rare floats).
    Atom(Vec<u8>),
    /// A hollerith string (`5Hhello`), its bytes exactly as sent.
    Str(Vec<u8>),
    /// `{`, the start of an array's elements.
    Open,
    /// `}`, the end of an array's elements.
    Close,
    /// `*`, an array whose elements were left out.
    Star,
}

/// One complete message from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// `=ref …`: the successful reply to call `ref_no`.
    Reply {
        /// The reference number of the call.
        ref_no: u32,
        /// The reply's tokens.
        body: Vec<Token>,
    },
    /// `%ref code status`: call `ref_no` failed.
    Error {
        /// The reference number of the call.
        ref_no: u32,
        /// The Protocol A error code.
        code: u32,
        /// The error status.
        status: u32,
    },
    /// `:n msg-no …`: an asynchronous message.
    Async {
        /// The asynchronous message number (e.g. 5 = new-name, 15 = new-text).
        msg_no: u32,
        /// The message's parameters.
        body: Vec<Token>,
    },
    /// `%%…`: the server could not make sense of what the client sent.
    ProtocolError(Vec<u8>),
}

/// Cuts one message from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only the beginning of a message (read more and call
/// again), `Ok(Some((message, consumed)))` when a whole message is there, and an error when
/// the bytes cannot be Protocol A. Never panics, whatever the bytes.
pub fn parse_message(buf: &[u8]) -> Result<Option<(Message, usize)>, Error> {
    let mut pos = skip_blank(buf, 0);
    let Some(&first) = buf.get(pos) else {
        return Ok(None);
    };
    pos += 1;
    match first {
        b'=' => {
            let Some((ref_no, p)) = number(buf, pos)? else {
                return Ok(None);
            };
            let Some((body, end)) = tokens(buf, p)? else {
                return Ok(None);
            };
            Ok(Some((Message::Reply { ref_no, body }, end)))
        }
        b'%' if buf.get(pos) == Some(&b'%') => match find_newline(buf, pos + 1) {
            Some(nl) => Ok(Some((
                Message::ProtocolError(buf[pos + 1..nl].to_vec()),
                nl + 1,
            ))),
            None => Ok(None),
        },
        b'%' => {
            let Some((ref_no, p)) = number(buf, pos)? else {
                return Ok(None);
            };
            let Some((body, end)) = tokens(buf, p)? else {
                return Ok(None);
            };
            match body.as_slice() {
                [Token::Atom(code), Token::Atom(status)] => Ok(Some((
                    Message::Error {
                        ref_no,
                        code: atom_number(code)?,
                        status: atom_number(status)?,
                    },
                    end,
                ))),
                _ => Err(Error::Malformed(
                    "an error reply must carry exactly a code and a status".into(),
                )),
            }
        }
        b':' => {
            let Some((_param_count, p)) = number(buf, pos)? else {
                return Ok(None);
            };
            let Some((mut body, end)) = tokens(buf, p)? else {
                return Ok(None);
            };
            if body.is_empty() {
                return Err(Error::Malformed(
                    "an asynchronous message without a number".into(),
                ));
            }
            let msg_no = match body.remove(0) {
                Token::Atom(a) => atom_number(&a)?,
                _ => {
                    return Err(Error::Malformed(
                        "an asynchronous message number must be a number".into(),
                    ));
                }
            };
            Ok(Some((Message::Async { msg_no, body }, end)))
        }
        other => Err(Error::Malformed(format!(
            "a server message cannot start with byte {other:#04x}"
        ))),
    }
}

/// Checks the server's answer to the handshake: `Ok(Some(consumed))` once `LysKOM\n` has
/// arrived, `Ok(None)` while it may still be arriving, an error if the server refused.
pub fn parse_handshake(buf: &[u8]) -> Result<Option<usize>, Error> {
    const GREETING: &[u8] = b"LysKOM\n";
    let n = buf.len().min(GREETING.len());
    if buf[..n] == GREETING[..n] {
        return Ok((buf.len() >= GREETING.len()).then_some(GREETING.len()));
    }
    let line_end = find_newline(buf, 0).unwrap_or(buf.len());
    if line_end == buf.len() && buf.len() < 256 && buf.starts_with(b"%%") {
        return Ok(None);
    }
    Err(Error::Handshake(
        String::from_utf8_lossy(&buf[..line_end.min(200)]).into_owned(),
    ))
}

fn skip_blank(buf: &[u8], mut pos: usize) -> usize {
    while matches!(buf.get(pos), Some(b' ' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

fn find_newline(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| from + i)
}

/// A decimal number directly at `pos` (a reference number or parameter count).
fn number(buf: &[u8], pos: usize) -> Result<Option<(u32, usize)>, Error> {
    let digits = buf
        .get(pos..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if pos + digits == buf.len() {
        return Ok(None);
    }
    if digits == 0 {
        return Err(Error::Malformed("expected a number".into()));
    }
    Ok(Some((atom_number(&buf[pos..pos + digits])?, pos + digits)))
}

/// Parses an atom as an unsigned 32-bit number.
pub fn atom_number(atom: &[u8]) -> Result<u32, Error> {
    let mut value: u32 = 0;
    if atom.is_empty() {
        return Err(Error::Malformed("empty number".into()));
    }
    for &b in atom {
        if !b.is_ascii_digit() {
            return Err(Error::Malformed(format!(
                "{:?} is not a number",
                String::from_utf8_lossy(atom)
            )));
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(b - b'0')))
            .ok_or_else(|| Error::Malformed("number out of range".into()))?;
    }
    Ok(value)
}

/// Tokens from `pos` up to the terminating newline; `None` if the newline has not arrived.
fn tokens(buf: &[u8], mut pos: usize) -> Result<Option<(Vec<Token>, usize)>, Error> {
    let mut out = Vec::new();
    loop {
        let Some(&b) = buf.get(pos) else {
            return Ok(None);
        };
        match b {
            b'\n' => return Ok(Some((out, pos + 1))),
            b' ' | b'\r' => {
                pos += 1;
                continue;
            }
            b'{' => {
                out.push(Token::Open);
                pos += 1;
            }
            b'}' => {
                out.push(Token::Close);
                pos += 1;
            }
            b'*' => {
                out.push(Token::Star);
                pos += 1;
            }
            b'0'..=b'9' | b'-' | b'.' => {
                let len = buf[pos..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || **c == b'-' || **c == b'.')
                    .count();
                let end = pos + len;
                let Some(&next) = buf.get(end) else {
                    return Ok(None);
                };
                let atom = &buf[pos..end];
                if next == b'H' {
                    let n = hollerith_len(atom)?;
                    let start = end + 1;
                    let Some(bytes) = buf.get(start..start + n) else {
                        return Ok(None);
                    };
                    out.push(Token::Str(bytes.to_vec()));
                    pos = start + n;
                } else {
                    out.push(Token::Atom(atom.to_vec()));
                    pos = end;
                }
                match buf.get(pos) {
                    None => return Ok(None),
                    Some(b' ' | b'\n' | b'\r') => {}
                    Some(_) => {
                        return Err(Error::Malformed(
                            "tokens must be separated by blanks".into(),
                        ));
                    }
                }
            }
            other => {
                return Err(Error::Malformed(format!(
                    "unexpected byte {other:#04x} in a server message"
                )));
            }
        }
        if out.len() > MAX_TOKENS {
            return Err(Error::Malformed("a message with too many tokens".into()));
        }
    }
}

fn hollerith_len(atom: &[u8]) -> Result<usize, Error> {
    let n = atom_number(atom)? as usize;
    if n > MAX_STRING_LEN {
        return Err(Error::Malformed(format!(
            "a string of {n} bytes is longer than the {MAX_STRING_LEN} allowed"
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &[u8]) -> Message {
        match parse_message(input) {
            Ok(Some((m, n))) => {
                assert_eq!(n, input.len());
                m
            }
            other => panic!("expected one message, got {other:?}"),
        }
    }

    #[test]
    fn reply_with_hollerith_counted_in_bytes() {
        let m = one("=7 5Hgräs 0 *\n".as_bytes());
        assert_eq!(
            m,
            Message::Reply {
                ref_no: 7,
                body: vec![
                    Token::Str("gräs".as_bytes().to_vec()),
                    Token::Atom(b"0".to_vec()),
                    Token::Star
                ]
            }
        );
    }

    #[test]
    fn hollerith_may_contain_newlines_and_braces() {
        let m = one(b"=1 5Ha\n{}\n\n");
        assert_eq!(
            m,
            Message::Reply {
                ref_no: 1,
                body: vec![Token::Str(b"a\n{}\n".to_vec())]
            }
        );
    }

    #[test]
    fn empty_reply() {
        assert_eq!(
            one(b"=12\n"),
            Message::Reply {
                ref_no: 12,
                body: vec![]
            }
        );
    }

    #[test]
    fn error_reply() {
        assert_eq!(
            one(b"%3 4 0\n"),
            Message::Error {
                ref_no: 3,
                code: 4,
                status: 0
            }
        );
    }

    #[test]
    fn protocol_error_line() {
        assert_eq!(
            one(b"%% LysKOM protocol error.\n"),
            Message::ProtocolError(b" LysKOM protocol error.".to_vec())
        );
    }

    #[test]
    fn async_message_with_bitstring_and_array() {
        let m = one(b":2 13 5 0 { }\n");
        assert_eq!(
            m,
            Message::Async {
                msg_no: 13,
                body: vec![
                    Token::Atom(b"5".to_vec()),
                    Token::Atom(b"0".to_vec()),
                    Token::Open,
                    Token::Close
                ]
            }
        );
    }

    #[test]
    fn incomplete_input_asks_for_more() {
        for input in [
            &b"=1 5Hab"[..],
            b"=1 3",
            b"=",
            b"%1 4",
            b"%%oops",
            b"=1 2 {",
        ] {
            assert!(matches!(parse_message(input), Ok(None)), "{input:?}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &b"x\n"[..],
            b"=a\n",
            b"=1 #\n",
            b"%1 2\n",
            b"=1 99999999999H\n",
            b":1\n",
        ] {
            assert!(parse_message(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn two_messages_are_cut_one_at_a_time() {
        let input = b"=1\n:1 5 7\n";
        let Ok(Some((_, n))) = parse_message(input) else {
            panic!("first message")
        };
        assert_eq!(n, 3);
        assert!(matches!(
            parse_message(&input[n..]),
            Ok(Some((Message::Async { msg_no: 5, .. }, _)))
        ));
    }

    #[test]
    fn handshake() {
        assert_eq!(parse_handshake(b"LysKOM\n").ok(), Some(Some(7)));
        assert_eq!(parse_handshake(b"LysK").ok(), Some(None));
        assert!(parse_handshake(b"%%LysKOM unsupported protocol.\n").is_err());
    }
}
