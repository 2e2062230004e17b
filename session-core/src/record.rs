//! The stored form of a session.

use std::time::Duration;

use serde::{Serialize, de::DeserializeOwned};

use crate::addition::add_to_json_integer;
use crate::change_set::{ChangeSet, PrincipalChange};
use crate::clock::Timestamp;
use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::expiry::ExpiryPolicy;
use crate::id::SessionKey;
use crate::limits::{LimitError, Limits};
use crate::record_attributes::{Attribute, Attributes};

/// A session as a store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The key the record is filed under (a digest of the session id).
    pub key: SessionKey,
    /// The codec of the attribute values (and of the record's stored form).
    pub codec: Codec,
    /// Attributes by name (shared with copies of the record until one of them writes).
    pub attributes: Attributes,
    /// Who the session belongs to, once someone logged in.
    pub principal: Option<String>,
    /// When the session was created.
    pub created_at: Timestamp,
    /// When the session was last used (loaded and touched, or saved).
    pub last_access: Timestamp,
    /// How long the session lives.
    pub expiry: ExpiryPolicy,
    /// Incremented by every save that changes something; touches leave it alone.
    pub version: u64,
}

impl Record {
    /// An empty record created at `now` (version 1, as a store holds it after `create`).
    pub fn new(key: SessionKey, codec: Codec, expiry: ExpiryPolicy, now: Timestamp) -> Self {
        Record {
            key,
            codec,
            attributes: Attributes::default(),
            principal: None,
            created_at: now,
            last_access: now,
            expiry,
            version: 1,
        }
    }

