//! Each persistent store's load, save and touch beside the raw backend doing the same I/O in
//! the same run:
//!
//! | store op | raw twin |
//! |---|---|
//! | redis load (`HGETALL` of the session hash) | `GET` of the record's bytes |
//! | redis save (Lua change-set script) | `SET` of the record's bytes |
//! | redis touch (Lua touch script) | `PEXPIRE` of a key |
//! | sqlite load / save / touch | prepared `SELECT` / `INSERT OR REPLACE` / `UPDATE` on the same file |
//! | file load / save / touch | `read` / write + fsync + rename (+ directory fsync) of the same bytes |
//!
//! Run: `cargo bench -p session-benches --bench stores -- --warm-up-time 1 --measurement-time 3`.
//! The Redis group needs `redis-server` (Debian package); it is skipped loudly without it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use session_core::{
    ChangeSet, Codec, ExpiryPolicy, Record, SessionId, SessionKey, SessionStore, StoreConfig,
    encode_record,
};
use session_stores::{FileStore, RedisStore, SqliteStore};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A record of about 1 KiB: five attributes of 200 bytes.
fn sample_record() -> Record {
    let mut record = Record::new(
        SessionId::generate().unwrap().key(),
        Codec::Json,
        ExpiryPolicy::idle(Duration::from_secs(3600)),
        StoreConfig::default().now(),
    );
    record.principal = Some("alice".into());
    for i in 0..5 {
        record
            .insert(&format!("attr{i}"), &"v".repeat(200))
            .unwrap();
    }
    record
}

fn one_change(i: u64) -> ChangeSet {
    let mut changes = ChangeSet::default();
    changes.upsert(
        "attr0".into(),
        Codec::Json.encode_value(&format!("{i:0>200}")).unwrap(),
    );
    changes
}

/// load / save / touch of `store` on one record, each under `group/<op>/store`.
fn bench_store<S: SessionStore>(c: &mut Criterion, rt: &Runtime, group: &str, store: Arc<S>) {
    let record = sample_record();
    rt.block_on(store.create(&record)).unwrap();
    let key = record.key;
    let version = Arc::new(AtomicU64::new(record.version));
    let counter = AtomicU64::new(0);
    let mut g = c.benchmark_group(group);
    g.bench_function("load/store", |b| {
        b.to_async(rt)
            .iter(|| async { store.load(&key).await.unwrap().unwrap() })
    });
    g.bench_function("save/store", |b| {
        b.to_async(rt).iter(|| async {
            let i = counter.fetch_add(1, Ordering::Relaxed);
            let loaded = version.load(Ordering::Relaxed);
            let new = store.save(&key, &one_change(i), loaded).await.unwrap();
            version.store(new, Ordering::Relaxed);
        })
    });
    g.bench_function("touch/store", |b| {
        b.to_async(rt)
            .iter(|| async { store.touch(&key).await.unwrap().unwrap() })
    });
    g.finish();
}

fn redis_benches(c: &mut Criterion) {
    let server = match test_support::redis::RedisServer::start() {
        Ok(server) => server,
        Err(missing) => {
            eprintln!("!!!!!!!! SKIPPED redis store benchmarks: {missing} is not available");
            return;
        }
    };
    let rt = runtime();
    let store = rt
        .block_on(
            RedisStore::builder()
                .prefix("bench:")
                .connect(&server.url()),
        )
        .unwrap();
    bench_store(c, &rt, "redis", Arc::new(store));

    let client = redis::Client::open(server.url()).unwrap();
    let conn = rt
        .block_on(client.get_multiplexed_async_connection())
        .unwrap();
    let bytes = encode_record(&sample_record()).unwrap();
    rt.block_on(async {
        let mut conn = conn.clone();
        redis::cmd("SET")
            .arg("raw:record")
            .arg(&bytes)
            .exec_async(&mut conn)
            .await
    })
    .unwrap();
    let mut g = c.benchmark_group("redis");
    g.bench_function("load/raw", |b| {
        b.to_async(&rt).iter(|| async {
            let mut conn = conn.clone();
            let value: Vec<u8> = redis::cmd("GET")
                .arg("raw:record")
                .query_async(&mut conn)
                .await
                .unwrap();
            value
        })
    });
    g.bench_function("save/raw", |b| {
        b.to_async(&rt).iter(|| async {
            let mut conn = conn.clone();
            redis::cmd("SET")
                .arg("raw:record")
                .arg(&bytes)
                .exec_async(&mut conn)
                .await
                .unwrap();
        })
    });
    g.bench_function("touch/raw", |b| {
        b.to_async(&rt).iter(|| async {
            let mut conn = conn.clone();
            let _: i64 = redis::cmd("PEXPIRE")
                .arg("raw:record")
                .arg(3_600_000)
                .query_async(&mut conn)
                .await
                .unwrap();
        })
    });
    g.finish();
}

