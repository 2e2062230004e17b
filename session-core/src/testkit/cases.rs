//! The contract cases. Each builds a fresh store through the factory and panics, with a
//! message naming the store and the broken promise, when the store breaks the contract.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use crate::change_set::{ChangeSet, PrincipalChange};
use crate::codec::Codec;
use crate::error::Error;
use crate::expiry::ExpiryPolicy;
use crate::id::{SessionId, SessionKey};
use crate::limits::LimitError;
use crate::principal_limit::{PrincipalLimit, WhenFull};
use crate::record::Record;
use crate::store::{PageRequest, PrincipalIndex, SessionStore, StoreConfig, TouchOutcome};

use super::fixture::{Fixture, fresh_key};

const MINUTE: Duration = Duration::from_secs(60);

fn json(value: &str) -> Vec<u8> {
    Codec::Json
        .encode_value(value)
        .unwrap_or_else(|e| panic!("encoding a test value: {e}"))
}

fn upserts(pairs: &[(&str, &str)]) -> ChangeSet {
    let mut changes = ChangeSet::default();
    for (name, value) in pairs {
        changes.upsert((*name).to_owned(), json(value));
    }
    changes
}

fn principal_change(principal: Option<&str>) -> ChangeSet {
    ChangeSet {
        principal: PrincipalChange::to(principal.map(str::to_owned)),
        ..ChangeSet::default()
    }
}

fn text(record: &Record, name: &str) -> Option<String> {
    record
        .get::<String>(name)
        .unwrap_or_else(|e| panic!("decoding attribute {name}: {e}"))
}

fn idle(minutes: u64) -> ExpiryPolicy {
    ExpiryPolicy::idle(MINUTE * minutes as u32)
}

fn index<S: SessionStore>(store: &S) -> &dyn PrincipalIndex {
    store.principal_index().unwrap_or_else(|| {
        panic!(
            "{} store has no principal index (SessionStore::principal_index returned None)",
            store.name()
        )
    })
}

async fn keys_of<S: SessionStore>(store: &S, principal: &str) -> Vec<SessionKey> {
    index(store)
        .sessions_of(principal)
        .await
        .unwrap_or_else(|e| panic!("{} store: sessions_of failed: {e}", store.name()))
        .into_iter()
        .map(|r| r.key)
        .collect()
}

