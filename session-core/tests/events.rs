//! Lifecycle events as an application hears them: hooks and broadcast receivers get every event
//! reported after they joined, with the session's key and never its id, and the counters count
//! every event whether anyone listens or not. Events are delivered before `emit` returns, so
//! the receivers here never wait.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use session_core::{
    EventKind, Events, MemoryStore, SaveOutcome, SessionConfig, SessionEvent, SessionId,
    SessionManager, Timestamp,
};
use tokio::sync::broadcast::error::TryRecvError;

fn manager() -> SessionManager {
    SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default())
}

/// A hook that keeps what it hears.
fn recording_hook(events: &Events) -> Arc<Mutex<Vec<SessionEvent>>> {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    events.add_hook(move |event: &SessionEvent| sink.lock().unwrap().push(event.clone()));
    heard
}

/// A new session with one attribute, stored; its id.
async fn created(manager: &SessionManager) -> SessionId {
    let session = manager.session(None);
    session.insert("user", &"ada").await.unwrap();
    match session.save().await.unwrap() {
        SaveOutcome::Stored { id, .. } => id,
        other => panic!("expected a stored session, got {other:?}"),
    }
}

fn kinds(events: &[SessionEvent]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn a_hook_hears_a_session_created_renewed_and_invalidated() {
    let manager = manager();
    let heard = recording_hook(manager.events());

    let id = created(&manager).await;
    let session = manager.session(Some(id.clone()));
    session.cycle_id().await.unwrap();
    let renewed = match session.save().await.unwrap() {
        SaveOutcome::Stored { id, .. } => id,
        other => panic!("expected the renewed session, got {other:?}"),
    };
    let session = manager.session(Some(renewed.clone()));
    session.invalidate().await.unwrap();
    session.save().await.unwrap();

    let heard = heard.lock().unwrap().clone();
    assert_eq!(
        kinds(&heard),
        [
            EventKind::Created,
            EventKind::Renewed,
            EventKind::Invalidated
        ]
    );
    assert_eq!(heard[0].key, Some(id.key()));
    assert_eq!(heard[1].key, Some(renewed.key()), "the new id's key");
    assert_eq!(heard[2].key, Some(renewed.key()));
    let secret = String::from_utf8(id.expose_secret_ascii().to_vec()).unwrap();
    for event in &heard {
        assert!(!format!("{event:?}").contains(&secret), "{event:?}");
    }
}

#[tokio::test]
async fn a_receiver_gets_the_events_reported_after_it_subscribed_in_order() {
    let manager = manager();
    let events = manager.events();
    created(&manager).await;
    let mut receiver = events.subscribe();
    assert_eq!(
        receiver.try_recv(),
        Err(TryRecvError::Empty),
        "nothing from before"
    );

    let first = created(&manager).await;
    let second = created(&manager).await;
    for id in [first, second] {
        let event = receiver.try_recv().expect("an event per new session");
        assert_eq!(
            (event.kind, event.key),
            (EventKind::Created, Some(id.key()))
        );
    }
    assert_eq!(events.count(EventKind::Created), 3, "counted all along");
}

#[tokio::test]
async fn events_are_counted_before_anyone_listens_and_heard_once_someone_does() {
    let events = Events::new();
    let at = Timestamp::from_millis(1_000);
    events.emit(SessionEvent::new(EventKind::Expired, None, at));
    events.emit(SessionEvent::new(EventKind::Expired, None, at));
    assert_eq!(events.count(EventKind::Expired), 2);

    let heard = recording_hook(&events);
    let mut receiver = events.subscribe();
    events.emit(SessionEvent::new(EventKind::Evicted, None, at).with_detail("capacity"));
    assert_eq!(kinds(&heard.lock().unwrap()), [EventKind::Evicted]);
    let event = receiver.try_recv().unwrap();
    assert_eq!(event.detail.as_deref(), Some("capacity"));
    assert_eq!(events.count(EventKind::Expired), 2);
    assert_eq!(events.count(EventKind::Evicted), 1);

    // A hook keeps hearing after every receiver is gone, and a later receiver hears again.
    drop(receiver);
    events.emit(SessionEvent::new(EventKind::Touched, None, at));
    let mut later = events.subscribe();
    events.emit(SessionEvent::new(EventKind::Renewed, None, at));
    assert_eq!(later.try_recv().unwrap().kind, EventKind::Renewed);
    assert_eq!(
        kinds(&heard.lock().unwrap()),
        [EventKind::Evicted, EventKind::Touched, EventKind::Renewed]
    );
}

#[tokio::test]
async fn a_receiver_that_falls_behind_loses_the_oldest_and_is_told_how_many() {
    let events = Events::new();
    let mut receiver = events.subscribe();
    let at = Timestamp::from_millis(1);
    for _ in 0..1_030 {
        events.emit(SessionEvent::new(EventKind::Touched, None, at));
    }
    assert_eq!(receiver.try_recv(), Err(TryRecvError::Lagged(6)));
    let mut rest = 0;
    while receiver.try_recv().is_ok() {
        rest += 1;
    }
    assert_eq!(rest, 1_024, "the newest 1,024 are kept");
    assert_eq!(events.count(EventKind::Touched), 1_030);
}
