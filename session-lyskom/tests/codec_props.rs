//! Property tests of the Protocol A codec: no input makes it panic, and what is encoded
//! tokenizes back to the same values, however the bytes are split.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use session_lyskom::protocol::encode::{Arg, encode_request};
use session_lyskom::protocol::token::{Message, Token, parse_message};

fn token() -> impl Strategy<Value = Token> {
    prop_oneof![
        any::<u32>().prop_map(|n| Token::Atom(n.to_string().into_bytes())),
        proptest::collection::vec(any::<bool>(), 1..16)
            .prop_map(|b| Token::Atom(b.iter().map(|x| if *x { b'1' } else { b'0' }).collect())),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Token::Str),
        Just(Token::Open),
        Just(Token::Close),
        Just(Token::Star),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (any::<u32>(), proptest::collection::vec(token(), 0..20))
            .prop_map(|(ref_no, body)| Message::Reply { ref_no, body }),
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(ref_no, code, status)| {
            Message::Error {
                ref_no,
                code,
                status,
            }
        }),
        (any::<u32>(), proptest::collection::vec(token(), 0..20))
            .prop_map(|(msg_no, body)| Message::Async { msg_no, body }),
        proptest::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            0..30
        )
        .prop_map(Message::ProtocolError),
    ]
}

/// Writes a message the way lyskomd does.
fn serialize(m: &Message) -> Vec<u8> {
    fn tokens(out: &mut Vec<u8>, body: &[Token]) {
        for t in body {
            out.push(b' ');
            match t {
                Token::Atom(a) => out.extend_from_slice(a),
                Token::Str(s) => {
                    out.extend_from_slice(format!("{}H", s.len()).as_bytes());
                    out.extend_from_slice(s);
                }
                Token::Open => out.push(b'{'),
                Token::Close => out.push(b'}'),
                Token::Star => out.push(b'*'),
            }
        }
    }
    let mut out = Vec::new();
    match m {
        Message::Reply { ref_no, body } => {
            out.extend_from_slice(format!("={ref_no}").as_bytes());
            tokens(&mut out, body);
        }
        Message::Error {
            ref_no,
            code,
            status,
        } => out.extend_from_slice(format!("%{ref_no} {code} {status}").as_bytes()),
        Message::Async { msg_no, body } => {
            out.extend_from_slice(format!(":{} {msg_no}", body.len()).as_bytes());
            tokens(&mut out, body);
        }
        Message::ProtocolError(text) => {
            out.extend_from_slice(b"%%");
            out.extend_from_slice(text);
        }
    }
    out.push(b'\n');
    out
}

fn arg() -> impl Strategy<Value = Arg> {
    let leaf = prop_oneof![
        any::<u32>().prop_map(Arg::Int),
        proptest::collection::vec(any::<u8>(), 0..30).prop_map(Arg::Str),
        any::<bool>().prop_map(Arg::Bool),
        proptest::collection::vec(any::<bool>(), 1..12).prop_map(Arg::Bits),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Arg::Array),
            proptest::collection::vec(inner, 1..4).prop_map(Arg::Struct),
        ]
    })
}

/// The tokens an argument becomes on the wire.
fn flatten(a: &Arg, out: &mut Vec<Token>) {
    match a {
        Arg::Int(n) => out.push(Token::Atom(n.to_string().into_bytes())),
        Arg::Str(s) => out.push(Token::Str(s.clone())),
        Arg::Bool(b) => out.push(Token::Atom(if *b { b"1".to_vec() } else { b"0".to_vec() })),
        Arg::Bits(bits) => out.push(Token::Atom(
            bits.iter().map(|x| if *x { b'1' } else { b'0' }).collect(),
        )),
        Arg::Array(items) => {
            out.push(Token::Atom(items.len().to_string().into_bytes()));
            out.push(Token::Open);
            for i in items {
                flatten(i, out);
            }
            out.push(Token::Close);
        }
        Arg::Struct(fields) => {
            for f in fields {
                flatten(f, out);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(Some((_, used))) = parse_message(&bytes) {
            prop_assert!(used <= bytes.len());
            prop_assert!(used > 0);
        }
    }

    #[test]
    fn protocol_shaped_noise_never_panics(
        bytes in proptest::collection::vec(
            prop_oneof![Just(b'='), Just(b'%'), Just(b':'), Just(b' '), Just(b'\n'),
                        Just(b'H'), Just(b'{'), Just(b'}'), Just(b'*'), (b'0'..=b'9')], 0..80)
    ) {
        let mut rest = &bytes[..];
        while let Ok(Some((_, used))) = parse_message(rest) {
            prop_assert!(used > 0 && used <= rest.len());
            rest = &rest[used..];
        }
    }

    #[test]
    fn server_messages_round_trip(m in message()) {
        let bytes = serialize(&m);
        let parsed = parse_message(&bytes).unwrap();
        prop_assert_eq!(parsed, Some((m, bytes.len())));
    }

    #[test]
    fn every_proper_prefix_asks_for_more(m in message(), cut in any::<prop::sample::Index>()) {
        let bytes = serialize(&m);
        let at = cut.index(bytes.len());
        prop_assert_eq!(parse_message(&bytes[..at]).unwrap(), None);
    }

    #[test]
    fn consecutive_messages_come_out_in_order(ms in proptest::collection::vec(message(), 1..6)) {
        let mut stream = Vec::new();
        for m in &ms {
            stream.extend(serialize(m));
        }
        let mut rest = &stream[..];
        let mut out = Vec::new();
        while let Some((m, used)) = parse_message(rest).unwrap() {
            out.push(m);
            rest = &rest[used..];
        }
        prop_assert!(rest.is_empty());
        prop_assert_eq!(out, ms);
    }

    #[test]
    fn requests_tokenize_back_to_their_arguments(
        ref_no in any::<u32>(), call in 0u32..200, args in proptest::collection::vec(arg(), 0..5)
    ) {
        let mut bytes = b"=".to_vec();
        bytes.extend(encode_request(ref_no, call, &args));
        let mut expected = vec![Token::Atom(call.to_string().into_bytes())];
        for a in &args {
            flatten(a, &mut expected);
        }
        prop_assert_eq!(
            parse_message(&bytes).unwrap(),
            Some((Message::Reply { ref_no, body: expected }, bytes.len()))
        );
    }
}
