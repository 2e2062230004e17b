//! The Redis store writes the commands of concurrent tasks together, against a real
//! redis-server of its own (its read counter must see no other client): fewer writes, and
//! every command still gets its own reply.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "redis")]

use std::time::Duration;

use session_core::testkit::json_record;
use session_core::{Record, SessionId, SessionStore};
use session_stores::RedisStore;
use test_support::redis::RedisServer;

const PREFIX: &str = "pipelined:";

async fn server_and_store() -> Option<(RedisServer, RedisStore, redis::aio::MultiplexedConnection)>
{
    server_and_store_with(true).await
}

async fn server_and_store_with(
    auto_pipeline: bool,
) -> Option<(RedisServer, RedisStore, redis::aio::MultiplexedConnection)> {
    let server = match RedisServer::start() {
        Ok(server) => server,
        Err(missing) => {
            test_support::skip("redis auto-pipeline tests", &missing);
            return None;
        }
    };
    let store = RedisStore::builder()
        .prefix(PREFIX)
        .auto_pipeline(auto_pipeline)
        .connect(&server.url())
        .await
        .unwrap();
    let admin = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    Some((server, store, admin))
}

/// A new session whose `owner` attribute names its own key.
fn record_of_its_own() -> Record {
    let key = SessionId::generate().unwrap().key();
    let mut record = json_record(key, Duration::from_secs(600));
    record.insert("owner", &key.to_hex()).unwrap();
    record
}

fn owner(record: &Record) -> String {
    record.get::<String>("owner").unwrap().unwrap()
}

/// Read events the server has handled so far (`INFO stats`); this query counts as one.
async fn reads_processed(admin: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(admin)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("total_reads_processed:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("INFO stats has total_reads_processed")
}

/// Loads every record's key at once, each on a task of its own. The tasks are spawned from
/// the runtime's one worker, so none runs before all are queued: the batch does not depend on
/// how fast this thread spawns.
async fn load_concurrently(
    store: &RedisStore,
    records: &[Record],
) -> Vec<session_core::Result<Option<Record>>> {
    let store = store.clone();
    let keys: Vec<_> = records.iter().map(|record| record.key).collect();
    tokio::spawn(async move {
        let tasks: Vec<_> = keys
            .into_iter()
            .map(|key| {
                let store = store.clone();
                tokio::spawn(async move { store.load(&key).await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    })
    .await
    .unwrap()
}

// One worker, as in a server under load: there the redis crate's connection task runs right
// after each task that queues a command (the worker's LIFO slot), and writes it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn concurrent_loads_reach_the_server_together_and_each_gets_its_own_record() {
    let Some((_server, store, mut admin)) = server_and_store().await else {
        return;
    };
    let records: Vec<Record> = (0..64).map(|_| record_of_its_own()).collect();
    for record in &records {
        store.create(record).await.unwrap();
    }

    let before = reads_processed(&mut admin).await;
    let loaded = load_concurrently(&store, &records).await;
    let after = reads_processed(&mut admin).await;

    for (record, result) in records.iter().zip(loaded) {
        let found = result.unwrap().expect("a live session loads");
        assert_eq!(found.key, record.key);
        assert_eq!(owner(&found), record.key.to_hex());
    }
    // One read for the batch (two if it arrives in two segments) and one for the second INFO;
    // written one by one, the 64 loads would take 64.
    let reads = after - before;
    assert!(reads <= 8, "64 concurrent loads took {reads} server reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_error_reply_in_a_batch_fails_its_own_command_only() {
    let Some((_server, store, mut admin)) = server_and_store().await else {
        return;
    };
    let records: Vec<Record> = (0..16).map(|_| record_of_its_own()).collect();
    for record in &records[1..] {
        store.create(record).await.unwrap();
    }
    // Not a hash: the store's HGETALL of this key gets a WRONGTYPE error reply.
    let damaged = format!("{PREFIX}s:{{{}}}", records[0].key.to_hex());
    let _: () = redis::cmd("SET")
        .arg(&damaged)
        .arg("not a session")
        .query_async(&mut admin)
        .await
        .unwrap();

    let loaded = load_concurrently(&store, &records).await;

    let mut results = loaded.into_iter();
    let first = results.next().unwrap();
    assert!(first.is_err(), "the damaged key must fail: {first:?}");
    for (record, result) in records[1..].iter().zip(results) {
        let found = result.unwrap().expect("a live session loads");
        assert_eq!(owner(&found), record.key.to_hex());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn scripts_flushed_from_the_server_are_loaded_again_for_a_whole_batch() {
    let Some((_server, store, mut admin)) = server_and_store().await else {
        return;
    };
    store.create(&record_of_its_own()).await.unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut admin)
        .await
        .unwrap();

    // Every create's EVALSHA in the batch is answered NOSCRIPT; each loads the script and
    // runs again.
    let records: Vec<Record> = (0..32).map(|_| record_of_its_own()).collect();
    let tasks: Vec<_> = records
        .iter()
        .map(|record| {
            let store = store.clone();
            let record = record.clone();
            tokio::spawn(async move { store.create(&record).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    for (record, result) in records
        .iter()
        .zip(load_concurrently(&store, &records).await)
    {
        assert_eq!(owner(&result.unwrap().unwrap()), record.key.to_hex());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_load_given_up_after_it_was_queued_strands_no_other_command() {
    let Some((_server, store, _admin)) = server_and_store().await else {
        return;
    };
    let (abandoned, wanted) = (record_of_its_own(), record_of_its_own());
    store.create(&abandoned).await.unwrap();
    store.create(&wanted).await.unwrap();

    // On the runtime's one worker, so nothing else runs between the two steps: polled once, the
    // first load queues its command and starts the batch; then it is dropped, as a request's
    // future is when its client goes away.
    let found = tokio::spawn(async move {
        let mut first = Box::pin(store.load(&abandoned.key));
        tokio::select! {
            biased;
            _ = &mut first => panic!("a load cannot be answered before the server is asked"),
            () = std::future::ready(()) => {}
        }
        drop(first);
        tokio::time::timeout(Duration::from_secs(10), store.load(&wanted.key)).await
    })
    .await
    .unwrap()
    .expect("the command queued behind a dropped one must still be answered")
    .unwrap()
    .unwrap();
    assert_eq!(owner(&found), wanted.key.to_hex());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn with_auto_pipelining_off_concurrent_loads_still_get_their_own_records() {
    let Some((_server, store, _admin)) = server_and_store_with(false).await else {
        return;
    };
    let records: Vec<Record> = (0..16).map(|_| record_of_its_own()).collect();
    for record in &records {
        store.create(record).await.unwrap();
    }
    for (record, result) in records
        .iter()
        .zip(load_concurrently(&store, &records).await)
    {
        assert_eq!(owner(&result.unwrap().unwrap()), record.key.to_hex());
    }
}