    /// When the record expires; `None` when never.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expiry.expires_at(self.created_at, self.last_access)
    }

    /// Whether the record is expired at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expiry
            .is_expired(self.created_at, self.last_access, now)
    }

    /// Time left at `now` (zero when expired, `None` when it never expires).
    pub fn time_left(&self, now: Timestamp) -> Option<Duration> {
        self.expires_at()
            .map(|end| end.saturating_duration_since(now))
    }

    /// Decodes attribute `key`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.attributes
            .get(key)
            .map(|a| self.codec.decode_value(&a.value))
            .transpose()
            .map_err(Error::from)
    }

    /// Encodes `value` with the record's codec and stores it as a new version of `key`
    /// (for building records directly; sessions go through a [`ChangeSet`]).
    pub fn insert<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        let value = self.codec.encode_value(value)?;
        self.attributes.insert(
            key.to_owned(),
            Attribute {
                value,
                version: self.version,
            },
        );
        Ok(())
    }

    /// Marks the record used at `now` without changing its data or version.
    pub fn touch(&mut self, now: Timestamp) {
        self.last_access = self.last_access.max(now);
    }

    /// Bytes the record's data takes: names, values and the principal.
    pub fn data_size(&self) -> usize {
        self.attributes
            .iter()
            .map(|(k, a)| k.len() + a.value.len())
            .sum::<usize>()
            + self.principal.as_ref().map_or(0, String::len)
    }

    /// Checks the record against `limits`.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), LimitError> {
        self.check_limits_after(&ChangeSet::default(), &[], limits)
    }

    /// [`check_limits`](Record::check_limits) of the record `changes` would make, without
    /// making it; `sums` are the values its additions come to.
    fn check_limits_after(
        &self,
        changes: &ChangeSet,
        sums: &[(&String, Vec<u8>)],
        limits: &Limits,
    ) -> Result<(), LimitError> {
        let kept = |name: &str| {
            !changes.cleared
                && !changes.removals.contains(name)
                && !changes.upserts.contains_key(name)
                && !changes.additions.contains_key(name)
        };
        let kept_attributes = self
            .attributes
            .iter()
            .filter(|(name, _)| kept(name))
            .map(|(name, attribute)| (name, attribute.value.len()));
        let upserted = changes
            .upserts
            .iter()
            .filter(|(name, _)| !changes.additions.contains_key(*name))
            .map(|(name, value)| (name, value.len()))
            .chain(sums.iter().map(|(name, value)| (*name, value.len())));
        // One pass: the count, the size, and the first bad name in the order of the resulting
        // record (as a check of that record would find it).
        let (mut count, mut size) = (0usize, 0usize);
        let mut bad_name: Option<(&String, LimitError)> = None;
        for (name, value_len) in kept_attributes.chain(upserted) {
            count += 1;
            size += name.len() + value_len;
            if let Err(error) = limits.check_key(name)
                && bad_name.as_ref().is_none_or(|(first, _)| name < *first)
            {
                bad_name = Some((name, error));
            }
        }
        if count > limits.max_attributes {
            return Err(LimitError::Attributes {
                actual: count,
                limit: limits.max_attributes,
            });
        }
        if let Some((_, error)) = bad_name {
            return Err(error);
        }
        let principal = changes.principal.applied_to(self.principal.as_deref());
        if let Some(principal) = principal {
            limits.check_principal(principal)?;
        }
        let size = size + principal.map_or(0, str::len);
        if size > limits.max_record_bytes {
            return Err(LimitError::RecordSize {
                actual: size,
                limit: limits.max_record_bytes,
            });
        }
        Ok(())
    }

    /// Applies a change set made by a writer that loaded this record at `loaded_version`.
    ///
    /// The rule every store follows: an attribute the change set writes or removes must not
    /// have been written after `loaded_version` by anyone else, and a clear must not drop
    /// anything written after it; otherwise the whole change set is refused with
    /// [`Error::Conflict`]. Attributes the change set does not mention are kept as they are,
    /// so concurrent changes to different attributes merge. On success the version goes up by
    /// one, changed attributes carry the new version and the record counts as accessed at
    /// `now`. Additions apply last, to the values the rest of the change set leaves, by the
    /// rule of [`add_to_json_integer`](crate::add_to_json_integer) (JSON-codec records only);
    /// they never conflict. Limits are checked on the result; on any error the record is left
    /// unchanged.
    pub fn apply(
        &mut self,
        changes: &ChangeSet,
        loaded_version: u64,
        now: Timestamp,
        limits: &Limits,
    ) -> Result<()> {
        let newer = |attribute: &Attribute| attribute.version > loaded_version;
        if changes.cleared
            && let Some((name, _)) = self.attributes.iter().find(|(_, a)| newer(a))
        {
            return Err(self.conflict(format!("clear would drop attribute {name:?}")));
        }
        for name in changes.touched_keys() {
            if self.attributes.get(name).is_some_and(newer) {
                return Err(self.conflict(format!("attribute {name:?}")));
            }
        }

        let sums = self.sums(changes)?;
        // Checked before anything changes, so that a refused change set leaves the record
        // as it was without a copy to roll back to.
        self.check_limits_after(changes, &sums, limits)?;
        self.version += 1;
        let version = self.version;
        if changes.cleared {
            // A fresh map rather than a cleared copy of one another record still shares.
            self.attributes = Attributes::default();
        }
        for name in &changes.removals {
            self.attributes.remove(name);
        }
        let new_names = changes
            .upserts
            .keys()
            .chain(sums.iter().map(|(name, _)| *name))
            .filter(|name| !self.attributes.contains_key(*name))
            .count();
        if new_names > 0 {
            self.attributes.reserve(new_names);
        }
        for (name, value) in &changes.upserts {
            match self.attributes.get_mut(name) {
                Some(attribute) => {
                    attribute.value.clone_from(value);
                    attribute.version = version;
                }
                None => {
                    self.attributes.insert(
                        name.clone(),
                        Attribute {
                            value: value.clone(),
                            version,
                        },
                    );
                }
            }
        }
        for (name, value) in sums {
            self.attributes
                .insert(name.clone(), Attribute { value, version });
        }
        match &changes.principal {
            PrincipalChange::Keep => {}
            PrincipalChange::Set(principal) => self.principal = Some(principal.clone()),
            PrincipalChange::Remove => self.principal = None,
        }
        if let Some(expiry) = changes.expiry {
            self.expiry = expiry;
        }
        self.touch(now);
        Ok(())
    }

    /// What each of `changes`' additions comes to, applied to the value the rest of the change
    /// set leaves.
    fn sums<'c>(&self, changes: &'c ChangeSet) -> Result<Vec<(&'c String, Vec<u8>)>> {
        if changes.additions.is_empty() {
            return Ok(Vec::new());
        }
        if self.codec != Codec::Json {
            return Err(Error::Addition {
                key: self.key,
                attribute: changes.additions.keys().next().cloned().unwrap_or_default(),
                detail: "additions need a record of the JSON codec".into(),
            });
        }
        changes
            .additions
            .iter()
            .map(|(name, amount)| {
                let current = if let Some(value) = changes.upserts.get(name) {
                    Some(value.as_slice())
                } else if changes.cleared || changes.removals.contains(name) {
                    None
                } else {
                    self.attributes.get(name).map(|a| a.value.as_slice())
                };
                add_to_json_integer(current, *amount)
                    .map(|sum| (name, sum))
                    .map_err(|e| Error::Addition {
                        key: self.key,
                        attribute: name.clone(),
                        detail: e.to_string(),
                    })
            })
            .collect()
    }

    /// The record moved to a new key (id cycling): same data, same version.
    pub fn with_key(&self, key: SessionKey) -> Record {
        Record {
            key,
            ..self.clone()
        }
    }

    fn conflict(&self, detail: String) -> Error {
        Error::Conflict {
            key: self.key,
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn time_left_counts_down_to_zero_and_is_none_for_a_session_that_never_expires() {
        let key = SessionKey::derive("test", &["time_left"]);
        let created = Timestamp::from_millis(1_000_000);
        let idle = ExpiryPolicy::idle(Duration::from_secs(60));
        let record = Record::new(key, Codec::Json, idle, created);
        let after = |secs| created.saturating_add(Duration::from_secs(secs));
        assert_eq!(record.time_left(created), Some(Duration::from_secs(60)));
        assert_eq!(record.time_left(after(45)), Some(Duration::from_secs(15)));
        assert_eq!(record.time_left(after(60)), Some(Duration::ZERO));
        assert_eq!(record.time_left(after(3600)), Some(Duration::ZERO));

        let forever = Record::new(key, Codec::Json, ExpiryPolicy::NEVER, created);
        assert_eq!(forever.time_left(after(3600)), None);
    }
}
