//! MemoryStore behaviour beyond the shared contract: capacity, the sweeper, many tasks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use session_core::{
    Codec, EventKind, Events, ExpiryPolicy, MemoryStore, MockClock, PrincipalIndex, Record,
    SessionId, SessionStore, StoreConfig,
};

fn record(clock: &MockClock, expiry: ExpiryPolicy) -> Record {
    use session_core::Clock;
    Record::new(
        SessionId::generate().unwrap().key(),
        Codec::Json,
        expiry,
        clock.now(),
    )
}

#[tokio::test]
async fn a_full_store_evicts_expired_records_first_then_the_least_recently_used() {
    let clock = MockClock::new();
    let events = Events::new();
    let store = MemoryStore::builder()
        .capacity(3)
        .shards(1)
        .clock(clock.shared())
        .events(events.clone())
        .build();
    let short = record(&clock, ExpiryPolicy::idle(Duration::from_secs(60)));
    let old = record(&clock, ExpiryPolicy::NEVER);
    store.create(&short).await.unwrap();
    store.create(&old).await.unwrap();
    clock.advance(Duration::from_secs(30));
    let recent = record(&clock, ExpiryPolicy::NEVER);
    store.create(&recent).await.unwrap();
    clock.advance(Duration::from_secs(60));
    // Full, and `short` has expired: it makes room.
    let fourth = record(&clock, ExpiryPolicy::NEVER);
    store.create(&fourth).await.unwrap();
    assert!(store.load(&old.key).await.unwrap().is_some());
    assert_eq!(events.count(EventKind::Evicted), 0);
    // Full with live records: the least recently used (`old`) goes.
    store.touch(&recent.key).await.unwrap();
    let fifth = record(&clock, ExpiryPolicy::NEVER);
    store.create(&fifth).await.unwrap();
    assert_eq!(store.load(&old.key).await.unwrap(), None);
    for kept in [&recent, &fourth, &fifth] {
        assert!(store.load(&kept.key).await.unwrap().is_some());
    }
    assert_eq!(events.count(EventKind::Evicted), 1);
    assert_eq!(store.count().await.unwrap(), 3);
}

#[tokio::test]
async fn a_create_takes_over_the_key_of_an_expired_record_and_refuses_a_live_one() {
    use session_core::Clock;
    let clock = MockClock::new();
    let store = MemoryStore::builder()
        .capacity(1)
        .shards(1)
        .clock(clock.shared())
        .sweep_interval(None)
        .build();
    let mut first = record(&clock, ExpiryPolicy::idle(Duration::from_secs(60)));
    first.principal = Some("alice".into());
    store.create(&first).await.unwrap();
    let mut again = Record::new(first.key, Codec::Json, ExpiryPolicy::NEVER, clock.now());
    let refused = store.create(&again).await;
    assert!(
        matches!(refused, Err(session_core::Error::AlreadyExists { .. })),
        "{refused:?}"
    );

    clock.advance(Duration::from_secs(61));
    again.created_at = clock.now();
    again.last_access = clock.now();
    again.principal = Some("bob".into());
    // The full store (capacity 1) evicts nothing: the expired record's slot is reused.
    store.create(&again).await.unwrap();
    let stored = store.load(&first.key).await.unwrap().unwrap();
    assert_eq!(stored.principal.as_deref(), Some("bob"));
    assert_eq!(stored.expiry, ExpiryPolicy::NEVER);
    assert_eq!(store.count().await.unwrap(), 1);
    let bobs: Vec<_> = store
        .sessions_of("bob")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(bobs, vec![first.key]);
}

#[tokio::test(start_paused = true)]
async fn the_sweeper_removes_expired_records_and_stops_with_the_store() {
    let clock = MockClock::new();
    let events = Events::new();
    let store = MemoryStore::builder()
        .sweep_interval(Some(Duration::from_secs(10)))
        .config(StoreConfig {
            clock: clock.shared(),
            events: events.clone(),
            ..StoreConfig::default()
        })
        .build();
    for _ in 0..5 {
        store
            .create(&record(&clock, ExpiryPolicy::idle(Duration::from_secs(60))))
            .await
            .unwrap();
    }
    assert!(store.is_sweeping());
    clock.advance(Duration::from_secs(120));
    // Paused tokio time jumps straight to the next sweep.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(
        events.count(EventKind::Expired),
        5,
        "the sweeper must have removed all five"
    );

    let weak_probe = store.clone();
    drop(store);
    assert!(
        weak_probe.is_sweeping(),
        "a clone keeps the store and its sweeper alive"
    );
    let metrics = tokio::runtime::Handle::current().metrics();
    assert_eq!(metrics.num_alive_tasks(), 1, "the sweeper is the only task");
    drop(weak_probe);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        metrics.num_alive_tasks(),
        0,
        "dropping the last handle must stop the sweeper"
    );
}

#[tokio::test]
async fn a_store_built_outside_a_runtime_has_no_sweeper_but_never_returns_expired_records() {
    let clock = MockClock::new();
    let store = std::thread::spawn({
        let clock = clock.clone();
        move || MemoryStore::builder().clock(clock.shared()).build()
    })
    .join()
    .unwrap();
    assert!(!store.is_sweeping());
    let r = record(&clock, ExpiryPolicy::idle(Duration::from_secs(1)));
    store.create(&r).await.unwrap();
    clock.advance(Duration::from_secs(1));
    assert_eq!(store.load(&r.key).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_on_many_sessions_lose_nothing() {
    let clock = MockClock::new();
    let store = Arc::new(MemoryStore::builder().clock(clock.shared()).build());
    let mut tasks = Vec::new();
    for t in 0..32u64 {
        let store = store.clone();
        let clock = clock.clone();
        tasks.push(tokio::spawn(async move {
            let mut keys = Vec::new();
            for _ in 0..50 {
                let mut r = record(&clock, ExpiryPolicy::NEVER);
                r.insert("task", &t).unwrap();
                store.create(&r).await.unwrap();
                keys.push(r.key);
            }
            for key in &keys {
                let loaded = store.load(key).await.unwrap().unwrap();
                assert_eq!(loaded.get::<u64>("task").unwrap(), Some(t));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.count().await.unwrap(), 32 * 50);
}

#[tokio::test]
async fn a_flood_of_new_sessions_stays_within_capacity_and_keeps_the_newest() {
    let clock = MockClock::new();
    let events = Events::new();
    let store = MemoryStore::builder()
        .capacity(1_600)
        .shards(4)
        .clock(clock.shared())
        .events(events.clone())
        .build();
    let mut newest = Vec::new();
    for i in 0..50_000 {
        clock.advance(Duration::from_millis(1));
        let r = record(&clock, ExpiryPolicy::NEVER);
        store.create(&r).await.unwrap();
        if i >= 50_000 - 10 {
            newest.push(r.key);
        }
        if i % 1000 == 0 {
            assert!(store.count().await.unwrap() <= 1_600);
        }
    }
    assert!(
        store.count().await.unwrap() <= 1_600,
        "capacity is a hard bound"
    );
    for key in newest {
        assert!(
            store.load(&key).await.unwrap().is_some(),
            "the newest sessions are kept"
        );
    }
    assert!(events.count(EventKind::Evicted) >= 50_000 - 1_600);
}
