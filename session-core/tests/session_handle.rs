//! The session handle over a store: laziness, dirty tracking, touch throttling, id cycling,
//! invalidation, concurrency and events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use session_core::Clock;
use session_core::testkit::{InstrumentedStore, OperationCounts};
use session_core::{
    Error, EventKind, Events, ExpiryPolicy, MemoryStore, MockClock, SaveOutcome, SessionConfig,
    SessionId, SessionManager, StoredChange, TouchPolicy,
};

struct Setup {
    manager: SessionManager,
    store: InstrumentedStore<MemoryStore>,
    counts: Arc<OperationCounts>,
    clock: MockClock,
    events: Events,
}

fn setup(expiry: ExpiryPolicy) -> Setup {
    let clock = MockClock::new();
    let events = Events::new();
    let store = InstrumentedStore::instrumented(
        MemoryStore::builder()
            .clock(clock.shared())
            .events(events.clone())
            .build(),
    );
    let counts = store.counts();
    let manager = SessionManager::new(
        Arc::new(store.clone()),
        SessionConfig {
            expiry,
            touch: Some(TouchPolicy {
                interval: Duration::from_secs(60),
            }),
            clock: clock.shared(),
            events: events.clone(),
            ..SessionConfig::default()
        },
    );
    Setup {
        manager,
        store,
        counts,
        clock,
        events,
    }
}

fn thirty_minutes() -> ExpiryPolicy {
    ExpiryPolicy::idle(Duration::from_secs(1800))
}

