//! Arbitrary bytes through the Protocol A tokenizer and typed decoders, as a stream of server
//! messages: never a panic, always progress, and every reply body tried against the typed
//! decoders the client uses; the numbers decoded print and parse back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_lyskom::protocol::numbers::{ConfNo, PersNo, TextNo};
use session_lyskom::protocol::reader::decode_all;
use session_lyskom::protocol::token::{Message, parse_handshake, parse_message};
use session_lyskom::protocol::types::{
    ConfZInfo, Conference, Mark, Membership, Person, ServerInfo, TextMapping, TextStat, Time,
    UConference,
};

fuzz_target!(|data: &[u8]| {
    let _ = parse_handshake(data);
    let mut rest = data;
    while let Ok(Some((message, used))) = parse_message(rest) {
        assert!(used > 0 && used <= rest.len());
        rest = &rest[used..];
        if let Message::Reply { body, .. } | Message::Async { body, .. } = message {
            let _ = decode_all::<Time>(&body);
            if let Ok(stat) = decode_all::<TextStat>(&body) {
                assert_eq!(stat.author.to_string().parse::<PersNo>(), Ok(stat.author));
            }
            let _ = decode_all::<Conference>(&body);
            let _ = decode_all::<UConference>(&body);
            let _ = decode_all::<Person>(&body);
            let _ = decode_all::<Vec<Membership>>(&body);
            let _ = decode_all::<Membership>(&body);
            for found in decode_all::<Vec<ConfZInfo>>(&body).unwrap_or_default() {
                assert_eq!(found.conf_no.to_string().parse::<ConfNo>(), Ok(found.conf_no));
            }
            let _ = decode_all::<TextMapping>(&body);
            for mark in decode_all::<Vec<Mark>>(&body).unwrap_or_default() {
                assert_eq!(mark.text_no.to_string().parse::<TextNo>(), Ok(mark.text_no));
            }
            let _ = decode_all::<ServerInfo>(&body);
        }
    }
});
