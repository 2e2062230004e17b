//! One shard of the memory store: its records, and the queue that picks which one a full
//! shard lets go.

use std::collections::{HashMap, VecDeque};

use crate::clock::Timestamp;
use crate::events::EventKind;
use crate::id::SessionKey;
use crate::record::Record;

/// Records by key, and every key in a queue by the time it was last queued: when it was
/// filed, or, for a record used since, the time of that use (its second chance).
///
/// Freeing room takes keys off the front of the queue until one names a record that is
/// expired or was not used since it was queued; a record used since goes to the back. That
/// lets go of the least recently used record (nearly: a record is ranked by its use as of
/// the last time it reached the front), at constant amortized cost and without scanning the
/// shard, so a flood of new sessions into a full store costs each one about one step.
#[derive(Default)]
pub(super) struct Shard {
    records: HashMap<SessionKey, Record>,
    /// Holds every key of `records` at least once; a key whose record is gone stays until it
    /// reaches the front or the queue is compacted.
    queue: VecDeque<(SessionKey, Timestamp)>,
}

impl Shard {
    /// The record under `key`.
    pub(super) fn get(&self, key: &SessionKey) -> Option<&Record> {
        self.records.get(key)
    }

    /// The record under `key`, to change in place.
    pub(super) fn get_mut(&mut self, key: &SessionKey) -> Option<&mut Record> {
        self.records.get_mut(key)
    }

    /// Every record.
    pub(super) fn values(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    /// Files `record` under `key`, replacing what was there (which is returned).
    pub(super) fn insert(&mut self, key: SessionKey, record: Record) -> Option<Record> {
        let last_access = record.last_access;
        let replaced = self.records.insert(key, record);
        if replaced.is_none() {
            self.queue.push_back((key, last_access));
        }
        replaced
    }

    /// Removes the record under `key`.
    pub(super) fn remove(&mut self, key: &SessionKey) -> Option<Record> {
        let removed = self.records.remove(key);
        // Keys of removed records are dropped from the queue in one pass once they are the
        // larger part of it: linear work after at least as many removals.
        if self.queue.len() > 2 * self.records.len() + 32 {
            let Shard { records, queue } = self;
            queue.retain(|(key, _)| records.contains_key(key));
        }
        removed
    }

    /// When the shard holds `capacity` records or more, removes one to make room for another:
    /// the first one from the front of the queue that is expired at `now` (reported as
    /// [`EventKind::Expired`]) or not used since it was queued ([`EventKind::Evicted`]).
    pub(super) fn make_room(
        &mut self,
        capacity: usize,
        now: Timestamp,
    ) -> Option<(Record, EventKind)> {
        if self.records.len() < capacity {
            return None;
        }
        // Every pass either ends or moves a key that was used since it was queued to the back
        // with the time of that use, so each key comes round at most twice.
        while let Some((key, queued_at)) = self.queue.pop_front() {
            let Some(record) = self.records.get(&key) else {
                continue;
            };
            let kind = if record.is_expired(now) {
                EventKind::Expired
            } else if record.last_access > queued_at {
                self.queue.push_back((key, record.last_access));
                continue;
            } else {
                EventKind::Evicted
            };
            return self.records.remove(&key).map(|record| (record, kind));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::codec::Codec;
    use crate::expiry::ExpiryPolicy;

    fn record(n: u8, expiry: ExpiryPolicy, at: Timestamp) -> Record {
        Record::new(SessionKey::from_bytes([n; 32]), Codec::Json, expiry, at)
    }

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_millis(1_000_000 + seconds * 1000)
    }

    fn file(shard: &mut Shard, record: Record) {
        shard.insert(record.key, record);
    }

    #[test]
    fn a_shard_below_capacity_lets_nothing_go() {
        let mut shard = Shard::default();
        file(&mut shard, record(1, ExpiryPolicy::NEVER, at(0)));
        assert!(shard.make_room(2, at(1)).is_none());
        assert_eq!(shard.records.len(), 1);
    }

    #[test]
    fn the_least_recently_used_record_goes_and_a_used_one_gets_a_second_chance() {
        let mut shard = Shard::default();
        for n in 1..=3 {
            file(&mut shard, record(n, ExpiryPolicy::NEVER, at(u64::from(n))));
        }
        // The oldest is used again: the next oldest goes instead.
        if let Some(first) = shard.get_mut(&SessionKey::from_bytes([1; 32])) {
            first.touch(at(10));
        }
        let (gone, kind) = shard.make_room(3, at(11)).expect("a full shard makes room");
        assert_eq!(
            (gone.key, kind),
            (SessionKey::from_bytes([2; 32]), EventKind::Evicted)
        );
        file(&mut shard, record(4, ExpiryPolicy::NEVER, at(11)));
        let (gone, _) = shard.make_room(3, at(12)).expect("a full shard makes room");
        assert_eq!(gone.key, SessionKey::from_bytes([3; 32]));
        file(&mut shard, record(5, ExpiryPolicy::NEVER, at(12)));
        let (gone, _) = shard.make_room(3, at(13)).expect("a full shard makes room");
        assert_eq!(
            gone.key,
            SessionKey::from_bytes([1; 32]),
            "used at 10, before 4 and 5"
        );
    }

    #[test]
    fn an_expired_record_at_the_front_goes_as_expired() {
        let mut shard = Shard::default();
        file(
            &mut shard,
            record(1, ExpiryPolicy::idle(Duration::from_secs(5)), at(0)),
        );
        file(&mut shard, record(2, ExpiryPolicy::NEVER, at(1)));
        let (gone, kind) = shard.make_room(2, at(10)).expect("a full shard makes room");
        assert_eq!(
            (gone.key, kind),
            (SessionKey::from_bytes([1; 32]), EventKind::Expired)
        );
    }

    #[test]
    fn removed_keys_are_skipped_and_compacted_away() {
        let mut shard = Shard::default();
        for n in 0..200u8 {
            file(&mut shard, record(n, ExpiryPolicy::NEVER, at(u64::from(n))));
        }
        for n in 0..190u8 {
            shard.remove(&SessionKey::from_bytes([n; 32]));
        }
        assert!(
            shard.queue.len() <= 2 * shard.records.len() + 32,
            "{}",
            shard.queue.len()
        );
        let (gone, _) = shard
            .make_room(10, at(300))
            .expect("a full shard makes room");
        assert_eq!(gone.key, SessionKey::from_bytes([190; 32]));
    }
}
