//! Each persistent store's load, save and touch beside the raw backend doing the same I/O in
//! the same run:
//!
//! | store op | raw twin |
//! |---|---|
//! | redis load (`HGETALL` of the session hash) | `GET` of the record's bytes |
//! | redis save (Lua change-set script) | `SET` of the record's bytes |
//! | redis touch (Lua touch script) | `PEXPIRE` of a key |
//! | sqlite load / save / touch | prepared `SELECT` / upsert (`INSERT … ON CONFLICT DO UPDATE`) / `UPDATE` on the same file |
//! | file load / save / touch | `read` / write + fsync + rename (+ directory fsync) of the same bytes |
//!
//! Run: `cargo bench -p session-benches --bench stores -- --warm-up-time 1 --measurement-time 3`.
//! The Redis group needs `redis-server` (Debian package); it is skipped loudly without it.
//!
//! Criterion measures each store operation right before its twin. On a shared machine that
//! is not enough (a neighbour's build can land on one of the two), so after each backend's
//! criterion group a **paired run** alternates the two: `STORES_ROUNDS` rounds (default 15)
//! of about `STORES_ROUND_MS` milliseconds (default 150, long enough to average over the
//! SQLite checkpoints that both sides' writes trigger in the shared WAL) per side, store first in even rounds
//! and twin first in odd ones, and prints the median time per operation of each and the median
//! of the per-round ratios. `STORES_ROUNDS=0` turns it off; `STORES_ONLY=redis,sqlite` picks
//! the backends it runs for.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use session_core::{
    ChangeSet, Clock, Codec, ExpiryPolicy, Record, SessionId, SessionKey, SessionStore,
    StoreConfig, SystemClock, Timestamp, TouchOutcome, encode_record,
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

/// The wall clock, but a millisecond later on every call at least, so that every touch and
/// save writes a new `last_access`, as the twins always write: SQLite skips writing a page
/// whose bytes did not change, and the Redis store's touch writes nothing when the clock did
/// not move, which a touch within the same millisecond would otherwise get for free.
#[derive(Debug, Default)]
struct TickingClock(AtomicU64);

impl Clock for TickingClock {
    fn now(&self) -> Timestamp {
        let real = SystemClock.now().as_millis();
        let previous = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(real.max(last + 1))
            })
            .unwrap_or(real);
        Timestamp::from_millis(real.max(previous + 1))
    }
}

/// A record of about 1 KiB: five attributes of 200 bytes.
fn sample_record() -> Record {
    let mut record = Record::new(
        SessionId::generate().unwrap().key(),
        Codec::Json,
        // A day: the ticking clock of the SQLite run moves ahead of the wall clock.
        ExpiryPolicy::idle(Duration::from_secs(86_400)),
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

/// Runs `n` operations and returns how long they took.
type Timed<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// One operation measured on the store and on its raw twin.
struct Pair<'a> {
    op: &'static str,
    store: Timed<'a>,
    raw: Timed<'a>,
}

/// The store's load, save (one changed attribute of 200 bytes) and touch on one record.
fn store_ops<'a, S: SessionStore>(
    rt: &'a Runtime,
    store: Arc<S>,
) -> [(&'static str, Timed<'a>); 3] {
    let record = sample_record();
    rt.block_on(store.create(&record)).unwrap();
    let key = record.key;
    let version = Arc::new(AtomicU64::new(record.version));
    // Built beforehand: the caller's encoding of a new value is not the store's work.
    let changes: Arc<Vec<ChangeSet>> = Arc::new((0..64).map(one_change).collect());
    let counter = Arc::new(AtomicU64::new(0));
    let (load_store, save_store, touch_store) = (store.clone(), store.clone(), store);
    [
        (
            "load",
            Box::new(move |n| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..n {
                        load_store.load(&key).await.unwrap().unwrap();
                    }
                    start.elapsed()
                })
            }),
        ),
        (
            "save",
            Box::new(move |n| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..n {
                        let i = counter.fetch_add(1, Ordering::Relaxed) as usize;
                        let loaded = version.load(Ordering::Relaxed);
                        let new = save_store
                            .save(&key, &changes[i % changes.len()], loaded)
                            .await
                            .unwrap();
                        version.store(new, Ordering::Relaxed);
                    }
                    start.elapsed()
                })
            }),
        ),
        (
            "touch",
            Box::new(move |n| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..n {
                        let touched = touch_store.touch(&key).await.unwrap();
                        assert!(matches!(touched, TouchOutcome::Touched { .. }));
                    }
                    start.elapsed()
                })
            }),
        ),
    ]
}

