//! Properties of the addition rule `Record::apply` follows (and every store with it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use proptest::prelude::*;
use session_core::{
    ChangeSet, Codec, Error, ExpiryPolicy, Limits, MAX_SAFE_INTEGER, Record, SessionKey, Timestamp,
    parse_json_integer,
};

fn record_with(value: &serde_json::Value) -> Record {
    let mut record = Record::new(
        SessionKey::from_bytes([7; 32]),
        Codec::Json,
        ExpiryPolicy::idle(Duration::from_secs(600)),
        Timestamp::from_millis(1_000),
    );
    record.insert("n", value).unwrap();
    record
}

fn addition(amount: i64) -> ChangeSet {
    let mut changes = ChangeSet::default();
    changes.add("n".into(), amount);
    changes
}

fn safe() -> impl Strategy<Value = i64> {
    prop_oneof![
        -1000i64..1000,
        -MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER,
        Just(MAX_SAFE_INTEGER),
        Just(-MAX_SAFE_INTEGER),
    ]
}

const NOW: Timestamp = Timestamp::from_millis(2_000);

proptest! {
    #[test]
    fn an_addition_is_the_sum_or_a_refusal_that_changes_nothing(x in safe(), amount in any::<i64>()) {
        let before = record_with(&serde_json::json!(x));
        let mut after = before.clone();
        let result = after.apply(&addition(amount), before.version, NOW, &Limits::default());
        let sum = i128::from(x) + i128::from(amount);
        let in_range = |v: i128| v.abs() <= i128::from(MAX_SAFE_INTEGER);
        if in_range(i128::from(amount)) && in_range(sum) {
            prop_assert!(result.is_ok(), "{result:?}");
            prop_assert_eq!(after.get::<i128>("n").unwrap(), Some(sum));
            prop_assert_eq!(after.version, before.version + 1);
        } else {
            prop_assert!(matches!(result, Err(Error::Addition { .. })), "{result:?}");
            prop_assert_eq!(after, before);
        }
    }

    #[test]
    fn additions_from_any_stale_version_all_count(
        start in -1000i64..1000,
        steps in proptest::collection::vec((-1000i64..1000, 0u64..4), 1..20),
    ) {
        let mut record = record_with(&serde_json::json!(start));
        for (amount, behind) in &steps {
            // Each writer loaded the record some versions ago.
            let loaded = record.version.saturating_sub(*behind).max(1);
            let version = record.version;
            record.apply(&addition(*amount), loaded, NOW, &Limits::default()).unwrap();
            prop_assert_eq!(record.version, version + 1);
        }
        let total: i64 = start + steps.iter().map(|(amount, _)| amount).sum::<i64>();
        prop_assert_eq!(record.get::<i64>("n").unwrap(), Some(total));
    }

    #[test]
    fn a_fresh_addition_is_the_upsert_of_the_sum(x in -1_000_000i64..1_000_000, amount in -1_000_000i64..1_000_000) {
        let base = record_with(&serde_json::json!(x));
        let (mut added, mut upserted) = (base.clone(), base.clone());
        added.apply(&addition(amount), base.version, NOW, &Limits::default()).unwrap();
        let mut set = ChangeSet::default();
        set.upsert("n".into(), Codec::Json.encode_value(&(x + amount)).unwrap());
        upserted.apply(&set, base.version, NOW, &Limits::default()).unwrap();
        prop_assert_eq!(added, upserted);
    }

    #[test]
    fn values_that_are_not_integers_refuse_additions(value in prop_oneof![
        any::<f64>().prop_filter("not integral", |f| f.fract() != 0.0).prop_map(|f| serde_json::json!(f)),
        "\\PC{0,8}".prop_map(serde_json::Value::String),
        any::<bool>().prop_map(serde_json::Value::Bool),
        Just(serde_json::Value::Null),
        Just(serde_json::json!([1])),
        Just(serde_json::json!({"n": 1})),
    ]) {
        let before = record_with(&value);
        let mut after = before.clone();
        let result = after.apply(&addition(1), before.version, NOW, &Limits::default());
        prop_assert!(matches!(result, Err(Error::Addition { .. })), "{value}: {result:?}");
        prop_assert_eq!(after, before);
    }

    #[test]
    fn the_integer_grammar_is_json_integers_as_serde_json_writes_them(text in "-?[0-9]{0,18}|[-+ .e0-9]{0,6}") {
        let reference = serde_json::from_str::<i64>(&text)
            .ok()
            .filter(|n| n.abs() <= MAX_SAFE_INTEGER && n.to_string() == text)
            // JSON's grammar has "-0" (serde_json reads it as a float); it is the integer 0.
            .or((text == "-0").then_some(0));
        prop_assert_eq!(parse_json_integer(text.as_bytes()), reference);
    }
}

#[test]
fn additions_need_the_json_codec() {
    let mut record = record_with(&serde_json::json!(1));
    record.codec = Codec::Bincode;
    record.attributes.clear();
    let before = record.clone();
    let result = record.apply(&addition(1), before.version, NOW, &Limits::default());
    assert!(matches!(result, Err(Error::Addition { .. })), "{result:?}");
    assert_eq!(record, before);
}
