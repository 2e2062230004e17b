//! The SQLite store's connection thread commits the writes queued together in one transaction: each
//! write must still get its own outcome, a refused one must leave nothing behind, and every
//! acknowledged one must be committed for any other connection to see.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "sqlite")]

use std::sync::Arc;
use std::time::Duration;

use session_core::{
    ChangeSet, Codec, Error, ExpiryPolicy, Record, SessionId, SessionKey, SessionStore, StoreConfig,
};
use session_stores::SqliteStore;

fn json(value: &str) -> Vec<u8> {
    Codec::Json.encode_value(value).unwrap()
}

fn record(key: SessionKey, config: &StoreConfig) -> Record {
    Record::new(
        key,
        Codec::Json,
        ExpiryPolicy::idle(Duration::from_secs(600)),
        config.now(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_each_get_their_own_outcome_and_are_committed() {
    let dir = test_support::temp_dir();
    let path = dir.path().join("sessions.db");
    let config = StoreConfig::default();
    let store = Arc::new(SqliteStore::open(&path, config.clone()).await.unwrap());
    let session = record(SessionId::generate().unwrap().key(), &config);
    store.create(&session).await.unwrap();
    let contested = SessionId::generate().unwrap().key();

    let mut merging = Vec::new();
    let mut rivals = Vec::new();
    let mut creators = Vec::new();
    let mut racers = Vec::new();
    for i in 0..64 {
        let saver = store.clone();
        merging.push(tokio::spawn(async move {
            let mut changes = ChangeSet::default();
            changes.upsert(format!("k{i}"), json(&format!("v{i}")));
            saver.save(&session.key, &changes, 1).await
        }));
        let rival = store.clone();
        rivals.push(tokio::spawn(async move {
            let mut changes = ChangeSet::default();
            changes.upsert("shared".into(), json(&format!("rival {i}")));
            rival.save(&session.key, &changes, 1).await
        }));
        let (creator, new) = (
            store.clone(),
            record(SessionId::generate().unwrap().key(), &config),
        );
        creators.push(tokio::spawn(async move {
            creator.create(&new).await.map(|()| new.key)
        }));
        let (racer, same) = (store.clone(), record(contested, &config));
        racers.push(tokio::spawn(async move { racer.create(&same).await }));
    }

    for task in merging {
        task.await
            .unwrap()
            .expect("saves of different keys all succeed");
    }
    let mut winners = Vec::new();
    for (i, task) in rivals.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(_) => winners.push(format!("rival {i}")),
            Err(Error::Conflict { .. }) => {}
            Err(other) => panic!("a stale save must be a conflict, got {other}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one save of the same key from one loaded version wins"
    );
    let mut created = Vec::new();
    for task in creators {
        created.push(task.await.unwrap().expect("creates of new keys succeed"));
    }
    let mut first = 0;
    for task in racers {
        match task.await.unwrap() {
            Ok(()) => first += 1,
            Err(Error::AlreadyExists { .. }) => {}
            Err(other) => panic!("a second create must be AlreadyExists, got {other}"),
        }
    }
    assert_eq!(first, 1, "exactly one create of one key succeeds");

    // What was acknowledged is committed: another connection sees all of it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1 + 64 + 1);
    let version: i64 = conn
        .query_row(
            "SELECT version FROM sessions WHERE key = ?1",
            [session.key.as_bytes()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, 1 + 64 + 1, "one version per accepted save");

    let loaded = store.load(&session.key).await.unwrap().unwrap();
    for i in 0..64 {
        assert_eq!(
            loaded.get::<String>(&format!("k{i}")).unwrap(),
            Some(format!("v{i}"))
        );
    }
    assert_eq!(loaded.get::<String>("shared").unwrap(), winners.pop());
    for key in created {
        assert!(store.load(&key).await.unwrap().is_some());
    }
}