fn pairs<'a>(
    store: [(&'static str, Timed<'a>); 3],
    raw: [(&'static str, Timed<'a>); 3],
) -> Vec<Pair<'a>> {
    store
        .into_iter()
        .zip(raw)
        .map(|((op, store), (raw_op, raw))| {
            assert_eq!(op, raw_op);
            Pair { op, store, raw }
        })
        .collect()
}

/// Criterion's estimates (`group/<op>/store`, then `group/<op>/raw`), then the paired run.
fn compare(c: &mut Criterion, group: &str, mut pairs: Vec<Pair<'_>>) {
    let mut g = c.benchmark_group(group);
    for pair in &mut pairs {
        g.bench_function(format!("{}/store", pair.op), |b| {
            b.iter_custom(|n| (pair.store)(n))
        });
        g.bench_function(format!("{}/raw", pair.op), |b| {
            b.iter_custom(|n| (pair.raw)(n))
        });
    }
    g.finish();
    paired(group, &mut pairs);
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Alternates store and twin round by round; prints medians per operation and of the ratios.
fn paired(group: &str, pairs: &mut [Pair<'_>]) {
    let rounds = env_number("STORES_ROUNDS", 15) as usize;
    let selected = std::env::var("STORES_ONLY")
        .map(|only| only.split(',').any(|g| g.trim() == group))
        .unwrap_or(true);
    if rounds == 0 || !selected {
        return;
    }
    let round = Duration::from_millis(env_number("STORES_ROUND_MS", 150));
    for pair in pairs {
        // Calibrate: the number of operations of the slower side that fills a round.
        (pair.store)(20);
        (pair.raw)(20);
        let per_op = |f: &mut Timed<'_>| f(50).as_secs_f64() / 50.0;
        let slower = per_op(&mut pair.store).max(per_op(&mut pair.raw));
        let n = ((round.as_secs_f64() / slower) as u64).max(10);
        let (mut store, mut raw, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..rounds {
            let (s, w) = if r % 2 == 0 {
                let s = (pair.store)(n);
                (s, (pair.raw)(n))
            } else {
                let w = (pair.raw)(n);
                ((pair.store)(n), w)
            };
            let (s, w) = (s.as_secs_f64() / n as f64, w.as_secs_f64() / n as f64);
            store.push(s * 1e6);
            raw.push(w * 1e6);
            ratio.push(s / w);
        }
        let (lo, hi) = (
            ratio.iter().copied().fold(f64::INFINITY, f64::min),
            ratio.iter().copied().fold(0.0, f64::max),
        );
        println!(
            "paired {group}/{}: store {:.2} µs, raw {:.2} µs, ratio {:.2}x \
             (median of {rounds} rounds of {n} ops each side; ratios {lo:.2}–{hi:.2})",
            pair.op,
            median(&mut store),
            median(&mut raw),
            median(&mut ratio),
        );
    }
}

fn block_on_n<'a, F: std::future::Future<Output = ()>>(
    rt: &'a Runtime,
    mut op: impl FnMut() -> F + 'a,
) -> Timed<'a> {
    Box::new(move |n| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..n {
                op().await;
            }
            start.elapsed()
        })
    })
}

