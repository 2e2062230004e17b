//! Typed decoding of a message's tokens, once the call it answers is known.

use super::token::{Token, atom_number};
use crate::error::Error;

/// Reads typed values from the tokens of one reply or asynchronous message, front to back.
#[derive(Debug)]
pub struct TokenReader<'a> {
    tokens: &'a [Token],
    pos: usize,
}

/// A value that can be read from Protocol A tokens.
pub trait Decode: Sized {
    /// Reads one value.
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error>;
}

fn malformed(what: &str) -> Error {
    Error::Malformed(format!("expected {what}"))
}

impl<'a> TokenReader<'a> {
    /// A reader positioned at the first token.
    pub fn new(tokens: &'a [Token]) -> Self {
        TokenReader { tokens, pos: 0 }
    }

    fn next(&mut self) -> Option<&'a Token> {
        let t = self.tokens.get(self.pos)?;
        self.pos += 1;
        Some(t)
    }

    /// Reads a number.
    pub fn int(&mut self) -> Result<u32, Error> {
        match self.next() {
            Some(Token::Atom(a)) => atom_number(a),
            _ => Err(malformed("a number")),
        }
    }

    /// Reads a boolean (`0` or `1`).
    pub fn bool(&mut self) -> Result<bool, Error> {
        match self.int()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(malformed("a boolean")),
        }
    }

    /// Reads a hollerith string's bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], Error> {
        match self.next() {
            Some(Token::Str(s)) => Ok(s),
            _ => Err(malformed("a string")),
        }
    }

    /// Reads a hollerith string as text (UTF-8, with Latin-1 as the fallback older clients
    /// and servers used).
    pub fn string(&mut self) -> Result<String, Error> {
        Ok(decode_text(self.bytes()?))
    }

    /// Reads a hollerith string in ISO 8859-1 (names of persons and conferences).
    pub fn latin1(&mut self) -> Result<String, Error> {
        Ok(self.bytes()?.iter().map(|&b| char::from(b)).collect())
    }

    /// Reads a bit-string; `true` for every `1`, first flag first.
    pub fn bits(&mut self) -> Result<Vec<bool>, Error> {
        match self.next() {
            Some(Token::Atom(a)) if a.iter().all(|b| matches!(b, b'0' | b'1')) => {
                Ok(a.iter().map(|b| *b == b'1').collect())
            }
            _ => Err(malformed("a bit-string")),
        }
    }

    /// Reads an array (`n { … }`, or `n *` when the server left the elements out, which
    /// reads as empty), decoding each element with `element`.
    pub fn array<T>(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        let n = self.int()? as usize;
        match self.next() {
            Some(Token::Star) => Ok(Vec::new()),
            Some(Token::Open) => {
                let remaining = self.tokens.len().saturating_sub(self.pos);
                let mut out = Vec::with_capacity(n.min(remaining));
                for _ in 0..n {
                    out.push(element(self)?);
                }
                match self.next() {
                    Some(Token::Close) => Ok(out),
                    _ => Err(malformed("the end of an array")),
                }
            }
            _ => Err(malformed("an array")),
        }
    }

    /// Reads an array of values that know how to decode themselves.
    pub fn array_of<T: Decode>(&mut self) -> Result<Vec<T>, Error> {
        self.array(T::decode)
    }

    /// Reads one value that knows how to decode itself.
    pub fn read<T: Decode>(&mut self) -> Result<T, Error> {
        T::decode(self)
    }

    /// Checks that every token was read.
    pub fn finish(self) -> Result<(), Error> {
        if self.pos == self.tokens.len() {
            Ok(())
        } else {
            Err(Error::Malformed(format!(
                "{} unexpected tokens after the value",
                self.tokens.len() - self.pos
            )))
        }
    }
}

/// Text from a LysKOM string: UTF-8, or Latin-1 when the bytes are not UTF-8.
pub fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Decodes a whole reply as one value, checking nothing is left over.
pub fn decode_all<T: Decode>(tokens: &[Token]) -> Result<T, Error> {
    let mut r = TokenReader::new(tokens);
    let value = T::decode(&mut r)?;
    r.finish()?;
    Ok(value)
}

impl Decode for u32 {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        r.int()
    }
}

impl Decode for () {
    fn decode(_: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(())
    }
}

impl Decode for String {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        r.string()
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        r.array_of()
    }
}
