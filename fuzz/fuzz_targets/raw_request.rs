//! Arbitrary bytes through the parser of raw Protocol A requests that kom-gateway's websocket
//! accepts: never a panic, and an accepted request has the parameter count its call takes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_lyskom::gateway::raw_request::{arity, parse_raw_request};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = parse_raw_request(data) {
        assert!(arity(request.call_no).is_some());
    }
});
