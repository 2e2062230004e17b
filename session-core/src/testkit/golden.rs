//! The record that the workspace's committed format fixtures hold.
//!
//! Each on-disk or on-wire form a store writes (the codec envelopes, the file and encrypted
//! file stores' files, the Redis hash layouts, every SQLite schema) is pinned by a fixture
//! written once from this record and committed as bytes. The fixture tests load each one with
//! today's code and compare it with [`golden_record`]: a change that makes existing data
//! unreadable then fails a test, and a deliberate format change shows up as a diff of fixtures.
//! Changing this function breaks every fixture, which is the point: it must not change.

use std::time::Duration;

use serde::Serialize;

use crate::clock::Timestamp;
use crate::codec::Codec;
use crate::expiry::ExpiryPolicy;
use crate::id::SessionKey;
use crate::record::Record;

/// When the golden record was created (2026-05-28T20:26:40Z).
pub const GOLDEN_CREATED_AT: Timestamp = Timestamp::from_millis(1_780_000_000_000);

/// When the golden record was last used: 90 s after its creation.
pub const GOLDEN_LAST_ACCESS: Timestamp = Timestamp::from_millis(1_780_000_090_000);

/// A time at which the golden record is live (a minute after its last access).
pub const GOLDEN_NOW: Timestamp = Timestamp::from_millis(1_780_000_150_000);

/// The golden record's principal.
pub const GOLDEN_PRINCIPAL: &str = "alice@example.org";

/// A structured attribute value, as applications store them.
#[derive(Serialize)]
struct Cart {
    items: Vec<(String, u32)>,
    note: String,
}

/// The key the golden record is filed under.
pub fn golden_key() -> SessionKey {
    SessionKey::derive("sessions-format-fixture", &["golden"])
}

/// The record every format fixture holds, with values in `codec`: a principal, idle and
/// absolute timeouts, version 7 and attributes written at versions 1, 3 and 7 (a structured
/// value with non-ASCII text, a number, a flag and an empty string).
pub fn golden_record(codec: Codec) -> Record {
    let mut record = Record::new(
        golden_key(),
        codec,
        ExpiryPolicy::idle(Duration::from_secs(30 * 60))
            .with_absolute(Duration::from_secs(12 * 3600)),
        GOLDEN_CREATED_AT,
    );
    let cart = Cart {
        items: vec![("A-1".into(), 2), ("ß-ü ✓".into(), 1)],
        note: "leave at the door".into(),
    };
    insert_at(&mut record, 1, "cart", &cart);
    insert_at(&mut record, 3, "counter:visits", &42_u64);
    insert_at(&mut record, 7, "flag", &true);
    insert_at(&mut record, 7, "empty", "");
    record.version = 7;
    record.principal = Some(GOLDEN_PRINCIPAL.to_owned());
    record.last_access = GOLDEN_LAST_ACCESS;
    record
}

fn insert_at<T: Serialize + ?Sized>(record: &mut Record, version: u64, name: &str, value: &T) {
    record.version = version;
    // The values are the crate's own types, which both codecs encode.
    if let Err(error) = record.insert(name, value) {
        panic!("the golden record's attribute {name} does not encode: {error}");
    }
}
