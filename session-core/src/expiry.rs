//! When a session ends: an idle timeout and an absolute timeout, together.
//!
//! `expires_at = min(last_access + idle, created_at + absolute)`; either part may be off. A
//! record is expired from `expires_at` on (the boundary instant is already expired).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// How long a session lives.
///
/// ```
/// use std::time::Duration;
/// use session_core::{ExpiryPolicy, Timestamp};
///
/// let policy = ExpiryPolicy::idle(Duration::from_secs(30 * 60))
///     .with_absolute(Duration::from_secs(8 * 3600));
/// let created = Timestamp::from_millis(0);
/// let last_access = Timestamp::from_millis(7 * 3600 * 1000 + 50 * 60 * 1000);
/// // The idle expiry would be at 8:20; the absolute one at 8:00 wins.
/// assert_eq!(
///     policy.expires_at(created, last_access),
///     Some(Timestamp::from_millis(8 * 3600 * 1000))
/// );
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExpiryPolicy {
    /// Time without access after which the session ends; `None` for no idle timeout.
    #[serde(with = "optional_millis", default)]
    pub idle: Option<Duration>,
    /// Time after creation at which the session ends however active; `None` for no limit.
    #[serde(with = "optional_millis", default)]
    pub absolute: Option<Duration>,
}

impl ExpiryPolicy {
    /// A policy under which sessions never expire.
    pub const NEVER: ExpiryPolicy = ExpiryPolicy {
        idle: None,
        absolute: None,
    };

    /// Only an idle timeout.
    pub const fn idle(idle: Duration) -> Self {
        ExpiryPolicy {
            idle: Some(idle),
            absolute: None,
        }
    }

    /// Only an absolute timeout.
    pub const fn absolute(absolute: Duration) -> Self {
        ExpiryPolicy {
            idle: None,
            absolute: Some(absolute),
        }
    }

    /// This policy with an idle timeout.
    pub const fn with_idle(mut self, idle: Duration) -> Self {
        self.idle = Some(idle);
        self
    }

    /// This policy with an absolute timeout.
    pub const fn with_absolute(mut self, absolute: Duration) -> Self {
        self.absolute = Some(absolute);
        self
    }

    /// When a session created at `created_at` and last used at `last_access` expires;
    /// `None` when it never does.
    pub fn expires_at(&self, created_at: Timestamp, last_access: Timestamp) -> Option<Timestamp> {
        let idle_end = self.idle.map(|idle| last_access.saturating_add(idle));
        let absolute_end = self.absolute.map(|abs| created_at.saturating_add(abs));
        match (idle_end, absolute_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether such a session is expired at `now`.
    pub fn is_expired(
        &self,
        created_at: Timestamp,
        last_access: Timestamp,
        now: Timestamp,
    ) -> bool {
        self.expires_at(created_at, last_access)
            .is_some_and(|end| now >= end)
    }
}

/// How often a read-only use of a session extends its idle expiry.
///
/// A touch rewrites only the last-access time, and only when at least `interval` has passed
/// since the last one, so a busy read-only client does not write on every request. The idle
/// expiry therefore runs between `idle - interval` and `idle` after the latest request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TouchPolicy {
    /// Least time between two touches of one session.
    pub interval: Duration,
}

impl TouchPolicy {
    /// The default for an expiry policy: a tenth of the idle timeout, at most one minute.
    pub fn for_expiry(expiry: &ExpiryPolicy) -> Self {
        let interval = expiry
            .idle
            .map(|idle| (idle / 10).min(Duration::from_secs(60)))
            .unwrap_or(Duration::from_secs(60));
        TouchPolicy { interval }
    }

    /// Whether a session last accessed at `last_access` should be touched at `now`.
    pub fn is_due(&self, last_access: Timestamp, now: Timestamp) -> bool {
        now.saturating_duration_since(last_access) >= self.interval
    }
}

mod optional_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}
