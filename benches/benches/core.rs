//! Micro benchmarks of session-core: MemoryStore load/save/touch and the Session handle,
//! beside tower-sessions' MemoryStore doing the same work on a record of the same data.
//!
//! Run: `cargo bench -p session-benches --bench core`.

// criterion's macros generate undocumented public items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use session_core::{
    ChangeSet, Clock, Codec, ExpiryPolicy, MemoryStore, Record, SaveOutcome, SessionConfig,
    SessionId, SessionManager, SessionStore, SystemClock,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

fn stored_record(rt: &tokio::runtime::Runtime, store: &MemoryStore) -> Record {
    let mut record = Record::new(
        SessionId::generate()
            .unwrap_or_else(|e| panic!("{e}"))
            .key(),
        Codec::Json,
        ExpiryPolicy::idle(Duration::from_secs(1800)),
        SystemClock.now(),
    );
    for i in 0..8 {
        record
            .insert(&format!("attribute{i}"), &format!("value number {i}"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    rt.block_on(store.create(&record))
        .unwrap_or_else(|e| panic!("{e}"));
    record
}

fn memory_store(c: &mut Criterion) {
    let rt = runtime();
    let store = rt.block_on(async { MemoryStore::new() });
    // A populated store, so lookups hit realistic shard sizes.
    for _ in 0..10_000 {
        stored_record(&rt, &store);
    }
    let record = stored_record(&rt, &store);
    let mut group = c.benchmark_group("memory_store");
    group.bench_function("load", |b| {
        b.iter(|| rt.block_on(store.load(black_box(&record.key))))
    });
    group.bench_function("touch", |b| {
        b.iter(|| rt.block_on(store.touch(black_box(&record.key))))
    });
    let mut changes = ChangeSet::default();
    changes.upsert(
        "counter".into(),
        Codec::Json
            .encode_value(&42u64)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    group.bench_function("save_one_attribute", |b| {
        b.iter(|| {
            let version = rt
                .block_on(store.load(&record.key))
                .ok()
                .flatten()
                .map_or(0, |r| r.version);
            rt.block_on(store.save(&record.key, black_box(&changes), version))
        })
    });
    group.bench_function("create", |b| {
        b.iter(|| {
            let mut fresh = Record::new(
                SessionId::generate()
                    .unwrap_or_else(|e| panic!("{e}"))
                    .key(),
                Codec::Json,
                ExpiryPolicy::idle(Duration::from_secs(1800)),
                SystemClock.now(),
            );
            for i in 0..8 {
                fresh
                    .insert(&format!("attribute{i}"), &format!("value number {i}"))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            rt.block_on(store.create(&fresh))
        })
    });
    group.finish();
}

/// tower-sessions' MemoryStore with the same eight attributes: load, whole-record save (what
/// its layer does after a change) and create.
fn tower_sessions_memory_store(c: &mut Criterion) {
    use tower_sessions::session::{Id, Record as TowerRecord};
    use tower_sessions::session_store::SessionStore as _;

    let rt = runtime();
    let store = tower_sessions::MemoryStore::default();
    let record = |id: Id| TowerRecord {
        id,
        data: (0..8)
            .map(|i| {
                (
                    format!("attribute{i}"),
                    serde_json::json!(format!("value number {i}")),
                )
            })
            .collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(30),
    };
    for _ in 0..10_000 {
        let mut seed = record(Id::default());
        rt.block_on(store.create(&mut seed))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut target = record(Id::default());
    rt.block_on(store.create(&mut target))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut group = c.benchmark_group("tower_sessions_memory_store");
    group.bench_function("load", |b| {
        b.iter(|| rt.block_on(store.load(black_box(&target.id))))
    });
    group.bench_function("save_one_attribute", |b| {
        b.iter(|| {
            let mut loaded = rt
                .block_on(store.load(&target.id))
                .ok()
                .flatten()
                .unwrap_or_else(|| target.clone());
            loaded
                .data
                .insert("counter".into(), serde_json::json!(42u64));
            rt.block_on(store.save(black_box(&loaded)))
        })
    });
    group.bench_function("create", |b| {
        b.iter(|| {
            let mut fresh = record(Id::default());
            rt.block_on(store.create(&mut fresh))
        })
    });
    group.finish();
}

fn session_handle(c: &mut Criterion) {
    let rt = runtime();
    let manager = rt.block_on(async {
        SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default())
    });
    let id = rt.block_on(async {
        let session = manager.session(None);
        session
            .insert(
                "user",
                &serde_json::json!({"name": "alice", "roles": ["admin"]}),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        match session.save().await {
            Ok(SaveOutcome::Stored { id, .. }) => id,
            other => panic!("seed session not stored: {other:?}"),
        }
    });
    let mut group = c.benchmark_group("session");
    group.bench_function("get_typed", |b| {
        b.iter(|| {
            rt.block_on(async {
                let session = manager.session(Some(id.clone()));
                session.get::<serde_json::Value>(black_box("user")).await
            })
        })
    });
    group.bench_function("insert_and_save", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            rt.block_on(async {
                let session = manager.session(Some(id.clone()));
                session.insert("counter", &n).await?;
                session.save().await
            })
        })
    });
    group.bench_function("new_session_created", |b| {
        b.iter(|| {
            rt.block_on(async {
                let session = manager.session(None);
                session.insert("k", &1u8).await?;
                session.save().await
            })
        })
    });
    group.bench_function("unused_handle", |b| {
        b.iter(|| {
            rt.block_on(async {
                let session = manager.session(Some(id.clone()));
                session.save().await
            })
        })
    });
    group.finish();
}

fn ids(c: &mut Criterion) {
    let id = SessionId::generate().unwrap_or_else(|e| panic!("{e}"));
    let text = id.expose_secret();
    c.bench_function("session_id/generate", |b| b.iter(SessionId::generate));
    // The way ids were drawn before the per-thread block: one kernel call per id.
    c.bench_function("session_id/kernel_call_per_id", |b| {
        b.iter(|| {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map(|()| bytes)
        })
    });
    // The store key alone: SHA-256 with the CPU's SHA extensions where it has them (which
    // valgrind hides, so the `layer` instruction counts run the portable code instead).
    c.bench_function("session_id/digest", |b| b.iter(|| black_box(&id).key()));
    c.bench_function("session_id/parse_and_digest", |b| {
        b.iter(|| SessionId::parse(black_box(&text)).map(|id| id.key()))
    });
}

criterion_group!(
    benches,
    memory_store,
    tower_sessions_memory_store,
    session_handle,
    ids
);
criterion_main!(benches);