fn sqlite_benches(c: &mut Criterion) {
    let dir = test_support::temp_dir();
    let path = dir.path().join("bench.db");
    let rt = runtime();
    let store = rt
        .block_on(SqliteStore::open(&path, StoreConfig::default()))
        .unwrap();
    bench_store(c, &rt, "sqlite", Arc::new(store));

    // The raw twin: the same file, the same pragmas, prepared statements on this thread.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS raw (key BLOB PRIMARY KEY, last_access INTEGER, record BLOB) WITHOUT ROWID",
    )
    .unwrap();
    let record = sample_record();
    let bytes = encode_record(&record).unwrap();
    let key = record.key.as_bytes().to_vec();
    let upsert = "INSERT OR REPLACE INTO raw (key, last_access, record) VALUES (?1, ?2, ?3)";
    conn.execute(upsert, rusqlite::params![key, 0, bytes])
        .unwrap();
    let mut g = c.benchmark_group("sqlite");
    g.bench_function("load/raw", |b| {
        let mut select = conn
            .prepare("SELECT record, last_access FROM raw WHERE key = ?1")
            .unwrap();
        b.iter(|| {
            select
                .query_row([&key], |row| {
                    Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, i64>(1)?))
                })
                .unwrap()
        })
    });
    g.bench_function("save/raw", |b| {
        let mut statement = conn.prepare(upsert).unwrap();
        let mut i = 0i64;
        b.iter(|| {
            i += 1;
            statement.execute(rusqlite::params![key, i, bytes]).unwrap()
        })
    });
    g.bench_function("touch/raw", |b| {
        let mut statement = conn
            .prepare("UPDATE raw SET last_access = ?1 WHERE key = ?2")
            .unwrap();
        let mut i = 0i64;
        b.iter(|| {
            i += 1;
            statement.execute(rusqlite::params![i, key]).unwrap()
        })
    });
    g.finish();
}

fn write_and_rename(dir: &Path, target: &Path, bytes: &[u8]) {
    let temp: PathBuf = dir.join(".tmp-raw");
    let mut file = std::fs::File::create(&temp).unwrap();
    file.write_all(bytes).unwrap();
    file.sync_all().unwrap();
    std::fs::rename(&temp, target).unwrap();
    std::fs::File::open(dir).unwrap().sync_all().unwrap();
}

fn file_benches(c: &mut Criterion) {
    let dir = test_support::temp_dir();
    let rt = runtime();
    let store = FileStore::open(dir.path().join("store"), StoreConfig::default()).unwrap();
    bench_store(c, &rt, "file", Arc::new(store));

    let raw_dir = dir.path().join("raw");
    std::fs::create_dir(&raw_dir).unwrap();
    let record = sample_record();
    let bytes = encode_record(&record).unwrap();
    let target = raw_dir.join(SessionKey::to_hex(&record.key));
    write_and_rename(&raw_dir, &target, &bytes);
    let mut g = c.benchmark_group("file");
    g.bench_function("load/raw", |b| b.iter(|| std::fs::read(&target).unwrap()));
    g.bench_function("save/raw", |b| {
        b.iter(|| write_and_rename(&raw_dir, &target, &bytes))
    });
    g.bench_function("touch/raw", |b| {
        b.iter(|| write_and_rename(&raw_dir, &target, &bytes))
    });
    g.finish();
}

criterion_group!(stores, redis_benches, sqlite_benches, file_benches);
criterion_main!(stores);