fn timed_n<'a>(mut op: impl FnMut() + 'a) -> Timed<'a> {
    Box::new(move |n| {
        let start = Instant::now();
        for _ in 0..n {
            op();
        }
        start.elapsed()
    })
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
                .config(StoreConfig {
                    clock: Arc::new(TickingClock::default()),
                    ..StoreConfig::default()
                })
                .connect(&server.url()),
        )
        .unwrap();

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
    let (load_conn, save_conn, touch_conn) = (conn.clone(), conn.clone(), conn);
    let bytes = &bytes;
    let raw: [(&'static str, Timed<'_>); 3] = [
        (
            "load",
            block_on_n(&rt, move || {
                let mut conn = load_conn.clone();
                async move {
                    let _: Vec<u8> = redis::cmd("GET")
                        .arg("raw:record")
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                }
            }),
        ),
        (
            "save",
            block_on_n(&rt, move || {
                let mut conn = save_conn.clone();
                async move {
                    redis::cmd("SET")
                        .arg("raw:record")
                        .arg(bytes)
                        .exec_async(&mut conn)
                        .await
                        .unwrap();
                }
            }),
        ),
        (
            "touch",
            block_on_n(&rt, move || {
                let mut conn = touch_conn.clone();
                async move {
                    let _: i64 = redis::cmd("PEXPIRE")
                        .arg("raw:record")
                        .arg(86_400_000)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                }
            }),
        ),
    ];
    compare(c, "redis", pairs(store_ops(&rt, Arc::new(store)), raw));
}

fn sqlite_benches(c: &mut Criterion) {
    let dir = test_support::temp_dir();
    let path = dir.path().join("bench.db");
    let rt = runtime();
    let store = rt
        .block_on(SqliteStore::open(
            &path,
            StoreConfig {
                clock: Arc::new(TickingClock::default()),
                ..StoreConfig::default()
            },
        ))
        .unwrap();
    let store_side = store_ops(&rt, Arc::new(store));

    // The raw twin: the same file, the same pragmas, prepared statements on this thread.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(
        // An ordinary (rowid) table, as the store's own: a WITHOUT ROWID table would push the
        // ~1.2 KiB record into an overflow page and make the twin slower than it need be.
        "CREATE TABLE IF NOT EXISTS raw (key BLOB PRIMARY KEY, last_access INTEGER, record BLOB)",
    )
    .unwrap();
    let record = sample_record();
    let bytes = encode_record(&record).unwrap();
    let key = record.key.as_bytes().to_vec();
    // SQLite's upsert: the row is updated in place (`INSERT OR REPLACE` would delete it and
    // insert it again, index entry and all).
    let upsert = "INSERT INTO raw (key, last_access, record) VALUES (?1, ?2, ?3)
                  ON CONFLICT (key) DO UPDATE SET
                      last_access = excluded.last_access, record = excluded.record";
    conn.execute(upsert, rusqlite::params![key, 0, bytes])
        .unwrap();
    let mut select = conn
        .prepare("SELECT record, last_access FROM raw WHERE key = ?1")
        .unwrap();
    let mut write = conn.prepare(upsert).unwrap();
    let mut touch = conn
        .prepare("UPDATE raw SET last_access = ?1 WHERE key = ?2")
        .unwrap();
    let (mut i, mut j) = (0i64, 0i64);
    let key = &key;
    let bytes = &bytes;
    let raw: [(&'static str, Timed<'_>); 3] = [
        (
            "load",
            timed_n(move || {
                select
                    .query_row([key], |row| {
                        Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, i64>(1)?))
                    })
                    .unwrap();
            }),
        ),
        (
            "save",
            timed_n(move || {
                i += 1;
                write.execute(rusqlite::params![key, i, bytes]).unwrap();
            }),
        ),
        (
            "touch",
            timed_n(move || {
                j += 1;
                touch.execute(rusqlite::params![j, key]).unwrap();
            }),
        ),
    ];
    compare(c, "sqlite", pairs(store_side, raw));
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
    let store_side = store_ops(&rt, Arc::new(store));

    let raw_dir = dir.path().join("raw");
    std::fs::create_dir(&raw_dir).unwrap();
    let record = sample_record();
    let bytes = encode_record(&record).unwrap();
    let target = raw_dir.join(SessionKey::to_hex(&record.key));
    write_and_rename(&raw_dir, &target, &bytes);
    let (raw_dir, target, bytes) = (&raw_dir, &target, &bytes);
    let raw: [(&'static str, Timed<'_>); 3] = [
        (
            "load",
            timed_n(move || {
                std::fs::read(target).unwrap();
            }),
        ),
        (
            "save",
            timed_n(move || write_and_rename(raw_dir, target, bytes)),
        ),
        (
            "touch",
            timed_n(move || write_and_rename(raw_dir, target, bytes)),
        ),
    ];
    compare(c, "file", pairs(store_side, raw));
}

criterion_group!(stores, redis_benches, sqlite_benches, file_benches);
criterion_main!(stores);