async fn stored_session(s: &Setup, pairs: &[(&str, i64)]) -> SessionId {
    let session = s.manager.session(None);
    for (k, v) in pairs {
        session.insert(k, v).await.unwrap();
    }
    match session.save().await.unwrap() {
        SaveOutcome::Stored {
            id,
            change: StoredChange::Created,
            ..
        } => id,
        other => panic!("expected a created session, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unused_handle_does_no_store_io() {
    let s = setup(thirty_minutes());
    let id = stored_session(&s, &[("a", 1)]).await;
    let before = s.counts.total();
    let session = s.manager.session(Some(id));
    assert!(!session.is_loaded().await);
    assert_eq!(session.save().await.unwrap(), SaveOutcome::Nothing);
    assert_eq!(
        s.counts.total(),
        before,
        "an untouched session must not reach the store"
    );
}

#[tokio::test]
async fn a_new_session_nobody_wrote_to_is_never_stored() {
    let s = setup(thirty_minutes());
    let session = s.manager.session(None);
    assert_eq!(session.get::<i64>("a").await.unwrap(), None);
    assert!(session.is_new().await.unwrap());
    assert_eq!(session.save().await.unwrap(), SaveOutcome::Nothing);
    assert_eq!(s.counts.writes(), 0);
    assert_eq!(s.store.count().await.unwrap(), 0);
}

use session_core::SessionStore;

#[tokio::test]
async fn reads_see_own_writes_and_saves_write_only_changes() {
    let s = setup(thirty_minutes());
    let id = stored_session(&s, &[("a", 1), ("b", 2)]).await;
    let session = s.manager.session(Some(id.clone()));
    session.insert("a", &10).await.unwrap();
    assert!(session.remove("b").await.unwrap());
    assert!(!session.remove("missing").await.unwrap());
    assert_eq!(session.get::<i64>("a").await.unwrap(), Some(10));
    assert_eq!(session.get::<i64>("b").await.unwrap(), None);
    assert_eq!(session.keys().await.unwrap(), vec!["a".to_string()]);
    let saves = s.counts.saves.load(Ordering::SeqCst);
    assert!(matches!(
        session.save().await.unwrap(),
        SaveOutcome::Stored {
            change: StoredChange::Updated,
            ..
        }
    ));
    assert_eq!(s.counts.saves.load(Ordering::SeqCst), saves + 1);
    let again = s.manager.session(Some(id));
    assert_eq!(again.get::<i64>("a").await.unwrap(), Some(10));
    assert_eq!(again.get::<i64>("b").await.unwrap(), None);
}

#[tokio::test]
async fn read_only_requests_touch_at_most_once_per_interval() {
    let s = setup(thirty_minutes());
    let id = stored_session(&s, &[("a", 1)]).await;
    for _ in 0..10 {
        s.clock.advance(Duration::from_secs(5));
        let session = s.manager.session(Some(id.clone()));
        assert_eq!(session.get::<i64>("a").await.unwrap(), Some(1));
        assert!(matches!(
            session.save().await.unwrap(),
            SaveOutcome::Unchanged { .. }
        ));
    }
    assert_eq!(
        s.counts.touches.load(Ordering::SeqCst),
        0,
        "50 s of reads stay inside the 60 s interval"
    );
    s.clock.advance(Duration::from_secs(10));
    let session = s.manager.session(Some(id.clone()));
    session.get::<i64>("a").await.unwrap();
    assert!(matches!(
        session.save().await.unwrap(),
        SaveOutcome::Stored {
            change: StoredChange::Touched,
            ..
        }
    ));
    assert_eq!(s.counts.touches.load(Ordering::SeqCst), 1);
    assert_eq!(s.events.count(EventKind::Touched), 1);
}

/// `try_save_without_store` finishes at once exactly the saves that need no store call, as
/// `save` would finish them (the handle reloads on its next use), and leaves every other save
/// to `save`.
#[tokio::test]
async fn saves_that_need_no_store_finish_without_it() {
    let s = setup(thirty_minutes());
    let id = stored_session(&s, &[("a", 1)]).await;

    let unused = s.manager.session(Some(id.clone()));
    assert_eq!(unused.try_save_without_store(), Some(SaveOutcome::Nothing));

    let reader = s.manager.session(Some(id.clone()));
    assert_eq!(reader.get::<i64>("a").await.unwrap(), Some(1));
    let writes = s.counts.writes();
    match reader.try_save_without_store() {
        Some(SaveOutcome::Unchanged { id: kept, .. }) => assert_eq!(kept, id),
        other => panic!("a read with nothing to write finishes at once, got {other:?}"),
    }
    assert_eq!(s.counts.writes(), writes, "no store call");
    // Like `save`, it lets the next use start from the store again.
    let other = s.manager.session(Some(id.clone()));
    other.insert("a", &2).await.unwrap();
    other.save().await.unwrap();
    assert_eq!(reader.get::<i64>("a").await.unwrap(), Some(2));

    let writer = s.manager.session(Some(id.clone()));
    writer.insert("a", &3).await.unwrap();
    assert_eq!(
        writer.try_save_without_store(),
        None,
        "a change needs the store"
    );
    assert!(matches!(
        writer.save().await.unwrap(),
        SaveOutcome::Stored {
            change: StoredChange::Updated,
            ..
        }
    ));

    s.clock.advance(Duration::from_secs(61));
    let due = s.manager.session(Some(id.clone()));
    due.get::<i64>("a").await.unwrap();
    assert_eq!(
        due.try_save_without_store(),
        None,
        "a due touch needs the store"
    );

    let fresh = s.manager.session(None);
    assert_eq!(fresh.get::<i64>("a").await.unwrap(), None);
    assert_eq!(fresh.try_save_without_store(), Some(SaveOutcome::Nothing));

    let unknown = s.manager.session(Some(SessionId::generate().unwrap()));
    assert_eq!(unknown.get::<i64>("a").await.unwrap(), None);
    assert_eq!(
        unknown.try_save_without_store(),
        Some(SaveOutcome::Removed),
        "the client is told to forget an id that names no session"
    );

    let ended = s.manager.session(Some(id.clone()));
    ended.invalidate().await.unwrap();
    assert_eq!(
        ended.try_save_without_store(),
        None,
        "the delete needs the store"
    );
    assert_eq!(ended.save().await.unwrap(), SaveOutcome::Removed);
}

#[tokio::test]
async fn touches_keep_an_active_session_alive_past_its_idle_timeout() {
    let s = setup(thirty_minutes());
    let id = stored_session(&s, &[("a", 1)]).await;
    for _ in 0..6 {
        s.clock.advance(Duration::from_secs(20 * 60));
        let session = s.manager.session(Some(id.clone()));
        assert_eq!(
            session.get::<i64>("a").await.unwrap(),
            Some(1),
            "an active session stays alive"
        );
        session.save().await.unwrap();
    }
    s.clock.advance(Duration::from_secs(30 * 60));
    let session = s.manager.session(Some(id));
    assert_eq!(session.get::<i64>("a").await.unwrap(), None);
    assert_eq!(
        session.save().await.unwrap(),
        SaveOutcome::Removed,
        "the client must forget an expired id"
    );
}

#[tokio::test]
async fn a_changed_expiry_policy_is_stored_and_decides_when_the_session_ends() {
    // "Remember me": a session of the 30-minute default is given a week.
    let s = setup(thirty_minutes());
    let id = stored_session(&s, &[("a", 1)]).await;
    let week = ExpiryPolicy::idle(Duration::from_secs(7 * 24 * 3600));
    let session = s.manager.session(Some(id.clone()));
    session.set_expiry(week).await.unwrap();
    let SaveOutcome::Stored {
        expires_at, change, ..
    } = session.save().await.unwrap()
    else {
        panic!("expected the change stored")
    };
    assert_eq!(change, StoredChange::Updated);
    let now = s.clock.now();
    assert_eq!(
        expires_at,
        Some(now.saturating_add(Duration::from_secs(7 * 24 * 3600)))
    );

    s.clock.advance(Duration::from_secs(2 * 3600));
    let later = s.manager.session(Some(id.clone()));
    assert_eq!(
        later.get::<i64>("a").await.unwrap(),
        Some(1),
        "alive past 30 minutes"
    );
    let metadata = later.metadata().await.unwrap().unwrap();
    assert_eq!(metadata.expiry, week);

    // And a new session can start with its own policy.
    let short = ExpiryPolicy::idle(Duration::from_secs(60));
    let brief = s.manager.session(None);
    brief.insert("b", &2).await.unwrap();
    brief.set_expiry(short).await.unwrap();
    let SaveOutcome::Stored { id: brief_id, .. } = brief.save().await.unwrap() else {
        panic!("expected a new session")
    };
    s.clock.advance(Duration::from_secs(61));
    let gone = s.manager.session(Some(brief_id));
    assert_eq!(
        gone.get::<i64>("b").await.unwrap(),
        None,
        "ended after its own minute"
    );
}

#[tokio::test]
async fn log_in_cycles_the_id_and_keeps_the_data() {
    let s = setup(thirty_minutes());
    let old = stored_session(&s, &[("cart", 3)]).await;
    let session = s.manager.session(Some(old.clone()));
    session.log_in("alice").await.unwrap();
    let SaveOutcome::Stored {
        id: new,
        change: StoredChange::Renewed,
        ..
    } = session.save().await.unwrap()
    else {
        panic!("login must renew the id");
    };
    assert_ne!(new, old);
    let stale = s.manager.session(Some(old));
    assert!(
        stale.is_new().await.unwrap(),
        "the pre-login id must be dead (fixation)"
    );
    let fresh = s.manager.session(Some(new));
    assert_eq!(fresh.principal().await.unwrap().as_deref(), Some("alice"));
    assert_eq!(fresh.get::<i64>("cart").await.unwrap(), Some(3));
    assert_eq!(s.events.count(EventKind::Renewed), 1);
}

#[tokio::test]
async fn invalidate_deletes_the_record_and_tells_the_client() {
    let s = setup(thirty_minutes());
    let id = stored_session(&s, &[("a", 1)]).await;
    let session = s.manager.session(Some(id.clone()));
    session.insert("a", &2).await.unwrap();
    session.invalidate().await.unwrap();
    assert_eq!(session.save().await.unwrap(), SaveOutcome::Removed);
    assert!(s.manager.session(Some(id)).is_new().await.unwrap());
    assert_eq!(s.events.count(EventKind::Invalidated), 1);
}

#[tokio::test]
async fn a_change_to_a_session_deleted_meanwhile_is_refused() {
    let s = setup(thirty_minutes());
    let id = stored_session(&s, &[("a", 1)]).await;
    let session = s.manager.session(Some(id.clone()));
    session.insert("b", &2).await.unwrap();
    s.store.delete(&id.key()).await.unwrap();
    assert!(matches!(session.save().await, Err(Error::Gone { .. })));
    assert!(
        s.manager.session(Some(id)).is_new().await.unwrap(),
        "the session must not come back"
    );
}

#[tokio::test]
async fn concurrent_requests_changing_different_keys_both_win() {
    let s = setup(thirty_minutes());
    let id = stored_session(&s, &[("seed", 0)]).await;
    let first = s.manager.session(Some(id.clone()));
    let second = s.manager.session(Some(id.clone()));
    first.insert("x", &1).await.unwrap();
    second.insert("y", &2).await.unwrap();
    first.save().await.unwrap();
    second.save().await.unwrap();
    let after = s.manager.session(Some(id));
    assert_eq!(after.get::<i64>("x").await.unwrap(), Some(1));
    assert_eq!(after.get::<i64>("y").await.unwrap(), Some(2));
}

#[tokio::test]
async fn concurrent_requests_changing_the_same_key_conflict_visibly() {
    let s = setup(thirty_minutes());
    let id = stored_session(&s, &[("n", 0)]).await;
    let first = s.manager.session(Some(id.clone()));
    let second = s.manager.session(Some(id.clone()));
    first.insert("n", &1).await.unwrap();
    second.insert("n", &2).await.unwrap();
    first.save().await.unwrap();
    assert!(matches!(second.save().await, Err(Error::Conflict { .. })));
    assert_eq!(s.events.count(EventKind::Conflict), 1);
    assert_eq!(
        s.manager.session(Some(id)).get::<i64>("n").await.unwrap(),
        Some(1)
    );
}

#[tokio::test]
async fn malformed_tokens_never_reach_the_store_and_raise_an_event() {
    let s = setup(thirty_minutes());
    let session = s.manager.session_from_token("../../etc/passwd");
    assert!(session.is_new().await.unwrap());
    assert_eq!(s.counts.total(), 0);
    assert_eq!(s.events.count(EventKind::SuspiciousId), 1);
    assert_eq!(
        session.save().await.unwrap(),
        SaveOutcome::Removed,
        "the bad cookie must be cleared"
    );
}

#[tokio::test]
async fn store_failures_surface_as_backend_errors_and_events() {
    let s = setup(thirty_minutes());
    let id = stored_session(&s, &[("a", 1)]).await;
    s.store.set_failing(true);
    let session = s.manager.session(Some(id.clone()));
    let error = session.get::<i64>("a").await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(s.events.count(EventKind::StoreError) >= 1);
    s.store.set_failing(false);
    assert_eq!(
        session.get::<i64>("a").await.unwrap(),
        Some(1),
        "the handle recovers when the store does"
    );
}

#[tokio::test]
async fn limits_are_checked_on_insert() {
    let s = setup(thirty_minutes());
    let session = s.manager.session(None);
    assert!(matches!(session.insert("", &1).await, Err(Error::Limit(_))));
    assert!(matches!(
        session.insert(&"k".repeat(300), &1).await,
        Err(Error::Limit(_))
    ));
    assert!(matches!(
        session.insert("big", &"x".repeat(2 * 1024 * 1024)).await,
        Err(Error::Limit(_))
    ));
    assert_eq!(
        session.save().await.unwrap(),
        SaveOutcome::Nothing,
        "refused inserts leave nothing to save"
    );
}

#[tokio::test]
async fn handles_can_be_shared_by_concurrent_tasks_of_one_request() {
    let s = setup(thirty_minutes());
    let session = s.manager.session(None);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let session = session.clone();
        tasks.push(tokio::spawn(async move {
            session.insert(&format!("k{i}"), &i).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let SaveOutcome::Stored { id, .. } = session.save().await.unwrap() else {
        panic!()
    };
    assert_eq!(s.manager.session(Some(id)).keys().await.unwrap().len(), 16);
}
