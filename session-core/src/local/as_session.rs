//! [`LocalSession`] as a [`Session`]: a draft of the login, loaded at first use, changed in
//! memory and written by `save` under the store's version check.
//!
//! What each part of the trait means for a local login:
//!
//! - **identity**: the store key derived from the program's name (it grants nothing: whoever
//!   can read the store can read the login), present while a login is stored;
//! - **principal**: who is logged in; a record without one is not a login;
//! - **times**: when the login was made and last written, and its absolute end;
//! - **touch**: nothing: a local login's end is absolute, use does not move it;
//! - **extend**: the login ends `by` from now once saved;
//! - **cycle_id**: the key stays (it is the program's), but the save starts a new login: a new
//!   creation time and [`LocalSession::with_login_ttl`]'s lifetime, the data kept;
//! - **save**: writes the changes with [`Record::apply`]'s rule (a conflict with another
//!   process's write is [`Error::Conflict`]); a first save, or one after `cycle_id`, creates
//!   the record;
//! - **invalidate**: deletes the login at once.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::LocalSession;
use crate::change_set::{ChangeSet, PrincipalChange};
use crate::clock::Timestamp;
use crate::error::Result;
use crate::expiry::ExpiryPolicy;
use crate::limits::Limits;
use crate::record::Record;
use crate::session::{Changes, Session, SessionTimes};

/// The login as the [`Session`] methods see it.
#[derive(Default)]
pub(super) struct Draft {
    /// Whether `base` was read from the store since the draft was last reset.
    loaded: bool,
    /// The stored login as loaded or last saved.
    base: Option<Record>,
    /// What changed since.
    changes: ChangeSet,
    /// Whether the save starts a new login (`cycle_id`).
    renew: bool,
}

impl Draft {
    fn summary(&self) -> Changes {
        Changes {
            set: self
                .changes
                .upserts
                .keys()
                .chain(self.changes.additions.keys())
                .cloned()
                .collect(),
            removed: self.changes.removals.clone(),
            cleared: self.changes.cleared,
            principal: !self.changes.principal.is_keep(),
            lifetime: self.changes.expiry.is_some(),
            renewed: self.renew,
            invalidated: false,
        }
    }
}

impl LocalSession {
    /// Drops unsaved [`Session`] changes, so that the next trait call reads the store again.
    pub(super) async fn forget_draft(&self) {
        *self.draft.lock().await = Draft::default();
    }

    /// The draft, with the stored login read into it if this is its first use.
    async fn loaded_draft(&self) -> Result<tokio::sync::MutexGuard<'_, Draft>> {
        let mut draft = self.draft.lock().await;
        if !draft.loaded {
            draft.base = self.store.load(&self.key).await?;
            draft.loaded = true;
        }
        Ok(draft)
    }

    /// A record for a login that starts now, holding `from`'s data and principal if given.
    fn fresh_record(&self, from: Option<&Record>) -> Record {
        let now = self.clock.now();
        let mut record = Record::new(
            self.key,
            self.codec,
            ExpiryPolicy::absolute(self.login_ttl),
            now,
        );
        if let Some(from) = from {
            // Versions start again with the new record, as its own version does.
            record.attributes = from
                .attributes
                .iter()
                .map(|(name, attribute)| {
                    let mut attribute = attribute.clone();
                    attribute.version = 0;
                    (name.clone(), attribute)
                })
                .collect();
            record.principal.clone_from(&from.principal);
        }
        record.version = 0;
        record
    }

    /// The login as it would be once saved.
    fn view(&self, draft: &Draft) -> Result<Option<Record>> {
        let mut record = match (&draft.base, draft.renew) {
            (Some(base), false) => base.clone(),
            (base, _) if draft.renew || !draft.changes.is_empty() => {
                self.fresh_record(base.as_ref())
            }
            _ => return Ok(None),
        };
        let version = record.version;
        record.apply(
            &draft.changes,
            version,
            self.clock.now(),
            &Limits::default(),
        )?;
        Ok(Some(record))
    }
}

#[async_trait]
impl Session for LocalSession {
    type Error = crate::Error;

