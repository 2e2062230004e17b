//! The Redis save script's additions (Lua) against `Record::apply` (Rust), the one rule every
//! store follows: on random change sets mixing additions with upserts, removals and clears,
//! over values that are and are not integers, both must agree on the outcome and the record.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "redis")]

use proptest::prelude::*;
use session_core::{
    ChangeSet, Codec, Error, ExpiryPolicy, MAX_SAFE_INTEGER, Record, SessionId, SessionStore,
    StoreConfig,
};
use session_stores::RedisStore;
use test_support::redis::RedisServer;

const NAMES: [&str; 3] = ["a", "b", "c"];

/// One server for every case (each case its own key prefix); `None`, after a loud skip, when
/// there is no redis-server.
fn server() -> Option<&'static RedisServer> {
    static SERVER: std::sync::OnceLock<Option<RedisServer>> = std::sync::OnceLock::new();
    SERVER
        .get_or_init(|| match RedisServer::start() {
            Ok(server) => Some(server),
            Err(missing) => {
                test_support::skip("redis additions test", &missing);
                None
            }
        })
        .as_ref()
}

/// A value as JSON: integers near the edges of the safe range, and things that are not
/// integers.
fn value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (-50i64..50).prop_map(|n| serde_json::json!(n)),
        Just(serde_json::json!(MAX_SAFE_INTEGER)),
        Just(serde_json::json!(-MAX_SAFE_INTEGER)),
        Just(serde_json::json!(1.5)),
        Just(serde_json::json!("7")),
    ]
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        -50i64..50,
        Just(1),
        Just(MAX_SAFE_INTEGER),
        Just(-MAX_SAFE_INTEGER - 1)
    ]
}

/// One change set: per name, nothing, an upsert, a removal or an addition (an addition may
/// also follow an upsert or a removal), and now and then a clear first.
fn change_set() -> impl Strategy<Value = ChangeSet> {
    (
        proptest::bool::weighted(0.1),
        proptest::collection::vec(
            (0u8..4, value(), proptest::option::weighted(0.6, amount())),
            NAMES.len(),
        ),
    )
        .prop_map(|(clear, per_name)| {
            let mut changes = ChangeSet::default();
            if clear {
                changes.clear();
            }
            for (name, (kind, value, amount)) in NAMES.iter().zip(per_name) {
                match kind {
                    1 => changes.upsert((*name).into(), serde_json::to_vec(&value).unwrap()),
                    2 => changes.remove(name),
                    _ => {}
                }
                if let Some(amount) = amount {
                    changes.add((*name).into(), amount);
                }
            }
            changes
        })
}

/// What a save came to, comparable across the two implementations.
fn outcome(result: &Result<u64, Error>) -> String {
    match result {
        Ok(version) => format!("saved at version {version}"),
        Err(Error::Addition { attribute, .. }) => format!("addition to {attribute} refused"),
        Err(Error::Conflict { .. }) => "conflict".into(),
        Err(other) => format!("{other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_script_adds_as_record_apply_does(
        initial in proptest::collection::vec(proptest::option::of(value()), NAMES.len()),
        steps in proptest::collection::vec(change_set(), 1..6),
    ) {
        let Some(server) = server() else {
            return Ok(());
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let config = StoreConfig::default();
            let store = RedisStore::builder()
                .prefix(format!("t{}:", SessionId::generate().unwrap().key().short()))
                .config(config.clone())
                .connect(&server.url())
                .await
                .unwrap();
            let mut expected = Record::new(
                SessionId::generate().unwrap().key(),
                Codec::Json,
                ExpiryPolicy::idle(std::time::Duration::from_secs(600)),
                config.now(),
            );
            for (name, value) in NAMES.iter().zip(&initial) {
                if let Some(value) = value {
                    expected.insert(name, value).unwrap();
                }
            }
            store.create(&expected).await.unwrap();
            for changes in &steps {
                let loaded = expected.version;
                let mut applied = expected.clone();
                let local = applied
                    .apply(changes, loaded, config.now(), &config.limits)
                    .map(|()| applied.version);
                let remote = store.save(&expected.key, changes, loaded).await;
                prop_assert_eq!(outcome(&remote), outcome(&local), "{:?}", changes);
                if local.is_ok() {
                    expected = applied;
                }
                let stored = store.load(&expected.key).await.unwrap().unwrap();
                prop_assert_eq!(&stored.attributes, &expected.attributes, "{:?}", changes);
                prop_assert_eq!(stored.version, expected.version);
            }
            Ok(())
        })?;
    }
}
