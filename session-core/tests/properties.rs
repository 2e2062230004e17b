//! Property tests: expiry arithmetic, dirty tracking against a model, codec round trips,
//! id parsing, change-set merging.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use proptest::prelude::*;
use session_core::testkit::InstrumentedStore;
use session_core::{
    Attribute, ChangeSet, Codec, ExpiryPolicy, IdError, Limits, MemoryStore, MockClock,
    PrincipalChange, Record, SaveOutcome, SessionConfig, SessionId, SessionKey, SessionManager,
    Timestamp, TouchPolicy, decode_record, encode_record,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn optional_duration() -> impl Strategy<Value = Option<Duration>> {
    prop::option::of((1u64..10_000_000).prop_map(Duration::from_millis))
}

proptest! {
    #[test]
    fn expiry_is_the_earlier_of_idle_and_absolute(
        created in 0u64..1_000_000_000_000,
        since_created in 0u64..100_000_000,
        probe in 0u64..200_000_000,
        idle in optional_duration(),
        absolute in optional_duration(),
    ) {
        let policy = ExpiryPolicy { idle, absolute };
        let created_at = Timestamp::from_millis(created);
        let last_access = Timestamp::from_millis(created + since_created);
        let expected = match (idle.map(|d| last_access.saturating_add(d)), absolute.map(|d| created_at.saturating_add(d))) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        prop_assert_eq!(policy.expires_at(created_at, last_access), expected);
        let now = Timestamp::from_millis(created + probe);
        prop_assert_eq!(policy.is_expired(created_at, last_access, now), expected.is_some_and(|end| now >= end));
        // A later access never brings the end forward.
        let later = last_access.saturating_add(Duration::from_millis(probe));
        match (policy.expires_at(created_at, last_access), policy.expires_at(created_at, later)) {
            (Some(before), Some(after)) => prop_assert!(after >= before),
            (None, None) => {}
            other => prop_assert!(false, "expiry must not appear or vanish with access: {:?}", other),
        }
    }

    #[test]
    fn touch_policy_is_due_exactly_after_the_interval(last in 0u64..1_000_000_000, gap in 0u64..1_000_000, interval in 0u64..1_000_000) {
        let policy = TouchPolicy { interval: Duration::from_millis(interval) };
        let last = Timestamp::from_millis(last);
        prop_assert_eq!(policy.is_due(last, last.saturating_add(Duration::from_millis(gap))), gap >= interval);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, i32),
    Remove(u8),
    Clear,
    Get(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, any::<i32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (0u8..6).prop_map(Op::Remove),
        1 => Just(Op::Clear),
        3 => (0u8..6).prop_map(Op::Get),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sessions_track_changes_like_a_map(
        initial in prop::collection::btree_map(0u8..6, any::<i32>(), 1..4),
        ops in prop::collection::vec(op(), 0..24),
    ) {
        runtime().block_on(async {
            let clock = MockClock::new();
            let store = InstrumentedStore::instrumented(MemoryStore::builder().clock(clock.shared()).build());
            let counts = store.counts();
            let manager = SessionManager::new(Arc::new(store), SessionConfig {
                expiry: ExpiryPolicy::NEVER,
                touch: Some(TouchPolicy { interval: Duration::from_secs(3600) }),
                clock: clock.shared(),
                ..SessionConfig::default()
            });
            let seed = manager.session(None);
            for (k, v) in &initial {
                seed.insert(&format!("k{k}"), v).await.unwrap();
            }
            let SaveOutcome::Stored { id, .. } = seed.save().await.unwrap() else { panic!("seed not stored") };

            let mut model: BTreeMap<String, i32> = initial.iter().map(|(k, v)| (format!("k{k}"), *v)).collect();
            let session = manager.session(Some(id.clone()));
            let mut mutated = false;
            for op in &ops {
                match op {
                    Op::Insert(k, v) => {
                        session.insert(&format!("k{k}"), v).await.unwrap();
                        model.insert(format!("k{k}"), *v);
                        mutated = true;
                    }
                    Op::Remove(k) => {
                        let existed = session.remove(&format!("k{k}")).await.unwrap();
                        assert_eq!(existed, model.remove(&format!("k{k}")).is_some());
                        mutated |= existed;
                    }
                    Op::Clear => {
                        session.clear().await.unwrap();
                        model.clear();
                        mutated = true;
                    }
                    Op::Get(k) => {
                        assert_eq!(session.get::<i32>(&format!("k{k}")).await.unwrap(), model.get(&format!("k{k}")).copied());
                    }
                }
                assert_eq!(session.keys().await.unwrap(), model.keys().cloned().collect::<Vec<_>>());
            }
            let writes_before = counts.writes();
            let outcome = session.save().await.unwrap();
            if mutated {
                assert!(matches!(outcome, SaveOutcome::Stored { .. }), "{outcome:?}");
            } else if ops.is_empty() {
                assert_eq!(outcome, SaveOutcome::Nothing, "an unused handle does nothing");
            } else {
                assert!(matches!(outcome, SaveOutcome::Unchanged { .. }), "{outcome:?}");
                assert_eq!(counts.writes(), writes_before, "nothing changed, nothing written");
            }
            let reloaded = manager.session(Some(id));
            for (k, v) in &model {
                assert_eq!(reloaded.get::<i32>(k).await.unwrap(), Some(*v));
            }
            assert_eq!(reloaded.keys().await.unwrap(), model.keys().cloned().collect::<Vec<_>>());
        });
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn record_with(
    codec: Codec,
    attributes: BTreeMap<String, Attribute>,
) -> impl Strategy<Value = Record> {
    (
        any::<[u8; 32]>(),
        prop::option::of("[a-z]{1,12}"),
        0u64..1_000_000_000_000,
        0u64..1_000_000,
        optional_duration(),
        optional_duration(),
        1u64..1000,
    )
        .prop_map(
            move |(key, principal, created, idle_for, idle, absolute, version)| Record {
                key: SessionKey::from_bytes(key),
                codec,
                attributes: attributes.clone().into(),
                principal,
                created_at: Timestamp::from_millis(created),
                last_access: Timestamp::from_millis(created + idle_for),
                expiry: ExpiryPolicy { idle, absolute },
                version,
            },
        )
}

fn json_record() -> impl Strategy<Value = Record> {
    prop::collection::btree_map(".{1,10}", (json_value(), 1u64..50), 0..6).prop_flat_map(|values| {
        let attributes = values
            .into_iter()
            .map(|(k, (v, version))| {
                (
                    k,
                    Attribute {
                        value: serde_json::to_vec(&v).unwrap(),
                        version,
                    },
                )
            })
            .collect();
        record_with(Codec::Json, attributes)
    })
}

fn bincode_record() -> impl Strategy<Value = Record> {
    prop::collection::btree_map(
        ".{1,10}",
        (prop::collection::vec(any::<u8>(), 0..40), 1u64..50),
        0..6,
    )
    .prop_flat_map(|values| {
        let attributes = values
            .into_iter()
            .map(|(k, (value, version))| (k, Attribute { value, version }))
            .collect();
        record_with(Codec::Bincode, attributes)
    })
}

proptest! {
    #[test]
    fn json_records_round_trip(record in json_record()) {
        let bytes = encode_record(&record).unwrap();
        let decoded = decode_record(&bytes).unwrap();
        // JSON text may be re-spaced, but must denote the same values.
        prop_assert_eq!(decoded.attributes.len(), record.attributes.len());
        for (name, attribute) in &record.attributes {
            let original: serde_json::Value = serde_json::from_slice(&attribute.value).unwrap();
            let back: serde_json::Value = decoded.get(name).unwrap().unwrap();
            prop_assert_eq!(back, original);
            prop_assert_eq!(decoded.attributes[name].version, attribute.version);
        }
        prop_assert_eq!(decoded.with_key(record.key).principal, record.principal.clone());
        prop_assert_eq!((decoded.created_at, decoded.last_access, decoded.expiry, decoded.version, decoded.key),
                        (record.created_at, record.last_access, record.expiry, record.version, record.key));
    }

    #[test]
    fn bincode_records_round_trip_exactly(record in bincode_record()) {
        let bytes = encode_record(&record).unwrap();
        prop_assert_eq!(decode_record(&bytes).unwrap(), record);
    }

    #[test]
    fn typed_values_round_trip_in_both_codecs(value in (any::<i64>(), ".{0,20}", prop::collection::vec(any::<u16>(), 0..8), any::<Option<bool>>())) {
        for codec in [Codec::Json, Codec::Bincode] {
            let bytes = codec.encode_value(&value).unwrap();
            prop_assert_eq!(codec.decode_value::<(i64, String, Vec<u16>, Option<bool>)>(&bytes).unwrap(), value.clone());
        }
    }

    /// A float stored in a session reads back as the same number (JSON writes its shortest
    /// round-trip digits, and must read them back exactly), so saving it again changes
    /// nothing.
    #[test]
    fn floats_round_trip_exactly_in_both_codecs(value in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
        for codec in [Codec::Json, Codec::Bincode] {
            let bytes = codec.encode_value(&value).unwrap();
            let back = codec.decode_value::<f64>(&bytes).unwrap();
            prop_assert_eq!(back.to_bits(), value.to_bits(), "{:?}: {}", codec, String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn record_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_record(&bytes);
        let mut framed = b"SREC\x01\x02".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = decode_record(&framed);
    }

    #[test]
    fn id_parsing_never_panics_and_accepts_only_canonical_ids(text in ".{0,64}") {
        if let Ok(id) = SessionId::parse(&text) {
            prop_assert_eq!(id.expose_secret(), text.clone());
        }
        if let Ok(key) = SessionKey::parse(&text) {
            prop_assert_eq!(key.to_hex(), text);
        }
    }

    #[test]
    fn a_43_character_text_is_an_id_or_names_its_first_foreign_byte(
        text in "[A-Za-z0-9_=+/. -]{43}",
    ) {
        let foreign = text
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        match (SessionId::parse(&text), foreign) {
            (Ok(id), None) => prop_assert_eq!(id.expose_secret(), text),
            (Err(IdError::NotCanonical), None) => {
                prop_assert!(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&text).is_err());
            }
            (Err(IdError::Alphabet { position }), Some(first)) => prop_assert_eq!(position, first),
            (other, foreign) => prop_assert!(false, "{:?} for first foreign byte {:?}", other, foreign),
        }
    }

    #[test]
    fn a_keys_hex_is_the_lowercase_hex_of_its_bytes(bytes in any::<[u8; 32]>()) {
        let key = SessionKey::from_bytes(bytes);
        prop_assert_eq!(key.to_hex(), hex::encode(bytes));
        let mut name = String::from("app:s:{");
        key.push_hex(&mut name);
        prop_assert_eq!(name, format!("app:s:{{{}", hex::encode(bytes)));
    }

    #[test]
    fn ids_round_trip_and_their_keys_are_stable(_seed in any::<u8>()) {
        let id = SessionId::generate().unwrap();
        let parsed = SessionId::parse(&id.expose_secret()).unwrap();
        prop_assert_eq!(parsed.key(), id.key());
        prop_assert_eq!(SessionKey::parse(&id.key().to_hex()).unwrap(), id.key());
    }

    #[test]
    fn change_sets_on_different_keys_merge_in_either_order(
        a in prop::collection::btree_map("a[0-9]", any::<i32>(), 1..4),
        b in prop::collection::btree_map("b[0-9]", any::<i32>(), 1..4),
    ) {
        let now = Timestamp::from_millis(1_000);
        let mut base = Record::new(SessionKey::from_bytes([7; 32]), Codec::Json, ExpiryPolicy::NEVER, now);
        base.insert("shared", &0).unwrap();
        let to_changes = |m: &BTreeMap<String, i32>| {
            let mut c = ChangeSet::default();
            for (k, v) in m { c.upsert(k.clone(), Codec::Json.encode_value(v).unwrap()); }
            c
        };
        let (ca, cb) = (to_changes(&a), to_changes(&b));
        let limits = Limits::default();
        let mut first = base.clone();
        first.apply(&ca, base.version, now, &limits).unwrap();
        first.apply(&cb, base.version, now, &limits).unwrap();
        let mut second = base.clone();
        second.apply(&cb, base.version, now, &limits).unwrap();
        second.apply(&ca, base.version, now, &limits).unwrap();
        let values = |r: &Record| r.attributes.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect::<BTreeMap<_, _>>();
        prop_assert_eq!(values(&first), values(&second));
        prop_assert_eq!(first.attributes.len(), 1 + a.len() + b.len());
        // The same keys again, from the stale version, conflict.
        let mut third = first.clone();
        prop_assert!(third.apply(&ca, base.version, now, &limits).is_err());
        prop_assert_eq!(third, first);
    }
}

fn change_set() -> impl Strategy<Value = ChangeSet> {
    (
        prop::collection::btree_map(
            "[a-c]{1,3}",
            prop::collection::vec(any::<u8>(), 0..30),
            0..4,
        ),
        prop::collection::btree_set("[a-c]{1,3}", 0..3),
        any::<bool>(),
        prop::option::of(prop::option::of("[a-z]{0,14}")),
    )
        .prop_map(|(upserts, removals, cleared, principal)| {
            let mut changes = ChangeSet {
                cleared,
                principal: match principal {
                    None => PrincipalChange::Keep,
                    Some(Some(principal)) => PrincipalChange::Set(principal),
                    Some(None) => PrincipalChange::Remove,
                },
                ..ChangeSet::default()
            };
            for key in removals {
                changes.remove(&key);
            }
            for (key, value) in upserts {
                changes.upsert(key, value);
            }
            changes
        })
}

fn limits() -> impl Strategy<Value = Limits> {
    (0usize..8, 1usize..12, 0usize..200, 1usize..15).prop_map(
        |(max_attributes, max_key_bytes, max_record_bytes, max_principal_bytes)| Limits {
            max_attributes,
            max_key_bytes,
            max_record_bytes,
            max_principal_bytes,
        },
    )
}

proptest! {
    /// `apply` checks limits before it changes anything; the model applies to a copy and
    /// checks the result, as a store that could roll back would.
    #[test]
    fn apply_is_all_or_nothing_under_limits(
        record in bincode_record(),
        changes in change_set(),
        limits in limits(),
    ) {
        let now = Timestamp::from_millis(2_000_000_000_000);
        let loaded = record.version + 100;
        let mut model = record.clone();
        model.version += 1;
        if changes.cleared {
            model.attributes.clear();
        }
        for key in &changes.removals {
            model.attributes.remove(key);
        }
        for (key, value) in &changes.upserts {
            model.attributes.insert(key.clone(), Attribute { value: value.clone(), version: model.version });
        }
        match &changes.principal {
            PrincipalChange::Keep => {}
            PrincipalChange::Set(principal) => model.principal = Some(principal.clone()),
            PrincipalChange::Remove => model.principal = None,
        }
        model.touch(now);
        let expected = model.check_limits(&limits);

        let mut applied = record.clone();
        let result = applied.apply(&changes, loaded, now, &limits);
        match expected {
            Ok(()) => {
                prop_assert!(result.is_ok(), "{result:?}");
                prop_assert_eq!(applied, model);
            }
            Err(limit) => {
                prop_assert!(matches!(result, Err(session_core::Error::Limit(ref e)) if *e == limit), "{result:?} vs {limit:?}");
                prop_assert_eq!(applied, record);
            }
        }
    }
}
