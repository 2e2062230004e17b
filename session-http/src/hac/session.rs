//! The HAC client as a [`session_core::Session`]: tools written against the trait (the login
//! flow, status reports) work on a HAC session as on any other.
//!
//! What each part of the trait means for HAC:
//!
//! - **identity**: the cache key's digest (what hac-client-core names the cache file after),
//!   never `JSESSIONID`, which grants the session;
//! - **principal**: the HAC user, once a login or a validated cached session made the client
//!   ready;
//! - **times**: when the session was made and last used, as the cache records them; HAC (Tomcat)
//!   decides when it ends, so there is no expiry to report or extend;
//! - **touch**: validates the session with the server (`GET /hac/`), which also keeps an idle
//!   Tomcat session alive;
//! - **attributes**: data a program keeps with the session for the client's lifetime. They are
//!   not filed: hac-client-core's cache format has no place for them, and the cache must stay
//!   readable by it;
//! - **cycle_id**: HAC gives a new `JSESSIONID` at every login, so right after one there is
//!   nothing to do; otherwise the session is dropped and the next operation logs in afresh;
//! - **save**: files the session (`JSESSIONID`, CSRF token, `ROUTE`) in the cache;
//! - **invalidate**: logs out at the server and drops the session from the client and cache.

use std::time::Duration;

use async_trait::async_trait;
use http::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use session_core::{Changes, Session, SessionTimes, Timestamp};

use super::client::{HacClient, SESSION_COOKIE, form_body};
use super::error::HacError;

fn timestamp(seconds: f64) -> Timestamp {
    // Cache times are seconds since the epoch with a fraction; negative or absurd values from
    // a hand-edited file clamp instead of failing.
    Timestamp::from_millis((seconds.max(0.0) * 1000.0) as u64)
}

fn attribute_error(key: &str, source: serde_json::Error) -> HacError {
    HacError::Attribute {
        key: key.to_owned(),
        source,
    }
}

#[async_trait]
impl Session for HacClient {
    type Error = HacError;

    async fn identity(&self) -> Result<Option<String>, HacError> {
        let has_session = self.cookie_value(&self.state(), SESSION_COOKIE).is_some();
        Ok(has_session.then(|| self.key().digest()))
    }

    async fn principal(&self) -> Result<Option<String>, HacError> {
        Ok(self.state().principal.clone())
    }

    async fn set_principal(&self, principal: Option<String>) -> Result<(), HacError> {
        let mut state = self.state();
        if state.principal != principal {
            state.principal = principal;
            state.tracked.changes.principal = true;
        }
        Ok(())
    }

    async fn times(&self) -> Result<SessionTimes, HacError> {
        let state = self.state();
        Ok(SessionTimes {
            created_at: state.created_at.map(timestamp),
            last_access: state.last_used_at.map(timestamp),
            expires_at: None,
        })
    }

    async fn touch(&self) -> Result<(), HacError> {
        let _operation = self.operation_lock().await;
        if !self.state().ready {
            return Ok(());
        }
        if self.validate().await? {
            self.file_in_cache().await
        } else {
            let mut state = self.state();
            state.ready = false;
            state.principal = None;
            Ok(())
        }
    }

    async fn extend(&self, _by: Duration) -> Result<Option<Timestamp>, HacError> {
        Ok(None)
    }

    async fn get<T>(&self, key: &str) -> Result<Option<T>, HacError>
    where
        T: DeserializeOwned + Send,
    {
        self.state()
            .tracked
            .get(key)
            .map_err(|e| attribute_error(key, e))
    }

    async fn insert<T>(&self, key: &str, value: &T) -> Result<(), HacError>
    where
        T: Serialize + Sync + ?Sized,
    {
        self.state()
            .tracked
            .insert(key, value)
            .map_err(|e| attribute_error(key, e))
    }

    async fn remove(&self, key: &str) -> Result<bool, HacError> {
        Ok(self.state().tracked.remove(key))
    }

    async fn keys(&self) -> Result<Vec<String>, HacError> {
        Ok(self.state().tracked.keys())
    }

    async fn changes(&self) -> Changes {
        self.state().tracked.changes.clone()
    }

    async fn cycle_id(&self) -> Result<(), HacError> {
        let just_logged_in = {
            let mut state = self.state();
            state.tracked.changes.renewed = true;
            let just_logged_in = std::mem::take(&mut state.renewed_by_login);
            if !just_logged_in {
                state.jar.remove_where(|c| c.name == SESSION_COOKIE);
                state.csrf = None;
                state.ready = false;
                state.principal = None;
            }
            just_logged_in
        };
        if !just_logged_in {
            self.drop_from_cache().await?;
        }
        Ok(())
    }

    async fn save(&self) -> Result<(), HacError> {
        self.file_in_cache().await?;
        self.state().tracked.saved();
        Ok(())
    }

    async fn invalidate(&self) -> Result<(), HacError> {
        let _operation = self.operation_lock().await;
        let token = {
            let state = self.state();
            state.ready.then(|| state.csrf.clone().unwrap_or_default())
        };
        if let Some(token) = token {
            // Spring Security's logout: a POST with the CSRF token, answered by a redirect to
            // the login page. The session is dropped here whatever the server says.
            let url = self.url("/hac/logout")?;
            let form = form_body(&[("_csrf", token.as_str())]);
            if let Err(e) = self
                .send(
                    Method::POST,
                    &url,
                    &[("x-csrf-token", token.clone())],
                    Some(form),
                )
                .await
            {
                tracing::debug!(error = %e, "HAC logout failed; dropping the session anyway");
            }
        }
        self.forget_locally().await?;
        Ok(())
    }
}