macro_rules! case {
    ($(#[$doc:meta])* $name:ident($fx:ident) $body:block) => {
        $(#[$doc])*
        pub async fn $name<S, G, F, Fut>(factory: F)
        where
            S: SessionStore,
            F: FnOnce(StoreConfig) -> Fut,
            Fut: Future<Output = (S, G)>,
        {
            #[allow(unused_mut)]
            let mut $fx = Fixture::build(factory, None).await;
            $body
        }
    };
    ($(#[$doc:meta])* $name:ident($fx:ident, limit = $limit:expr) $body:block) => {
        $(#[$doc])*
        pub async fn $name<S, G, F, Fut>(factory: F)
        where
            S: SessionStore,
            F: FnOnce(StoreConfig) -> Fut,
            Fut: Future<Output = (S, G)>,
        {
            let $fx = Fixture::build(factory, Some($limit)).await;
            $body
        }
    };
}

case! {
    /// A created record loads back exactly as it was stored.
    create_then_load_round_trips(fx) {
        let record = fx.stored(idle(30), Some("alice"), &[("a", "1"), ("b", "two")]).await;
        let loaded = fx.load(&record.key).await;
        assert_eq!(loaded.as_ref(), Some(&record), "{}: load must return the created record", fx.store.name());
    }
}

case! {
    /// `create` never overwrites a live record.
    create_is_insert_only(fx) {
        let record = fx.stored(idle(30), None, &[("a", "original")]).await;
        let mut rival = record.clone();
        rival.insert("a", "overwritten").unwrap_or_else(|e| panic!("{e}"));
        let result = fx.store.create(&rival).await;
        assert!(matches!(result, Err(Error::AlreadyExists { .. })), "{}: second create must fail with AlreadyExists, got {result:?}", fx.store.name());
        let loaded = fx.load(&record.key).await.unwrap_or_else(|| panic!("record vanished"));
        assert_eq!(text(&loaded, "a").as_deref(), Some("original"));
    }
}

case! {
    /// Unknown keys load as `None`.
    load_of_unknown_key_is_none(fx) {
        assert_eq!(fx.load(&fresh_key()).await, None);
    }
}

case! {
    /// Idle timeout: alive just before, gone at the instant of expiry, without any sweep.
    idle_timeout_expires_unused_sessions(fx) {
        let record = fx.stored(idle(30), None, &[("a", "1")]).await;
        fx.advance(MINUTE * 30 - Duration::from_millis(1));
        assert!(fx.load(&record.key).await.is_some(), "{}: alive 1 ms before idle expiry", fx.store.name());
        fx.advance(Duration::from_millis(1));
        assert_eq!(fx.load(&record.key).await, None, "{}: expired records are never returned", fx.store.name());
        assert_eq!(fx.store.count().await.ok(), Some(0), "{}: expired records are not counted", fx.store.name());
    }
}

case! {
    /// Absolute timeout ends a session however often it is touched.
    absolute_timeout_ends_active_sessions(fx) {
        let record = fx.stored(ExpiryPolicy::absolute(MINUTE * 60), None, &[]).await;
        for _ in 0..5 {
            fx.advance(MINUTE * 11);
            let touched = fx.store.touch(&record.key).await.unwrap_or_else(|e| panic!("touch: {e}"));
            assert_eq!(touched, TouchOutcome::Touched { expires_at: Some(record.created_at.saturating_add(MINUTE * 60)) });
        }
        fx.advance(MINUTE * 5 - Duration::from_millis(1));
        assert!(fx.load(&record.key).await.is_some());
        fx.advance(Duration::from_millis(1));
        assert_eq!(fx.load(&record.key).await, None, "{}: absolute timeout must end the session", fx.store.name());
    }
}

case! {
    /// With both timeouts, whichever comes first ends the session.
    idle_and_absolute_together_take_the_earlier(fx) {
        let both = idle(30).with_absolute(MINUTE * 60);
        let active = fx.stored(both, None, &[]).await;
        let idle_one = fx.stored(both, None, &[]).await;
        fx.advance(MINUTE * 20);
        fx.store.touch(&active.key).await.unwrap_or_else(|e| panic!("touch: {e}"));
        fx.advance(MINUTE * 20);
        fx.store.touch(&active.key).await.unwrap_or_else(|e| panic!("touch: {e}"));
        assert_eq!(fx.load(&idle_one.key).await, None, "{}: idle timeout came first for the untouched session", fx.store.name());
        fx.advance(MINUTE * 19);
        assert!(fx.load(&active.key).await.is_some());
        fx.advance(MINUTE);
        assert_eq!(fx.load(&active.key).await, None, "{}: absolute timeout came first for the active session", fx.store.name());
    }
}

case! {
    /// Records without an expiry policy live until deleted.
    sessions_without_expiry_live_on(fx) {
        let record = fx.stored(ExpiryPolicy::NEVER, None, &[("a", "1")]).await;
        fx.advance(Duration::from_secs(10 * 365 * 24 * 3600));
        assert!(fx.load(&record.key).await.is_some());
        assert_eq!(fx.store.touch(&record.key).await.ok(), Some(TouchOutcome::Touched { expires_at: None }));
    }
}

case! {
    /// A touch moves the idle expiry and nothing else: same data, same version.
    touch_extends_idle_expiry_without_rewriting(fx) {
        let record = fx.stored(idle(30), Some("alice"), &[("a", "1")]).await;
        fx.advance(MINUTE * 20);
        let now = fx.now();
        let touched = fx.store.touch(&record.key).await.unwrap_or_else(|e| panic!("touch: {e}"));
        assert_eq!(touched, TouchOutcome::Touched { expires_at: Some(now.saturating_add(MINUTE * 30)) });
        let loaded = fx.load(&record.key).await.unwrap_or_else(|| panic!("touched record vanished"));
        assert_eq!(loaded.version, record.version, "{}: touch must not bump the version", fx.store.name());
        assert_eq!(loaded.attributes, record.attributes);
        assert_eq!(loaded.last_access, now);
        fx.advance(MINUTE * 29);
        assert!(fx.load(&record.key).await.is_some(), "{}: touch must extend the idle expiry", fx.store.name());
        fx.advance(MINUTE);
        assert_eq!(fx.load(&record.key).await, None);
    }
}

case! {
    /// Touching what is not there (or expired) reports `None` and brings nothing back.
    touch_of_missing_or_expired_session_is_none(fx) {
        assert_eq!(fx.store.touch(&fresh_key()).await.ok(), Some(TouchOutcome::Missing));
        let record = fx.stored(idle(10), None, &[]).await;
        fx.advance(MINUTE * 10);
        assert_eq!(fx.store.touch(&record.key).await.ok(), Some(TouchOutcome::Missing), "{}: an expired record cannot be touched", fx.store.name());
        assert_eq!(fx.load(&record.key).await, None, "{}: a touch must not revive an expired record", fx.store.name());
    }
}

case! {
    /// `save` applies upserts, removals, principal and expiry changes, and bumps the version.
    save_applies_change_set_and_bumps_version(fx) {
        let record = fx.stored(idle(30), None, &[("a", "x"), ("b", "y")]).await;
        fx.advance(MINUTE);
        let mut changes = upserts(&[("a", "x2"), ("c", "z")]);
        changes.remove("b");
        changes.principal = PrincipalChange::Set("bob".into());
        changes.expiry = Some(idle(45));
        let version = fx.store.save(&record.key, &changes, record.version).await.unwrap_or_else(|e| panic!("save: {e}"));
        assert_eq!(version, record.version + 1);
        let loaded = fx.load(&record.key).await.unwrap_or_else(|| panic!("saved record vanished"));
        assert_eq!(loaded.version, version);
        assert_eq!(text(&loaded, "a").as_deref(), Some("x2"));
        assert_eq!(text(&loaded, "b"), None);
        assert_eq!(text(&loaded, "c").as_deref(), Some("z"));
        assert_eq!(loaded.principal.as_deref(), Some("bob"));
        assert_eq!(loaded.expiry, idle(45));
        assert_eq!(loaded.last_access, fx.now(), "{}: a save counts as an access", fx.store.name());
        assert_eq!(loaded.attributes.get("a").map(|a| a.version), Some(version));
    }
}

case! {
    /// 64 writers that loaded the same version and change different keys all win.
    concurrent_saves_of_different_keys_all_survive(fx) {
        let record = fx.stored(idle(30), None, &[("base", "kept")]).await;
        let mut tasks = Vec::new();
        for i in 0..64 {
            let store = fx.store.clone();
            let key = record.key;
            let version = record.version;
            tasks.push(tokio::spawn(async move {
                let changes = upserts(&[(&format!("k{i}"), &format!("v{i}"))]);
                store.save(&key, &changes, version).await
            }));
        }
        for task in tasks {
            let result = task.await.unwrap_or_else(|e| panic!("writer task panicked: {e}"));
            assert!(result.is_ok(), "{}: a save of a different key must merge, got {result:?}", fx.store.name());
        }
        let loaded = fx.load(&record.key).await.unwrap_or_else(|| panic!("record vanished"));
        for i in 0..64 {
            assert_eq!(text(&loaded, &format!("k{i}")), Some(format!("v{i}")), "{}: lost update of k{i}", fx.store.name());
        }
        assert_eq!(text(&loaded, "base").as_deref(), Some("kept"));
        assert_eq!(loaded.version, record.version + 64);
    }
}

case! {
    /// A writer that changes a key someone else changed after its load is refused, atomically.
    stale_save_of_same_key_is_a_conflict_and_changes_nothing(fx) {
        let record = fx.stored(idle(30), None, &[("a", "0"), ("b", "0")]).await;
        fx.store.save(&record.key, &upserts(&[("a", "1")]), record.version).await.unwrap_or_else(|e| panic!("first save: {e}"));
        let stale = fx.store.save(&record.key, &upserts(&[("a", "2"), ("b", "2")]), record.version).await;
        assert!(matches!(stale, Err(Error::Conflict { .. })), "{}: stale write of the same key must conflict, got {stale:?}", fx.store.name());
        let loaded = fx.load(&record.key).await.unwrap_or_else(|| panic!("record vanished"));
        assert_eq!(text(&loaded, "a").as_deref(), Some("1"));
        assert_eq!(text(&loaded, "b").as_deref(), Some("0"), "{}: a refused change set must change nothing", fx.store.name());
        let other = fx.store.save(&record.key, &upserts(&[("b", "3")]), record.version).await;
        assert!(other.is_ok(), "{}: a stale write of an untouched key still merges, got {other:?}", fx.store.name());
    }
}

fn additions(pairs: &[(&str, i64)]) -> ChangeSet {
    let mut changes = ChangeSet::default();
    for (name, amount) in pairs {
        changes.add((*name).to_owned(), *amount);
    }
    changes
}

fn integer(record: &Record, name: &str) -> Option<i64> {
    record
        .get::<i64>(name)
        .unwrap_or_else(|e| panic!("decoding attribute {name}: {e}"))
}

case! {
    /// Additions add to the integer stored when the save happens (absent counts as 0), so
    /// concurrent additions from one loaded version all count; they conflict with nothing,
    /// and a stale upsert of the attribute still conflicts with them.
    additions_add_up_and_never_conflict(fx) {
        let mut record = fx.record(idle(30));
        record.insert("n", &5).unwrap_or_else(|e| panic!("{e}"));
        fx.store.create(&record).await.unwrap_or_else(|e| panic!("create: {e}"));
        let loaded = record.version;
        for amount in [2, 3, -1] {
            let saved = fx.store.save(&record.key, &additions(&[("n", amount), ("m", amount)]), loaded).await;
            assert!(saved.is_ok(), "{}: an addition from a stale version must not conflict, got {saved:?}", fx.store.name());
        }
        let after = fx.load(&record.key).await.unwrap_or_else(|| panic!("record vanished"));
        assert_eq!(integer(&after, "n"), Some(5 + 2 + 3 - 1), "{}: every addition counts", fx.store.name());
        assert_eq!(integer(&after, "m"), Some(2 + 3 - 1), "{}: an absent attribute counts as 0", fx.store.name());
        assert_eq!(after.version, loaded + 3);
        let mut stale = ChangeSet::default();
        stale.upsert("n".into(), Codec::Json.encode_value(&100).unwrap_or_default());
        let refused = fx.store.save(&record.key, &stale, loaded).await;
        assert!(matches!(refused, Err(Error::Conflict { .. })), "{}: a stale upsert of an added-to attribute must conflict, got {refused:?}", fx.store.name());
        let mut both = upserts(&[("t", "x")]);
        both.upsert("n".into(), Codec::Json.encode_value(&100).unwrap_or_default());
        both.add("n".into(), 1);
        both.remove("t");
        both.add("t".into(), 7);
        fx.store.save(&record.key, &both, after.version).await.unwrap_or_else(|e| panic!("fresh save: {e}"));
        let last = fx.load(&record.key).await.unwrap_or_else(|| panic!("record vanished"));
        assert_eq!(integer(&last, "n"), Some(101), "{}: an addition applies after the change set's upsert", fx.store.name());
        assert_eq!(integer(&last, "t"), Some(7), "{}: an addition after a removal starts from 0", fx.store.name());
    }
}

case! {
    /// An addition to something that is not a safe JSON integer, or one whose sum leaves
    /// ±(2^53 - 1), refuses the whole change set.
    refused_additions_change_nothing(fx) {
        let mut record = fx.record(idle(30));
        record.insert("text", "seven").unwrap_or_else(|e| panic!("{e}"));
        record.insert("float", &1.5).unwrap_or_else(|e| panic!("{e}"));
        record.insert("big", &crate::MAX_SAFE_INTEGER).unwrap_or_else(|e| panic!("{e}"));
        fx.store.create(&record).await.unwrap_or_else(|e| panic!("create: {e}"));
        for (name, amount) in [("text", 1), ("float", 1), ("big", 1), ("fresh", crate::MAX_SAFE_INTEGER + 1)] {
            let mut changes = additions(&[(name, amount)]);
            changes.upsert("other".into(), json("written"));
            let result = fx.store.save(&record.key, &changes, record.version).await;
            assert!(matches!(result, Err(Error::Addition { .. })), "{}: adding {amount} to {name:?} must be refused, got {result:?}", fx.store.name());
            let loaded = fx.load(&record.key).await.unwrap_or_else(|| panic!("record vanished"));
            assert_eq!(loaded, record, "{}: a refused addition must change nothing", fx.store.name());
        }
    }
}

case! {
    /// Clearing must not drop what another writer stored after the load.
    stale_clear_is_a_conflict(fx) {
        let record = fx.stored(idle(30), None, &[("a", "0")]).await;
        let v2 = fx.store.save(&record.key, &upserts(&[("b", "new")]), record.version).await.unwrap_or_else(|e| panic!("save: {e}"));
        let mut clear = ChangeSet::default();
        clear.clear();
        let stale = fx.store.save(&record.key, &clear, record.version).await;
        assert!(matches!(stale, Err(Error::Conflict { .. })), "{}: stale clear must conflict, got {stale:?}", fx.store.name());
        assert!(fx.load(&record.key).await.is_some_and(|r| r.attributes.len() == 2));
        fx.store.save(&record.key, &clear, v2).await.unwrap_or_else(|e| panic!("fresh clear: {e}"));
        assert!(fx.load(&record.key).await.is_some_and(|r| r.attributes.is_empty()));
    }
}

case! {
    /// A save to a deleted session fails with `Gone` and does not recreate it.
    save_after_delete_never_resurrects(fx) {
        let record = fx.stored(idle(30), Some("alice"), &[("a", "1")]).await;
        assert!(fx.store.delete(&record.key).await.unwrap_or_else(|e| panic!("delete: {e}")));
        let result = fx.store.save(&record.key, &upserts(&[("a", "2")]), record.version).await;
        assert!(matches!(result, Err(Error::Gone { .. })), "{}: save after delete must be Gone, got {result:?}", fx.store.name());
        assert_eq!(fx.load(&record.key).await, None, "{}: a deleted session came back", fx.store.name());
        assert_eq!(fx.store.count().await.ok(), Some(0));
    }
}

case! {
    /// A save to an expired session fails with `Gone` and does not revive it.
    save_after_expiry_never_resurrects(fx) {
        let record = fx.stored(idle(10), None, &[("a", "1")]).await;
        fx.advance(MINUTE * 10);
        let result = fx.store.save(&record.key, &upserts(&[("a", "2")]), record.version).await;
        assert!(matches!(result, Err(Error::Gone { .. })), "{}: save after expiry must be Gone, got {result:?}", fx.store.name());
        assert_eq!(fx.load(&record.key).await, None);
    }
}

case! {
    /// A logout racing many writes leaves the session gone, whatever the interleaving.
    logout_racing_writes_never_resurrects(fx) {
        for _round in 0..4 {
            let record = fx.stored(idle(30), None, &[]).await;
            let mut tasks = Vec::new();
            for i in 0..32 {
                let store = fx.store.clone();
                let (key, version) = (record.key, record.version);
                tasks.push(tokio::spawn(async move {
                    store.save(&key, &upserts(&[(&format!("k{i}"), "v")]), version).await.map(|_| ())
                }));
            }
            let store = fx.store.clone();
            let key = record.key;
            let logout = tokio::spawn(async move { store.delete(&key).await });
            for task in tasks {
                match task.await.unwrap_or_else(|e| panic!("writer panicked: {e}")) {
                    Ok(()) | Err(Error::Gone { .. }) => {}
                    Err(other) => panic!("{}: racing save failed with {other}", fx.store.name()),
                }
            }
            let deleted = logout.await.unwrap_or_else(|e| panic!("logout panicked: {e}"));
            assert!(deleted.is_ok_and(|d| d), "{}: the logout must find the session", fx.store.name());
            assert_eq!(fx.load(&record.key).await, None, "{}: a racing save resurrected the session", fx.store.name());
        }
    }
}

case! {
    /// `cycle_id` moves data, principal and version to the new key; the old key is gone.
    cycle_id_moves_the_record(fx) {
        let record = fx.stored(idle(30), Some("alice"), &[("a", "1")]).await;
        let new = fresh_key();
        fx.store.cycle_id(&record.key, &new).await.unwrap_or_else(|e| panic!("cycle_id: {e}"));
        assert_eq!(fx.load(&record.key).await, None, "{}: the old key must be gone", fx.store.name());
        let moved = fx.load(&new).await.unwrap_or_else(|| panic!("{}: the new key must hold the record", fx.store.name()));
        assert_eq!(moved.attributes, record.attributes);
        assert_eq!(moved.principal, record.principal);
        assert_eq!(moved.created_at, record.created_at);
        assert_eq!(moved.version, record.version);
        let stale = fx.store.save(&record.key, &upserts(&[("a", "2")]), record.version).await;
        assert!(matches!(stale, Err(Error::Gone { .. })), "{}: writes to the old key must be Gone", fx.store.name());
        assert_eq!(fx.load(&record.key).await, None);
        fx.store.save(&new, &upserts(&[("a", "2")]), moved.version).await.unwrap_or_else(|e| panic!("save to new key: {e}"));
        if let Some(index) = fx.store.principal_index() {
            let keys: Vec<SessionKey> = index.sessions_of("alice").await.unwrap_or_default().into_iter().map(|r| r.key).collect();
            assert_eq!(keys, vec![new], "{}: the principal index must follow the new key", fx.store.name());
        }
    }
}

case! {
    /// Cycling a missing or expired session is `Gone` and creates nothing.
    cycle_id_of_missing_session_is_gone(fx) {
        let new = fresh_key();
        let result = fx.store.cycle_id(&fresh_key(), &new).await;
        assert!(matches!(result, Err(Error::Gone { .. })), "{}: got {result:?}", fx.store.name());
        let record = fx.stored(idle(5), None, &[("a", "1")]).await;
        fx.advance(MINUTE * 5);
        let result = fx.store.cycle_id(&record.key, &new).await;
        assert!(matches!(result, Err(Error::Gone { .. })), "{}: cycling an expired session must be Gone, got {result:?}", fx.store.name());
        assert_eq!(fx.load(&new).await, None, "{}: a failed cycle must not create the new key", fx.store.name());
    }
}

case! {
    /// `delete` says whether it ended a live session.
    delete_reports_whether_a_live_session_was_removed(fx) {
        let record = fx.stored(idle(10), None, &[]).await;
        assert_eq!(fx.store.delete(&record.key).await.ok(), Some(true));
        assert_eq!(fx.store.delete(&record.key).await.ok(), Some(false));
        let expired = fx.stored(idle(10), None, &[]).await;
        fx.advance(MINUTE * 10);
        assert_eq!(fx.store.delete(&expired.key).await.ok(), Some(false), "{}: deleting an expired record ends no live session", fx.store.name());
    }
}

case! {
    /// The sweep removes expired records and keeps the others.
    delete_expired_sweeps_only_expired_records(fx) {
        for _ in 0..3 {
            fx.stored(idle(10), Some("alice"), &[("a", "1")]).await;
        }
        let mut live = BTreeSet::new();
        for _ in 0..2 {
            live.insert(fx.stored(idle(60), Some("alice"), &[]).await.key);
        }
        fx.advance(MINUTE * 20);
        let swept = fx.store.delete_expired().await.unwrap_or_else(|e| panic!("delete_expired: {e}"));
        assert_eq!(swept, 3, "{}: three records had expired", fx.store.name());
        assert_eq!(fx.store.count().await.ok(), Some(2));
        let listed: BTreeSet<SessionKey> = fx.store.list(PageRequest::first(10)).await.unwrap_or_else(|e| panic!("list: {e}")).records.into_iter().map(|r| r.key).collect();
        assert_eq!(listed, live);
        assert_eq!(fx.store.delete_expired().await.ok(), Some(0), "{}: a second sweep finds nothing", fx.store.name());
    }
}

case! {
    /// `list` pages through every live record once, in ascending key order.
    list_pages_through_live_records_in_key_order(fx) {
        let mut created = BTreeSet::new();
        for _ in 0..25 {
            created.insert(fx.stored(ExpiryPolicy::NEVER, None, &[]).await.key);
        }
        fx.stored(idle(1), None, &[]).await;
        fx.advance(MINUTE * 2);
        let mut seen = Vec::new();
        let mut request = Some(PageRequest::first(10));
        let mut pages = 0;
        while let Some(page_request) = request {
            let page = fx.store.list(page_request).await.unwrap_or_else(|e| panic!("list: {e}"));
            assert!(page.records.len() <= 10);
            seen.extend(page.records.into_iter().map(|r| r.key));
            request = page.next;
            pages += 1;
            assert!(pages <= 4, "{}: paging does not end", fx.store.name());
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(seen, sorted, "{}: pages must be in ascending key order without repeats", fx.store.name());
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), created, "{}: every live record exactly once; expired ones never", fx.store.name());
        assert_eq!(fx.store.count().await.ok(), Some(25));
    }
}

case! {
    /// Limits hold on create and on save, and a refused save changes nothing.
    record_limits_are_enforced(fx) {
        let mut too_many = fx.record(idle(30));
        for i in 0..101 {
            too_many.insert(&format!("k{i}"), "v").unwrap_or_else(|e| panic!("{e}"));
        }
        let result = fx.store.create(&too_many).await;
        assert!(matches!(result, Err(Error::Limit(LimitError::Attributes { .. }))), "{}: got {result:?}", fx.store.name());
        assert_eq!(fx.load(&too_many.key).await, None);

        let record = fx.stored(idle(30), None, &[("a", "1")]).await;
        let big = "x".repeat(17 * 1024);
        let result = fx.store.save(&record.key, &upserts(&[("big", &big)]), record.version).await;
        assert!(matches!(result, Err(Error::Limit(LimitError::RecordSize { .. }))), "{}: got {result:?}", fx.store.name());
        let long_name = "n".repeat(65);
        let result = fx.store.save(&record.key, &upserts(&[(&long_name, "v")]), record.version).await;
        assert!(matches!(result, Err(Error::Limit(LimitError::KeyLength { .. }))), "{}: got {result:?}", fx.store.name());
        let principal = principal_change(Some(&"p".repeat(65)));
        let result = fx.store.save(&record.key, &principal, record.version).await;
        assert!(matches!(result, Err(Error::Limit(LimitError::PrincipalLength { .. }))), "{}: got {result:?}", fx.store.name());
        let loaded = fx.load(&record.key).await.unwrap_or_else(|| panic!("record vanished"));
        assert_eq!(loaded, record, "{}: refused saves must change nothing", fx.store.name());
    }
}

case! {
    /// Bad ids never reach a store; keys at the edges of the key space behave like any other.
    malformed_ids_are_rejected_before_any_store_access(fx) {
        let hostile = [
            "", "../../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\0",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "ÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅ", "*", "{x}",
        ];
        for text in hostile {
            assert!(SessionId::parse(text).is_err(), "{text:?} must not parse as a session id");
            assert!(SessionKey::parse(text).is_err(), "{text:?} must not parse as a session key");
        }
        for edge in [SessionKey::from_bytes([0; 32]), SessionKey::from_bytes([0xff; 32])] {
            assert_eq!(fx.load(&edge).await, None);
            assert_eq!(fx.store.touch(&edge).await.ok(), Some(TouchOutcome::Missing));
            assert_eq!(fx.store.delete(&edge).await.ok(), Some(false));
            let result = fx.store.save(&edge, &upserts(&[("a", "1")]), 1).await;
            assert!(matches!(result, Err(Error::Gone { .. })), "{}: got {result:?}", fx.store.name());
            let mut record = fx.record(idle(5));
            record.key = edge;
            fx.store.create(&record).await.unwrap_or_else(|e| panic!("{}: create at an edge key: {e}", fx.store.name()));
            assert_eq!(fx.load(&edge).await, Some(record));
        }
    }
}

case! {
    /// Values come back byte for byte, in both codecs, through create and save.
    values_round_trip_byte_for_byte_in_both_codecs(fx) {
        let mut binary = Record::new(fresh_key(), Codec::Bincode, idle(30), fx.now());
        binary.insert("numbers", &vec![0u64, 1, u64::MAX]).unwrap_or_else(|e| panic!("{e}"));
        binary.insert("bytes", &(0u8..=255).collect::<Vec<u8>>()).unwrap_or_else(|e| panic!("{e}"));
        binary.insert("text", "smörgåsbord ✓ \u{0} \"quoted\"").unwrap_or_else(|e| panic!("{e}"));
        fx.store.create(&binary).await.unwrap_or_else(|e| panic!("create: {e}"));
        assert_eq!(fx.load(&binary.key).await.as_ref(), Some(&binary), "{}: bincode record changed", fx.store.name());
        let mut changes = ChangeSet::default();
        changes.upsert("more".into(), Codec::Bincode.encode_value(&(7u8, -3i64)).unwrap_or_else(|e| panic!("{e}")));
        fx.store.save(&binary.key, &changes, binary.version).await.unwrap_or_else(|e| panic!("save: {e}"));
        let loaded = fx.load(&binary.key).await.unwrap_or_else(|| panic!("record vanished"));
        assert_eq!(loaded.codec, Codec::Bincode);
        assert_eq!(loaded.get::<(u8, i64)>("more").ok().flatten(), Some((7, -3)));
        assert_eq!(loaded.get::<Vec<u8>>("bytes").ok().flatten(), Some((0u8..=255).collect()));

        let mut document = Record::new(fresh_key(), Codec::Json, idle(30), fx.now());
        let value = serde_json::json!({"nested": {"list": [1, 2.5, null, true], "text": "å\n\"x\""}});
        document.insert("doc", &value).unwrap_or_else(|e| panic!("{e}"));
        fx.store.create(&document).await.unwrap_or_else(|e| panic!("create: {e}"));
        let loaded = fx.load(&document.key).await.unwrap_or_else(|| panic!("record vanished"));
        assert_eq!(loaded.get::<serde_json::Value>("doc").ok().flatten(), Some(value));
    }
}

case! {
    /// The principal index lists a principal's sessions (least recently used first) and
    /// revokes them all but one.
    principal_index_finds_and_revokes_sessions(fx) {
        let a1 = fx.stored(idle(30), Some("alice"), &[]).await.key;
        fx.advance(MINUTE);
        let a2 = fx.stored(idle(30), Some("alice"), &[]).await.key;
        fx.advance(MINUTE);
        let a3 = fx.stored(idle(30), Some("alice"), &[]).await.key;
        let bob = fx.stored(idle(30), Some("bob"), &[]).await.key;
        fx.advance(MINUTE);
        fx.store.touch(&a1).await.unwrap_or_else(|e| panic!("touch: {e}"));
        assert_eq!(keys_of(&*fx.store, "alice").await, vec![a2, a3, a1]);
        assert_eq!(keys_of(&*fx.store, "nobody").await, Vec::<SessionKey>::new());
        let revoked = index(&*fx.store).revoke_all("alice", Some(&a3)).await.unwrap_or_else(|e| panic!("revoke_all: {e}"));
        assert_eq!(revoked, 2);
        assert_eq!(fx.load(&a1).await, None);
        assert_eq!(fx.load(&a2).await, None);
        assert!(fx.load(&a3).await.is_some(), "{}: the kept session must survive", fx.store.name());
        assert!(fx.load(&bob).await.is_some(), "{}: other principals are untouched", fx.store.name());
        assert_eq!(keys_of(&*fx.store, "alice").await, vec![a3]);
        assert_eq!(index(&*fx.store).revoke_all("alice", None).await.ok(), Some(1));
        assert_eq!(fx.load(&a3).await, None);
    }
}

case! {
    /// The index follows logins, principal changes, logouts, deletes and expiry.
    principal_index_follows_principal_changes_and_expiry(fx) {
        let session = fx.stored(idle(30), None, &[]).await;
        let login = principal_change(Some("alice"));
        let v = fx.store.save(&session.key, &login, session.version).await.unwrap_or_else(|e| panic!("save: {e}"));
        assert_eq!(keys_of(&*fx.store, "alice").await, vec![session.key]);
        let switch = principal_change(Some("bob"));
        let v = fx.store.save(&session.key, &switch, v).await.unwrap_or_else(|e| panic!("save: {e}"));
        assert!(keys_of(&*fx.store, "alice").await.is_empty());
        assert_eq!(keys_of(&*fx.store, "bob").await, vec![session.key]);
        let logout = principal_change(None);
        fx.store.save(&session.key, &logout, v).await.unwrap_or_else(|e| panic!("save: {e}"));
        assert!(keys_of(&*fx.store, "bob").await.is_empty());

        let deleted = fx.stored(idle(30), Some("carol"), &[]).await;
        fx.store.delete(&deleted.key).await.unwrap_or_else(|e| panic!("delete: {e}"));
        assert!(keys_of(&*fx.store, "carol").await.is_empty());
        let expiring = fx.stored(idle(10), Some("carol"), &[]).await;
        let lasting = fx.stored(idle(60), Some("carol"), &[]).await;
        assert_eq!(keys_of(&*fx.store, "carol").await.len(), 2);
        fx.advance(MINUTE * 10);
        assert_eq!(keys_of(&*fx.store, "carol").await, vec![lasting.key], "{}: expired sessions are not listed", fx.store.name());
        assert_ne!(expiring.key, lasting.key);
    }
}

case! {
    /// With a limit of 2 and eviction, a third login ends the least recently used session.
    principal_limit_evicts_least_recently_used(fx, limit = PrincipalLimit { max: 2, when_full: WhenFull::EvictOldest }) {
        let a1 = fx.stored(idle(30), Some("alice"), &[]).await.key;
        fx.advance(MINUTE);
        let a2 = fx.stored(idle(30), Some("alice"), &[]).await.key;
        fx.advance(MINUTE);
        fx.store.touch(&a1).await.unwrap_or_else(|e| panic!("touch: {e}"));
        fx.advance(MINUTE);
        let a3 = fx.stored(idle(30), Some("alice"), &[]).await.key;
        assert_eq!(fx.load(&a2).await, None, "{}: the least recently used session must be evicted", fx.store.name());
        assert!(fx.load(&a1).await.is_some());
        assert!(fx.load(&a3).await.is_some());
        fx.stored(idle(30), Some("bob"), &[]).await;
        assert_eq!(keys_of(&*fx.store, "alice").await, vec![a1, a3]);
    }
}

case! {
    /// With a limit of 2 and refusal, a third login fails until a session ends.
    principal_limit_can_refuse(fx, limit = PrincipalLimit { max: 2, when_full: WhenFull::Refuse }) {
        let a1 = fx.stored(idle(30), Some("alice"), &[]).await.key;
        fx.stored(idle(30), Some("alice"), &[]).await;
        let mut third = fx.record(idle(30));
        third.principal = Some("alice".into());
        let result = fx.store.create(&third).await;
        assert!(matches!(result, Err(Error::PrincipalLimit { max: 2 })), "{}: got {result:?}", fx.store.name());
        assert_eq!(fx.load(&third.key).await, None);
        fx.store.delete(&a1).await.unwrap_or_else(|e| panic!("delete: {e}"));
        fx.store.create(&third).await.unwrap_or_else(|e| panic!("{}: a freed place must be usable: {e}", fx.store.name()));
    }
}

case! {
    /// The limit also applies when an anonymous session logs in through `save`.
    principal_limit_applies_when_logging_in_by_save(fx, limit = PrincipalLimit { max: 1, when_full: WhenFull::EvictOldest }) {
        let first = fx.stored(idle(30), Some("alice"), &[]).await.key;
        let anonymous = fx.stored(idle(30), None, &[]).await;
        let login = principal_change(Some("alice"));
        fx.store.save(&anonymous.key, &login, anonymous.version).await.unwrap_or_else(|e| panic!("save: {e}"));
        assert_eq!(fx.load(&first).await, None, "{}: logging in by save must evict beyond the limit", fx.store.name());
        assert_eq!(keys_of(&*fx.store, "alice").await, vec![anonymous.key]);
    }
}

case! {
    /// A refused login reports what is wrong with the write itself first: a create under a
    /// taken key is `AlreadyExists`, a save of a session changed meanwhile is a `Conflict` and
    /// one of a session that is gone is `Gone`, as `Record::apply` orders its refusals — the
    /// per-principal limit is checked only for a write that would otherwise succeed.
    principal_limit_is_checked_after_the_write_itself(fx, limit = PrincipalLimit { max: 1, when_full: WhenFull::Refuse }) {
        let name = fx.store.name();
        fx.stored(idle(30), Some("alice"), &[]).await;

        let taken = fx.stored(idle(30), None, &[]).await;
        let mut rival = taken.clone();
        rival.principal = Some("alice".into());
        let result = fx.store.create(&rival).await;
        assert!(matches!(result, Err(Error::AlreadyExists { .. })), "{name}: a create under a taken key must be AlreadyExists before the limit, got {result:?}");

        let session = fx.stored(idle(30), None, &[("cart", "empty")]).await;
        fx.store.save(&session.key, &upserts(&[("cart", "book")]), session.version).await.unwrap_or_else(|e| panic!("{name}: save: {e}"));
        let mut stale_login = upserts(&[("cart", "stale")]);
        stale_login.principal = PrincipalChange::Set("alice".into());
        let result = fx.store.save(&session.key, &stale_login, session.version).await;
        assert!(matches!(result, Err(Error::Conflict { .. })), "{name}: a save that conflicts and exceeds the limit must be a Conflict, got {result:?}");
        let loaded = fx.load(&session.key).await.unwrap_or_else(|| panic!("{name}: the session vanished"));
        assert_eq!((loaded.principal.as_deref(), text(&loaded, "cart").as_deref()), (None, Some("book")), "{name}: a refused save changes nothing");

        fx.store.delete(&session.key).await.unwrap_or_else(|e| panic!("{name}: delete: {e}"));
        let result = fx.store.save(&session.key, &principal_change(Some("alice")), session.version + 1).await;
        assert!(matches!(result, Err(Error::Gone { .. })), "{name}: a login by save of a deleted session must be Gone before the limit, got {result:?}");

        let fresh = fx.stored(idle(30), None, &[]).await;
        let result = fx.store.save(&fresh.key, &principal_change(Some("alice")), fresh.version).await;
        assert!(matches!(result, Err(Error::PrincipalLimit { max: 1 })), "{name}: a login by save that would succeed is refused by the limit, got {result:?}");
    }
}

case! {
    /// A write that is refused for its own reasons (a taken key, a conflict, a session that is
    /// gone) evicts none of the principal's sessions.
    principal_limit_evicts_nobody_for_a_refused_write(fx, limit = PrincipalLimit { max: 1, when_full: WhenFull::EvictOldest }) {
        let name = fx.store.name();
        let first = fx.stored(idle(30), Some("alice"), &[]).await.key;

        let taken = fx.stored(idle(30), None, &[]).await;
        let mut rival = taken.clone();
        rival.principal = Some("alice".into());
        let result = fx.store.create(&rival).await;
        assert!(matches!(result, Err(Error::AlreadyExists { .. })), "{name}: got {result:?}");
        assert!(fx.load(&first).await.is_some(), "{name}: a create under a taken key must evict nobody");

        let session = fx.stored(idle(30), None, &[("cart", "empty")]).await;
        fx.store.save(&session.key, &upserts(&[("cart", "book")]), session.version).await.unwrap_or_else(|e| panic!("{name}: save: {e}"));
        let mut stale_login = upserts(&[("cart", "stale")]);
        stale_login.principal = PrincipalChange::Set("alice".into());
        let result = fx.store.save(&session.key, &stale_login, session.version).await;
        assert!(matches!(result, Err(Error::Conflict { .. })), "{name}: got {result:?}");
        assert!(fx.load(&first).await.is_some(), "{name}: a save refused as a conflict must evict nobody");

        fx.store.delete(&session.key).await.unwrap_or_else(|e| panic!("{name}: delete: {e}"));
        let result = fx.store.save(&session.key, &principal_change(Some("alice")), session.version + 1).await;
        assert!(matches!(result, Err(Error::Gone { .. })), "{name}: got {result:?}");
        assert!(fx.load(&first).await.is_some(), "{name}: a save of a session that is gone must evict nobody");
        assert_eq!(keys_of(&*fx.store, "alice").await, vec![first]);
    }
}
