//! Arbitrary bytes through kom-gateway's user-area decoder: never a panic, and whatever it
//! decodes encodes back to an area that decodes to the same blocks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_lyskom::gateway::user_area::{decode_user_area, encode_user_area};

fuzz_target!(|data: &[u8]| {
    if let Ok(blocks) = decode_user_area(data) {
        let again = decode_user_area(&encode_user_area(&blocks));
        assert_eq!(again.as_ref().ok(), Some(&blocks));
    }
});
