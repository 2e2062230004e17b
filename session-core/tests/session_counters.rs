//! Contended writes through the session handle: `add` (an addition the store applies) and
//! `update` (a read-modify-write retried on conflicts) lose nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use futures_util::future::join_all;
use session_core::{
    Error, MemoryStore, SaveOutcome, SessionConfig, SessionId, SessionManager, StoredChange,
};

fn manager() -> SessionManager {
    SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default())
}

async fn created(manager: &SessionManager, key: &str, value: &serde_json::Value) -> SessionId {
    let session = manager.session(None);
    session.insert(key, value).await.unwrap();
    match session.save().await.unwrap() {
        SaveOutcome::Stored {
            id,
            change: StoredChange::Created,
            ..
        } => id,
        other => panic!("expected a created session, got {other:?}"),
    }
}

async fn stored_value(manager: &SessionManager, id: &SessionId, key: &str) -> Option<i64> {
    manager.session(Some(id.clone())).get(key).await.unwrap()
}

#[tokio::test]
async fn concurrent_additions_from_one_loaded_version_all_count() {
    let manager = manager();
    let id = created(&manager, "n", &serde_json::json!(0)).await;
    let mut handles = Vec::new();
    for _ in 0..32 {
        let session = manager.session(Some(id.clone()));
        assert_eq!(session.get::<i64>("n").await.unwrap(), Some(0));
        assert_eq!(
            session.add("n", 1).await.unwrap(),
            1,
            "add returns what this request sees"
        );
        assert_eq!(session.get::<i64>("n").await.unwrap(), Some(1));
        handles.push(session);
    }
    for outcome in join_all(handles.iter().map(|s| s.save())).await {
        assert!(
            matches!(
                outcome,
                Ok(SaveOutcome::Stored {
                    change: StoredChange::Updated,
                    ..
                })
            ),
            "{outcome:?}"
        );
    }
    assert_eq!(stored_value(&manager, &id, "n").await, Some(32));
}

#[tokio::test]
async fn an_addition_to_a_new_session_stores_the_amount() {
    let manager = manager();
    let session = manager.session(None);
    assert_eq!(session.add("n", 5).await.unwrap(), 5);
    assert_eq!(session.add("n", 2).await.unwrap(), 7);
    assert_eq!(session.keys().await.unwrap(), vec!["n".to_owned()]);
    let SaveOutcome::Stored { id, .. } = session.save().await.unwrap() else {
        panic!("the session must be created")
    };
    assert_eq!(stored_value(&manager, &id, "n").await, Some(7));
}

#[tokio::test]
async fn an_addition_to_what_is_not_an_integer_is_refused_at_once() {
    let manager = manager();
    let id = created(&manager, "n", &serde_json::json!("seven")).await;
    let session = manager.session(Some(id));
    let refused = session.add("n", 1).await;
    assert!(
        matches!(refused, Err(Error::Addition { .. })),
        "{refused:?}"
    );
    assert!(!session.is_modified().await);
}

#[tokio::test]
async fn update_reads_again_after_a_conflict_and_loses_nothing() {
    let manager = manager();
    let id = created(&manager, "n", &serde_json::json!(0)).await;
    let first = manager.session(Some(id.clone()));
    let second = manager.session(Some(id.clone()));
    // Both load the same version.
    assert_eq!(first.get::<i64>("n").await.unwrap(), Some(0));
    assert_eq!(second.get::<i64>("n").await.unwrap(), Some(0));

    let increment = |n: Option<i64>| n.unwrap_or(0) + 1;
    assert_eq!(first.update("n", increment).await.unwrap(), 1);
    // The second handle's copy is stale: its first write conflicts, it reads 1 and writes 2.
    let mut seen = Vec::new();
    let stored = second
        .update("n", |n: Option<i64>| {
            seen.push(n);
            n.unwrap_or(0) + 1
        })
        .await
        .unwrap();
    assert_eq!(stored, 2);
    assert_eq!(seen, vec![Some(0), Some(1)]);
    assert_eq!(stored_value(&manager, &id, "n").await, Some(2));
    assert_eq!(second.get::<i64>("n").await.unwrap(), Some(2));

    // The handles' other changes are saved as usual afterwards.
    second.insert("other", &1).await.unwrap();
    second.save().await.unwrap();
    first.save().await.unwrap();
    assert_eq!(stored_value(&manager, &id, "n").await, Some(2));
    assert_eq!(stored_value(&manager, &id, "other").await, Some(1));
}

#[tokio::test]
async fn update_of_a_new_session_is_saved_with_it() {
    let manager = manager();
    let session = manager.session(None);
    assert_eq!(
        session
            .update("n", |n: Option<i64>| n.unwrap_or(10) + 1)
            .await
            .unwrap(),
        11
    );
    let SaveOutcome::Stored { id, .. } = session.save().await.unwrap() else {
        panic!("the session must be created")
    };
    assert_eq!(stored_value(&manager, &id, "n").await, Some(11));
}
