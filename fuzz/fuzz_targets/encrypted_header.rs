//! Arbitrary bytes through the encrypted store's file decoder: the header parser and the
//! unsealing with a fixed keyring. Never a panic; whatever parses re-encodes to the same
//! header; whatever is sealed unseals to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_stores::encrypted::format::{encode_header, parse_envelope};
use session_stores::{Encryption, Key, Keyring, Sealer};

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = parse_envelope(data) {
        let header = encode_header(
            &envelope.derivation,
            &envelope.key_id,
            envelope.plaintext_len,
            &envelope.nonce,
        );
        assert_eq!(header.as_slice(), envelope.header);
    }
    let sealer = Encryption::new(Keyring::new(Key::from_bytes([7; 32])));
    let _ = sealer.unseal(data, "fuzz input");
    if let Ok(sealed) = sealer.seal(data) {
        assert_eq!(
            sealer.unseal(&sealed, "fuzz round trip").ok().as_deref(),
            Some(data)
        );
    }
});