    async fn identity(&self) -> Result<Option<String>> {
        let draft = self.loaded_draft().await?;
        Ok(draft.base.as_ref().map(|r| r.key.to_string()))
    }

    async fn principal(&self) -> Result<Option<String>> {
        let draft = self.loaded_draft().await?;
        let stored = draft.base.as_ref().and_then(|r| r.principal.as_deref());
        Ok(draft
            .changes
            .principal
            .applied_to(stored)
            .map(str::to_owned))
    }

    async fn set_principal(&self, principal: Option<String>) -> Result<()> {
        let mut draft = self.loaded_draft().await?;
        draft.changes.principal = PrincipalChange::to(principal);
        Ok(())
    }

    async fn times(&self) -> Result<SessionTimes> {
        let draft = self.loaded_draft().await?;
        Ok(self
            .view(&draft)?
            .map(|r| SessionTimes {
                created_at: Some(r.created_at),
                last_access: draft.base.as_ref().map(|b| b.last_access),
                expires_at: r.expires_at(),
            })
            .unwrap_or_default())
    }

    async fn touch(&self) -> Result<()> {
        Ok(())
    }

    async fn extend(&self, by: Duration) -> Result<Option<Timestamp>> {
        let mut draft = self.loaded_draft().await?;
        let now = self.clock.now();
        let created_at = match (&draft.base, draft.renew) {
            (Some(base), false) => base.created_at,
            _ => now,
        };
        let end = now.saturating_add(by);
        draft.changes.expiry = Some(ExpiryPolicy::absolute(
            end.saturating_duration_since(created_at),
        ));
        Ok(Some(end))
    }

    async fn get<T>(&self, key: &str) -> Result<Option<T>>
    where
        T: DeserializeOwned + Send,
    {
        let draft = self.loaded_draft().await?;
        match self.view(&draft)? {
            Some(record) => record.get(key),
            None => Ok(None),
        }
    }

    async fn insert<T>(&self, key: &str, value: &T) -> Result<()>
    where
        T: Serialize + Sync + ?Sized,
    {
        let value = self.codec.encode_value(value)?;
        let mut draft = self.loaded_draft().await?;
        draft.changes.upsert(key.to_owned(), value);
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<bool> {
        let mut draft = self.loaded_draft().await?;
        let was_there = self
            .view(&draft)?
            .is_some_and(|r| r.attributes.contains_key(key));
        if was_there {
            draft.changes.remove(key);
        }
        Ok(was_there)
    }

    async fn keys(&self) -> Result<Vec<String>> {
        let draft = self.loaded_draft().await?;
        Ok(self
            .view(&draft)?
            .map(|r| r.attributes.into_keys().collect())
            .unwrap_or_default())
    }

    async fn changes(&self) -> Changes {
        self.draft.lock().await.summary()
    }

    async fn cycle_id(&self) -> Result<()> {
        self.loaded_draft().await?.renew = true;
        Ok(())
    }

    async fn save(&self) -> Result<()> {
        let _writer = self.writer.lock().await;
        let mut draft = self.loaded_draft().await?;
        if draft.changes.is_empty() && !draft.renew {
            return Ok(());
        }
        match (&draft.base, draft.renew) {
            (Some(base), false) => {
                self.store
                    .save(&self.key, &draft.changes, base.version)
                    .await?;
                draft.base = self.store.load(&self.key).await?;
            }
            (base, _) => {
                let mut record = self.fresh_record(base.as_ref());
                record.apply(&draft.changes, 0, self.clock.now(), &Limits::default())?;
                self.store.delete(&self.key).await?;
                self.store.create(&record).await?;
                draft.base = Some(record);
            }
        }
        draft.changes = ChangeSet::default();
        draft.renew = false;
        Ok(())
    }

    async fn invalidate(&self) -> Result<()> {
        let _writer = self.writer.lock().await;
        self.store.delete(&self.key).await?;
        *self.draft.lock().await = Draft {
            loaded: true,
            ..Draft::default()
        };
        Ok(())
    }
}
