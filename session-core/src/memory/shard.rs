//! One shard of the memory store: its records, and the queue that picks which one a full
//! shard lets go.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use crate::clock::Timestamp;
use crate::events::EventKind;
use crate::id::SessionKey;
use crate::record::Record;

use super::key_hasher::BuildKeyHasher;

/// Records by key, and every key in a queue by its record's end: a min-heap of each record's
/// [`Rank`] as it was when the key was last queued.
///
/// A full shard lets go of the record closest to its end: an expired one first, then the one
/// that would expire soonest (with one idle timeout for every session, the least recently
/// used), records that never expire last, by last use. A touch only moves the record's own
/// times; the queue learns of it lazily: freeing room takes the lowest key off the queue, and
/// if its record ranks later now (it was used since), the key goes back at that rank;
/// otherwise the record is the lowest of the shard (no queued rank is above its record's, so
/// none can rank below this one) and goes. That costs a logarithmic step per key taken, and
/// a key goes back at most once per use of its record, so a flood of new sessions into a full
/// store costs each one a few steps instead of a scan of the shard. (A record whose lifetime
/// a save shortened keeps its place until it comes out.)
#[derive(Default)]
pub(super) struct Shard {
    /// Each record found by its own `key`: a map from key to record would hold every key
    /// twice, 32 bytes more per session (and per copy when the table grows).
    records: HashTable<Record>,
    /// Holds every key of `records` at least once, at a rank no later than its record's; a
    /// key whose record is gone stays until it comes out or the queue is compacted.
    queue: BinaryHeap<Reverse<(Rank, SessionKey)>>,
}

/// Where a record stands in the queue: when it expires (the end of time for never), then when
/// it was last used.
type Rank = (Timestamp, Timestamp);

/// Where `key` is looked up in the table.
fn hash(key: &SessionKey) -> u64 {
    BuildKeyHasher::default().hash_one(key)
}

/// Whether a record in the table is the one filed under `key`.
fn filed_under(key: &SessionKey) -> impl Fn(&Record) -> bool + '_ {
    move |record| record.key == *key
}

fn rank(record: &Record) -> Rank {
    let end = record
        .expires_at()
        .unwrap_or(Timestamp::from_millis(u64::MAX));
    (end, record.last_access)
}

impl Shard {
    /// The record under `key`.
    pub(super) fn get(&self, key: &SessionKey) -> Option<&Record> {
        self.records.find(hash(key), filed_under(key))
    }

    /// The record under `key`, to change in place (all but its key, which files it).
    pub(super) fn get_mut(&mut self, key: &SessionKey) -> Option<&mut Record> {
        self.records.find_mut(hash(key), filed_under(key))
    }

    /// Every record.
    pub(super) fn values(&self) -> impl Iterator<Item = &Record> {
        self.records.iter()
    }

    /// Files `record` under its key, replacing what was there (which is returned).
    pub(super) fn insert(&mut self, record: Record) -> Option<Record> {
        let key = record.key;
        match self
            .records
            .entry(hash(&key), filed_under(&key), |r| hash(&r.key))
        {
            Entry::Occupied(mut filed) => Some(std::mem::replace(filed.get_mut(), record)),
            Entry::Vacant(slot) => {
                self.queue.push(Reverse((rank(&record), key)));
                slot.insert(record);
                None
            }
        }
    }

    /// Removes the record under `key`.
    pub(super) fn remove(&mut self, key: &SessionKey) -> Option<Record> {
        let removed = self
            .records
            .find_entry(hash(key), filed_under(key))
            .ok()
            .map(|filed| filed.remove().0);
        // Keys of removed records are dropped from the queue in one pass once they are the
        // larger part of it: linear work after at least as many removals.
        if self.queue.len() > 2 * self.records.len() + 32 {
            let Shard { records, queue } = self;
            queue.retain(|Reverse((_, key))| records.find(hash(key), filed_under(key)).is_some());
        }
        removed
    }

