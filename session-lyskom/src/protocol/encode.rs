//! Encoding requests: pure functions from typed arguments to the bytes a client sends.

/// One argument of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A number (`Pers-No`, `INT32` …).
    Int(u32),
    /// A string, sent as a hollerith string with its length in bytes.
    Str(Vec<u8>),
    /// A boolean, sent as `1` or `0`.
    Bool(bool),
    /// A bit-string, most significant (first named) flag first.
    Bits(Vec<bool>),
    /// An array, sent as `n { … }` (`0 { }` when empty).
    Array(Vec<Arg>),
    /// A structure: its fields one after the other.
    Struct(Vec<Arg>),
}

impl Arg {
    /// A string argument from text.
    pub fn text(s: &str) -> Arg {
        Arg::Str(s.as_bytes().to_vec())
    }

    /// A string argument in ISO 8859-1, as LysKOM names and passwords are sent; an error if
    /// `s` has characters outside it.
    pub fn latin1(s: &str) -> Result<Arg, crate::Error> {
        s.chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<Vec<u8>>>()
            .map(Arg::Str)
            .ok_or_else(|| {
                crate::Error::InvalidArgument(format!(
                    "{s:?} has characters outside ISO 8859-1, which LysKOM names use"
                ))
            })
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Arg::Int(n) => push_number(out, *n),
            Arg::Str(bytes) => {
                push_number(out, bytes.len() as u32);
                out.push(b'H');
                out.extend_from_slice(bytes);
            }
            Arg::Bool(b) => out.push(if *b { b'1' } else { b'0' }),
            Arg::Bits(bits) => {
                if bits.is_empty() {
                    out.push(b'0');
                }
                out.extend(bits.iter().map(|b| if *b { b'1' } else { b'0' }));
            }
            Arg::Array(items) => {
                push_number(out, items.len() as u32);
                out.extend_from_slice(b" {");
                for item in items {
                    out.push(b' ');
                    item.write(out);
                }
                out.extend_from_slice(b" }");
            }
            Arg::Struct(fields) => {
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    field.write(out);
                }
            }
        }
    }
}

fn push_number(out: &mut Vec<u8>, n: u32) {
    let mut buf = itoa_buf(n);
    out.append(&mut buf);
}

fn itoa_buf(mut n: u32) -> Vec<u8> {
    let mut digits = Vec::with_capacity(10);
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

/// Encodes call number `call` with reference number `ref_no` and its arguments, including the
/// terminating newline: `encode_request(7, 56, &[])` is `b"7 56\n"`.
pub fn encode_request(ref_no: u32, call: u32, args: &[Arg]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    push_number(&mut out, ref_no);
    out.push(b' ');
    push_number(&mut out, call);
    for arg in args {
        out.push(b' ');
        arg.write(&mut out);
    }
    out.push(b'\n');
    out
}

/// The handshake a client opens the connection with: `A<len>H<user>\n`.
pub fn encode_handshake(user: &str) -> Vec<u8> {
    let mut out = b"A".to_vec();
    Arg::text(user).write(&mut out);
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_look_like_the_specification_examples() {
        assert_eq!(encode_request(1, 56, &[]), b"1 56\n");
        assert_eq!(
            encode_request(3, 62, &[Arg::Int(5), Arg::text("gazonk"), Arg::Bool(false)]),
            b"3 62 5 6Hgazonk 0\n"
        );
        assert_eq!(
            encode_request(4, 80, &[Arg::Array(vec![])]),
            b"4 80 0 { }\n"
        );
        assert_eq!(
            encode_request(5, 80, &[Arg::Array(vec![Arg::Int(5), Arg::Int(12)])]),
            b"5 80 2 { 5 12 }\n"
        );
        assert_eq!(
            encode_request(
                6,
                88,
                &[Arg::text("ö"), Arg::Bits(vec![false, true, false, false])]
            ),
            "6 88 2Hö 0100\n".as_bytes()
        );
    }

    #[test]
    fn handshake() {
        assert_eq!(encode_handshake("httpkom"), b"A7Hhttpkom\n");
    }
}
