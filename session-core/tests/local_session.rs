//! LocalSession: one login for a local program.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use session_core::{Error, LocalSession, MemoryStore, MockClock};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn login_lasts_its_ttl_and_extend_pushes_the_end() {
    let clock = MockClock::new();
    let store = Arc::new(MemoryStore::builder().clock(clock.shared()).build());
    let local = LocalSession::new(store, "tool", clock.shared());
    assert!(!local.is_logged_in().await.unwrap());
    assert!(
        matches!(local.extend(HOUR).await, Err(Error::Gone { .. })),
        "nothing to extend"
    );

    let login = local
        .login("alice", &vec!["scope:read".to_string()], HOUR)
        .await
        .unwrap();
    assert_eq!(
        login.data::<Vec<String>>().unwrap(),
        Some(vec!["scope:read".to_string()])
    );
    clock.advance(HOUR / 2);
    let new_end = local.extend(HOUR).await.unwrap();
    assert_eq!(new_end, login.expires_at.saturating_add(HOUR));
    clock.advance(HOUR + HOUR / 2 - Duration::from_millis(1));
    assert!(local.is_logged_in().await.unwrap());
    clock.advance(Duration::from_millis(1));
    assert!(
        !local.is_logged_in().await.unwrap(),
        "the login ends at the extended end"
    );
}

#[tokio::test]
async fn a_new_login_replaces_the_old_one_and_logout_ends_it() {
    let clock = MockClock::new();
    let store = Arc::new(MemoryStore::builder().clock(clock.shared()).build());
    let local = LocalSession::new(store, "tool", clock.shared());
    local.login("alice", "a", HOUR).await.unwrap();
    local.login("bob", "b", HOUR).await.unwrap();
    let current = local.current().await.unwrap().unwrap();
    assert_eq!(current.principal, "bob");
    assert_eq!(current.data::<String>().unwrap().as_deref(), Some("b"));
    assert!(local.logout().await.unwrap());
    assert!(!local.logout().await.unwrap());
    assert_eq!(local.current().await.unwrap(), None);
}

#[tokio::test]
async fn the_login_survives_a_restart_when_the_store_does() {
    let clock = MockClock::new();
    let store = Arc::new(MemoryStore::builder().clock(clock.shared()).build());
    LocalSession::new(store.clone(), "tool", clock.shared())
        .login("alice", &1, HOUR)
        .await
        .unwrap();
    let restarted = LocalSession::new(store.clone(), "tool", clock.shared());
    assert_eq!(
        restarted
            .current()
            .await
            .unwrap()
            .map(|l| l.principal)
            .as_deref(),
        Some("alice")
    );
    let other_program = LocalSession::new(store, "other", clock.shared());
    assert!(
        !other_program.is_logged_in().await.unwrap(),
        "programs do not share logins"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extend_and_current_racing_never_deadlock() {
    let clock = MockClock::new();
    let store = Arc::new(MemoryStore::builder().clock(clock.shared()).build());
    let local = Arc::new(LocalSession::new(store, "tool", clock.shared()));
    local.login("alice", &0, HOUR).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let local = local.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                local.extend(Duration::from_secs(1)).await.map(|_| ())
            } else {
                local.current().await.map(|c| assert!(c.is_some()))
            }
        }));
    }
    let all = async {
        for task in tasks {
            task.await.unwrap().unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("extend and current must not deadlock");
    let end = local.current().await.unwrap().unwrap().expires_at;
    let start = local.current().await.unwrap().unwrap().logged_in_at;
    assert_eq!(
        end.saturating_duration_since(start),
        HOUR + Duration::from_secs(32),
        "every extend counted once"
    );
}
