//! The per-principal session limit and the one rule every store follows to keep it.
//!
//! Each store finds the principal's other live sessions its own way (an index, a query, a scan)
//! and applies the outcome in its own transaction, but what to do with them is decided here
//! only, so that the stores cannot drift apart on who is evicted or when a login is refused.

use crate::clock::Timestamp;
use crate::error::Error;
use crate::events::{EventKind, SessionEvent};
use crate::id::SessionKey;

/// A per-principal session limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrincipalLimit {
    /// Most live sessions one principal may have.
    pub max: usize,
    /// What to do when a session would exceed it.
    pub when_full: WhenFull,
}

/// What a store does when a principal would have more sessions than allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// End the principal's least recently used sessions to make room.
    EvictOldest,
    /// Refuse the new session with [`Error::PrincipalLimit`].
    Refuse,
}

/// What a store does before a write gives a principal one more session
/// (see [`PrincipalLimit::decide`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomDecision {
    /// The principal has room: write.
    Allow,
    /// Write, and end these sessions of the principal, least recently used first. The write's
    /// own checks (gone, conflict, record limits) come first: a write that fails them evicts
    /// nobody.
    Evict(Vec<SessionKey>),
    /// Do not write; report [`PrincipalLimit::refusal`] — unless the write fails its own checks
    /// (gone, conflict, record limits), which are reported instead.
    Refuse,
}

impl PrincipalLimit {
    /// Decides what a write that gives the principal one more session must do.
    ///
    /// `others` are the principal's other live sessions (never the one being written) as
    /// `(key, last access)`, in any order. Below the limit the write is allowed; at or over it,
    /// [`WhenFull::Refuse`] refuses and [`WhenFull::EvictOldest`] evicts the least recently
    /// used sessions (ties broken by key) until the principal, with the written session, is at
    /// the limit. (A limit of 0 refuses every session under `Refuse`; under `EvictOldest` it
    /// evicts every other session, leaving the written one.)
    pub fn decide(
        &self,
        others: impl IntoIterator<Item = (SessionKey, Timestamp)>,
    ) -> RoomDecision {
        let mut others: Vec<(Timestamp, SessionKey)> =
            others.into_iter().map(|(key, last)| (last, key)).collect();
        if others.len() < self.max {
            return RoomDecision::Allow;
        }
        if self.when_full == WhenFull::Refuse {
            return RoomDecision::Refuse;
        }
        let excess = others.len() + 1 - self.max.max(1);
        others.sort_unstable();
        RoomDecision::Evict(
            others
                .into_iter()
                .take(excess)
                .map(|(_, key)| key)
                .collect(),
        )
    }

    /// The error a refused write reports.
    pub fn refusal(&self) -> Error {
        Error::PrincipalLimit { max: self.max }
    }

    /// The event a store reports for a session it evicted to keep this limit.
    pub fn eviction_event(key: SessionKey, now: Timestamp) -> SessionEvent {
        SessionEvent::new(EventKind::Evicted, Some(key), now)
            .with_detail("per-principal session limit")
    }
}
