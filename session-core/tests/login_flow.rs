//! The one login flow, `log_in`, over a store session: a good login renews the id and records
//! the principal in one save; a refused one leaves the session as it was.

use std::sync::Arc;

use async_trait::async_trait;
use session_core::{
    AuthError, Authenticator, LoginError, MemoryStore, PasswordCredentials, Session, SessionConfig,
    SessionManager, log_in,
};

struct OnePassword;

#[async_trait]
impl Authenticator for OnePassword {
    type Credentials = PasswordCredentials;
    type Identity = String;

    async fn authenticate(&self, credentials: &PasswordCredentials) -> Result<String, AuthError> {
        if credentials.username == "alice" && credentials.password == "wonderland" {
            Ok(credentials.username.clone())
        } else {
            Err(AuthError::InvalidCredentials)
        }
    }
}

fn credentials(password: &str) -> PasswordCredentials {
    PasswordCredentials::new("alice", password)
}

#[tokio::test]
async fn a_good_login_renews_the_id_keeps_the_data_and_records_the_principal() {
    let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
    let anonymous = manager.session(None);
    anonymous.insert("cart", &vec!["book"]).await.unwrap();
    anonymous.save().await.unwrap();
    let before = anonymous.id().await.unwrap().unwrap();

    let session = manager.session(Some(before.clone()));
    let principal = log_in(&session, &OnePassword, &credentials("wonderland"))
        .await
        .unwrap();
    assert_eq!(principal, "alice");
    assert!(session.changes().await.is_empty(), "the flow saved");

    let after = session.id().await.unwrap().unwrap();
    assert_ne!(after, before, "the id was cycled");
    let renewed = manager.session(Some(after));
    assert_eq!(
        Session::principal(&renewed).await.unwrap().as_deref(),
        Some("alice")
    );
    assert_eq!(
        renewed.get::<Vec<String>>("cart").await.unwrap(),
        Some(vec!["book".into()])
    );
    let old = manager.session(Some(before));
    assert!(old.is_new().await.unwrap(), "the old id names nothing");
}

#[tokio::test]
async fn a_refused_login_leaves_the_session_untouched() {
    let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
    let session = manager.session(None);
    session.insert("cart", &1).await.unwrap();
    session.save().await.unwrap();
    let id = session.id().await.unwrap().unwrap();

    let session = manager.session(Some(id.clone()));
    let refused = log_in(&session, &OnePassword, &credentials("guess")).await;
    assert!(matches!(
        refused,
        Err(LoginError::Auth(AuthError::InvalidCredentials))
    ));
    assert!(session.changes().await.is_empty());
    let again = manager.session(Some(id));
    assert_eq!(Session::principal(&again).await.unwrap(), None);
    assert_eq!(again.get::<i32>("cart").await.unwrap(), Some(1));
}

#[tokio::test]
async fn changes_name_what_a_save_would_write() {
    let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
    let session = manager.session(None);
    assert!(!Session::is_modified(&session).await);
    session.insert("a", &1).await.unwrap();
    session.add("n", 2).await.unwrap();
    Session::set_principal(&session, Some("bob".into()))
        .await
        .unwrap();
    let changes = session.changes().await;
    assert_eq!(changes.set.into_iter().collect::<Vec<_>>(), ["a", "n"]);
    assert!(changes.principal && !changes.renewed && !changes.invalidated);
    session.save().await.unwrap();
    assert!(session.changes().await.is_empty());
}

mod local_login {
    //! The same flow over a local program's login: the login is created by the flow's save,
    //! lasts the configured lifetime, and a refused login writes nothing.

    use std::time::Duration;

    use super::*;
    use session_core::{LocalSession, MockClock};

    fn local(clock: &MockClock, store: Arc<MemoryStore>) -> LocalSession {
        LocalSession::new(store, "audex", clock.shared()).with_login_ttl(Duration::from_secs(600))
    }

