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