    /// When the shard holds `capacity` records or more, removes the record closest to its end
    /// to make room for another: reported as [`EventKind::Expired`] when it is expired at
    /// `now`, else as [`EventKind::Evicted`].
    pub(super) fn make_room(
        &mut self,
        capacity: usize,
        now: Timestamp,
    ) -> Option<(Record, EventKind)> {
        if self.records.len() < capacity {
            return None;
        }
        while let Some(Reverse((queued, key))) = self.queue.pop() {
            // One probe finds the record, and removes it if it goes.
            let Ok(filed) = self.records.find_entry(hash(&key), filed_under(&key)) else {
                continue;
            };
            let current = rank(filed.get());
            if current > queued {
                self.queue.push(Reverse((current, key)));
                continue;
            }
            let kind = if filed.get().is_expired(now) {
                EventKind::Expired
            } else {
                EventKind::Evicted
            };
            return Some((filed.remove().0, kind));
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
        shard.insert(record);
    }

    #[test]
    fn a_shard_below_capacity_lets_nothing_go() {
        let mut shard = Shard::default();
        file(&mut shard, record(1, ExpiryPolicy::NEVER, at(0)));
        assert!(shard.make_room(2, at(1)).is_none());
        assert_eq!(shard.records.len(), 1);
    }

    #[test]
    fn the_least_recently_used_record_goes() {
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
    fn an_expired_record_goes_first_and_one_that_never_expires_last() {
        let mut shard = Shard::default();
        let half_hour = ExpiryPolicy::idle(Duration::from_secs(1800));
        file(&mut shard, record(1, ExpiryPolicy::NEVER, at(0)));
        file(&mut shard, record(2, half_hour, at(1)));
        file(
            &mut shard,
            record(3, ExpiryPolicy::idle(Duration::from_secs(5)), at(2)),
        );
        let (gone, kind) = shard.make_room(3, at(10)).expect("a full shard makes room");
        assert_eq!(
            (gone.key, kind),
            (SessionKey::from_bytes([3; 32]), EventKind::Expired),
            "expired, though used after the others"
        );
        file(&mut shard, record(4, half_hour, at(10)));
        let (gone, kind) = shard.make_room(3, at(11)).expect("a full shard makes room");
        assert_eq!(
            (gone.key, kind),
            (SessionKey::from_bytes([2; 32]), EventKind::Evicted),
            "the live record that would expire soonest, not the one that never does"
        );
    }

    #[derive(Clone, Debug)]
    enum Step {
        /// File a new record `n` (idle timeout in seconds, none for never), making room first.
        File(u8, Option<u64>),
        Touch(u8),
        Remove(u8),
        Wait(u64),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            (0u8..24, proptest::option::of(1u64..100)).prop_map(|(n, idle)| Step::File(n, idle)),
            (0u8..24).prop_map(Step::Touch),
            (0u8..24).prop_map(Step::Remove),
            (1u64..30).prop_map(Step::Wait),
        ]
    }

    proptest::proptest! {
        /// Whatever is filed, touched, removed and however time passes: the shard never holds
        /// more than its capacity, every record's key is queued, and the record let go is
        /// always one of those closest to their end.
        #[test]
        fn a_full_shard_lets_go_of_the_record_closest_to_its_end(
            capacity in 1usize..8,
            steps in proptest::collection::vec(step(), 1..120),
        ) {
            let mut shard = Shard::default();
            let mut now = at(0);
            for step in steps {
                match step {
                    Step::File(n, idle) => {
                        let key = SessionKey::from_bytes([n; 32]);
                        if shard.get(&key).is_some() {
                            continue;
                        }
                        let lowest = shard.values().map(rank).min();
                        if let Some((gone, kind)) = shard.make_room(capacity, now) {
                            proptest::prop_assert_eq!(Some(rank(&gone)), lowest);
                            proptest::prop_assert_eq!(kind == EventKind::Expired, gone.is_expired(now));
                        }
                        let expiry = idle.map_or(ExpiryPolicy::NEVER, |s| {
                            ExpiryPolicy::idle(Duration::from_secs(s))
                        });
                        file(&mut shard, record(n, expiry, now));
                    }
                    Step::Touch(n) => {
                        if let Some(record) = shard.get_mut(&SessionKey::from_bytes([n; 32])) {
                            record.touch(now);
                        }
                    }
                    Step::Remove(n) => {
                        shard.remove(&SessionKey::from_bytes([n; 32]));
                    }
                    Step::Wait(seconds) => {
                        now = Timestamp::from_millis(now.as_millis() + seconds * 1000);
                    }
                }
                proptest::prop_assert!(shard.records.len() <= capacity);
                for key in shard.values().map(|r| &r.key) {
                    proptest::prop_assert!(
                        shard.queue.iter().any(|Reverse((_, queued))| queued == key),
                        "a record's key is missing from the queue"
                    );
                }
            }
        }
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
