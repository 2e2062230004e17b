//! Properties of the per-principal limit's decision, the one rule every store applies when a
//! write gives a principal one more session.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use session_core::{PrincipalLimit, RoomDecision, SessionKey, Timestamp, WhenFull};

/// A principal's other sessions: distinct keys, last accesses from a small range so that ties
/// (broken by key) are common.
fn others() -> impl Strategy<Value = Vec<(SessionKey, Timestamp)>> {
    prop::collection::btree_map(any::<[u8; 32]>(), 0u64..8, 0..12).prop_map(|sessions| {
        sessions
            .into_iter()
            .map(|(key, last)| (SessionKey::from_bytes(key), Timestamp::from_millis(last)))
            .collect()
    })
}

fn when_full() -> impl Strategy<Value = WhenFull> {
    prop_oneof![Just(WhenFull::EvictOldest), Just(WhenFull::Refuse)]
}

proptest! {
    /// Below the limit a write is allowed; at or over it, refused or allowed with evictions
    /// as the policy says.
    #[test]
    fn the_policy_applies_exactly_at_the_limit(others in others(), max in 0usize..14, when_full in when_full()) {
        let decision = PrincipalLimit { max, when_full }.decide(others.clone());
        match decision {
            RoomDecision::Allow => prop_assert!(others.len() < max),
            RoomDecision::Refuse => prop_assert!(others.len() >= max && when_full == WhenFull::Refuse),
            RoomDecision::Evict(_) => prop_assert!(others.len() >= max && when_full == WhenFull::EvictOldest),
        }
    }

    /// Eviction leaves the principal, with the written session, exactly at the limit (one
    /// session, the written one, under a limit of 0), evicting only the principal's sessions,
    /// each once.
    #[test]
    fn eviction_makes_exactly_enough_room(others in others(), max in 0usize..14) {
        let decision = PrincipalLimit { max, when_full: WhenFull::EvictOldest }.decide(others.clone());
        if let RoomDecision::Evict(evicted) = decision {
            let distinct: BTreeSet<SessionKey> = evicted.iter().copied().collect();
            prop_assert_eq!(distinct.len(), evicted.len());
            let known: BTreeSet<SessionKey> = others.iter().map(|(k, _)| *k).collect();
            prop_assert!(distinct.is_subset(&known));
            prop_assert_eq!(others.len() - evicted.len() + 1, max.max(1));
        }
    }

    /// The evicted sessions are the least recently used ones (ties broken by key), listed
    /// least recently used first.
    #[test]
    fn eviction_takes_the_least_recently_used(others in others(), max in 0usize..14) {
        let decision = PrincipalLimit { max, when_full: WhenFull::EvictOldest }.decide(others.clone());
        if let RoomDecision::Evict(evicted) = decision {
            let order = |key: &SessionKey| {
                let last = others.iter().find(|(k, _)| k == key).map(|(_, t)| *t);
                (last, *key)
            };
            let evicted_order: Vec<_> = evicted.iter().map(order).collect();
            prop_assert!(evicted_order.windows(2).all(|w| w[0] < w[1]));
            let kept = others.iter().filter(|(k, _)| !evicted.contains(k));
            if let Some(newest_evicted) = evicted_order.last() {
                for (key, last) in kept {
                    prop_assert!((Some(*last), *key) > *newest_evicted);
                }
            }
        }
    }

    /// The decision depends on the sessions, not on the order a store found them in.
    #[test]
    fn the_order_of_the_candidates_does_not_matter(others in others(), max in 0usize..14, when_full in when_full(), seed in any::<u64>()) {
        let limit = PrincipalLimit { max, when_full };
        let mut shuffled = others.clone();
        let len = shuffled.len();
        if len > 1 {
            for i in 0..len {
                let j = (seed.rotate_left(i as u32) as usize) % len;
                shuffled.swap(i, j);
            }
        }
        prop_assert_eq!(limit.decide(others), limit.decide(shuffled));
    }
}