    #[tokio::test]
    async fn a_good_login_is_stored_with_its_lifetime() {
        let clock = MockClock::new();
        let store = Arc::new(MemoryStore::builder().clock(clock.shared()).build());
        let session = local(&clock, store.clone());
        assert_eq!(session.identity().await.unwrap(), None);

        log_in(&session, &OnePassword, &credentials("wonderland"))
            .await
            .unwrap();
        assert!(!session.is_modified().await);
        let stored = session.current().await.unwrap().expect("logged in");
        assert_eq!(stored.principal, "alice");
        assert_eq!(
            stored.expires_at,
            stored.logged_in_at.saturating_add(Duration::from_secs(600))
        );
        // Another handle (another run of the program) sees the login.
        let again = local(&clock, store);
        assert_eq!(again.principal().await.unwrap().as_deref(), Some("alice"));
        assert!(again.identity().await.unwrap().is_some());
        clock.advance(Duration::from_secs(601));
        assert!(!again.is_logged_in().await.unwrap());
    }

    #[tokio::test]
    async fn a_refused_login_writes_nothing() {
        let clock = MockClock::new();
        let store = Arc::new(MemoryStore::builder().clock(clock.shared()).build());
        let session = local(&clock, store);
        let refused = log_in(&session, &OnePassword, &credentials("guess")).await;
        assert!(matches!(
            refused,
            Err(LoginError::Auth(AuthError::InvalidCredentials))
        ));
        assert!(!session.is_modified().await);
        assert!(!session.is_logged_in().await.unwrap());
    }

    #[tokio::test]
    async fn attributes_extend_and_invalidate_through_the_trait() {
        let clock = MockClock::new();
        let store = Arc::new(MemoryStore::builder().clock(clock.shared()).build());
        let session = local(&clock, store.clone());
        log_in(&session, &OnePassword, &credentials("wonderland"))
            .await
            .unwrap();

        session.insert("token", "t0k3n").await.unwrap();
        assert_eq!(
            session.changes().await.set.into_iter().collect::<Vec<_>>(),
            ["token"]
        );
        assert_eq!(
            session.get::<String>("token").await.unwrap().as_deref(),
            Some("t0k3n")
        );
        clock.advance(Duration::from_secs(300));
        // The trait's extend (from now, on save), not the inherent one (from the end, at once).
        let end = Session::extend(&session, Duration::from_secs(3600))
            .await
            .unwrap();
        assert!(session.changes().await.lifetime);
        session.save().await.unwrap();
        let stored = local(&clock, store.clone());
        assert_eq!(stored.keys().await.unwrap(), ["token"]);
        assert_eq!(stored.times().await.unwrap().expires_at, end);

        // Re-login (a new id cycle) keeps the data and starts the lifetime again.
        let first_login = stored.current().await.unwrap().unwrap();
        clock.advance(Duration::from_secs(60));
        log_in(&stored, &OnePassword, &credentials("wonderland"))
            .await
            .unwrap();
        let renewed = stored.current().await.unwrap().unwrap();
        assert_eq!(
            renewed.logged_in_at,
            first_login
                .logged_in_at
                .saturating_add(Duration::from_secs(360))
        );
        assert_eq!(
            renewed.expires_at,
            renewed
                .logged_in_at
                .saturating_add(Duration::from_secs(600))
        );
        assert_eq!(
            stored.get::<String>("token").await.unwrap().as_deref(),
            Some("t0k3n")
        );

        assert!(stored.remove("token").await.unwrap());
        assert!(!stored.remove("token").await.unwrap());
        stored.invalidate().await.unwrap();
        assert_eq!(stored.identity().await.unwrap(), None);
        assert!(!session.is_logged_in().await.unwrap());
    }

    #[tokio::test]
    async fn a_concurrent_write_by_another_process_is_a_conflict_not_a_lost_update() {
        let clock = MockClock::new();
        let store = Arc::new(MemoryStore::builder().clock(clock.shared()).build());
        let first = local(&clock, store.clone());
        log_in(&first, &OnePassword, &credentials("wonderland"))
            .await
            .unwrap();
        let second = local(&clock, store.clone());
        first.insert("token", "one").await.unwrap();
        second.insert("token", "two").await.unwrap();
        first.save().await.unwrap();
        assert!(matches!(
            second.save().await,
            Err(session_core::Error::Conflict { .. })
        ));
        let reader = local(&clock, store);
        assert_eq!(
            reader.get::<String>("token").await.unwrap().as_deref(),
            Some("one")
        );
    }
}
