//! Arbitrary bytes through the session id parser that every request with a session cookie or
//! header runs: never a panic, and an accepted id is canonical: it writes back as the very
//! text it was read from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::SessionId;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = SessionId::parse(text) {
        assert_eq!(id.expose_secret(), text);
        assert_eq!(&id.expose_secret_ascii()[..], data);
    }
});
