//! The arithmetic of login throttling: exponential backoff over a key's recent failures.
//! Pure functions of a state and the current time, shared by every [`ThrottleState`].
//!
//! [`ThrottleState`]: super::ThrottleState

use std::time::Duration;

use crate::clock::Timestamp;

/// What is remembered about one key (a principal or a client address): how many attempts
/// have counted against it and when the last one was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttemptState {
    /// Attempts counted since the key was last cleared or forgotten.
    pub failures: u32,
    /// When the last counted attempt was made.
    pub last: Timestamp,
}

impl AttemptState {
    /// The compact text form `failures:last_millis` (how shared backends store it).
    pub fn encode(&self) -> String {
        format!("{}:{}", self.failures, self.last.as_millis())
    }

    /// Parses [`encode`](AttemptState::encode)'s form; `None` for anything else.
    pub fn decode(text: &str) -> Option<AttemptState> {
        let (failures, last) = text.split_once(':')?;
        Some(AttemptState {
            failures: failures.parse().ok()?,
            last: Timestamp::from_millis(last.parse().ok()?),
        })
    }
}

/// Exponential backoff: the first `free_attempts` attempts in a row may follow each other at
/// once; after that, once *n* attempts have counted the next must wait
/// `base · 2^(n − free_attempts)` after the previous one, at most `max`. A key that has not
/// been tried for `forget_after` starts over.
///
/// Every attempt counts when it is *allowed* (before the password is checked), so a burst
/// of concurrent guesses cannot all slip through before the first failure is recorded; a
/// successful login clears the principal's count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts allowed without waiting.
    pub free_attempts: u32,
    /// The wait before the first attempt past the free ones.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
    /// How long after its last attempt a key is forgotten.
    pub forget_after: Duration,
}

/// What [`Backoff::decide`] says about an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; the key's state becomes this.
    Allow(AttemptState),
    /// Too soon: try again after this long.
    Wait(Duration),
}

impl Backoff {
    /// The default for one principal: 5 free attempts, then 1 s doubling up to 5 min,
    /// forgotten after an hour of quiet.
    pub const PER_PRINCIPAL: Backoff = Backoff {
        free_attempts: 5,
        base: Duration::from_secs(1),
        max: Duration::from_secs(300),
        forget_after: Duration::from_secs(3600),
    };

    /// The default for one client address (many people may share one): 20 free attempts,
    /// then 1 s doubling up to 1 min, forgotten after an hour of quiet.
    pub const PER_ADDRESS: Backoff = Backoff {
        free_attempts: 20,
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
        forget_after: Duration::from_secs(3600),
    };

    /// How long an attempt must wait after the previous one once `failures` attempts have
    /// counted.
    pub fn delay(&self, failures: u32) -> Duration {
        let Some(past_free) = failures.checked_sub(self.free_attempts) else {
            return Duration::ZERO;
        };
        // 2^31 times the base is beyond any sensible cap; stop doubling there.
        let doublings = past_free.min(31);
        self.base
            .checked_mul(1u32 << doublings)
            .map_or(self.max, |wait| wait.min(self.max))
    }

    /// Whether an attempt at `now` may go ahead, given the key's stored state.
    pub fn decide(&self, state: Option<AttemptState>, now: Timestamp) -> Decision {
        let current = state.filter(|s| now.saturating_duration_since(s.last) < self.forget_after);
        let Some(current) = current else {
            return Decision::Allow(AttemptState {
                failures: 1,
                last: now,
            });
        };
        let due = current.last.saturating_add(self.delay(current.failures));
        if now < due {
            return Decision::Wait(due.saturating_duration_since(now));
        }
        Decision::Allow(AttemptState {
            failures: current.failures.saturating_add(1),
            last: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn backoff() -> impl Strategy<Value = Backoff> {
        (0u32..10, 1u64..5_000, 1u64..600_000, 1u64..7_200_000).prop_map(
            |(free, base, max, forget)| Backoff {
                free_attempts: free,
                base: Duration::from_millis(base),
                max: Duration::from_millis(max),
                forget_after: Duration::from_millis(forget),
            },
        )
    }

    #[test]
    fn the_defaults_double_after_the_free_attempts() {
        let b = Backoff::PER_PRINCIPAL;
        let delays: Vec<_> = (0..12).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(delays, [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64]);
        assert_eq!(b.delay(40), Duration::from_secs(300));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn state_text_form_round_trips_and_rejects_junk() {
        let state = AttemptState {
            failures: 7,
            last: Timestamp::from_millis(1_700_000_000_123),
        };
        assert_eq!(AttemptState::decode(&state.encode()), Some(state));
        for junk in ["", "7", "x:1", "1:y", "-1:5"] {
            assert_eq!(AttemptState::decode(junk), None, "{junk}");
        }
    }

    proptest! {
        #[test]
        fn delays_never_shrink_and_never_pass_the_cap(b in backoff(), n in 0u32..200) {
            prop_assert!(b.delay(n) <= b.delay(n + 1));
            prop_assert!(b.delay(n) <= b.max);
            if n < b.free_attempts {
                prop_assert_eq!(b.delay(n), Duration::ZERO);
            }
        }

        /// An attacker who tries again the moment it is allowed gets the free attempts at once
        /// and then one attempt per delay; a try a millisecond early is refused with exactly
        /// that millisecond to wait, and counts nothing.
        #[test]
        fn an_eager_attacker_waits_exactly_the_delays(b in backoff(), rounds in 1usize..40) {
            let mut now = Timestamp::from_millis(1_000_000_000);
            let mut state: Option<AttemptState> = None;
            for _ in 0..rounds {
                let failures = state.map_or(0, |s| s.failures);
                let wait = if state.is_some() { b.delay(failures) } else { Duration::ZERO };
                let forgotten = wait >= b.forget_after;
                if !wait.is_zero() && !forgotten {
                    let early = now.saturating_add(wait - Duration::from_millis(1));
                    prop_assert_eq!(b.decide(state, early), Decision::Wait(Duration::from_millis(1)));
                }
                now = now.saturating_add(wait);
                let expected = if forgotten { 1 } else { failures + 1 };
                prop_assert_eq!(
                    b.decide(state, now),
                    Decision::Allow(AttemptState { failures: expected, last: now })
                );
                state = Some(AttemptState { failures: expected, last: now });
            }
        }

        /// However fast an attacker tries during a window, the attempts allowed are at most
        /// the free ones, the ramp up to the cap (one per doubling) and one per cap after it.
        #[test]
        fn attempts_in_a_window_are_bounded(b in backoff(), tries in 1u32..3_000, step_ms in 1u64..2_000) {
            prop_assume!(b.forget_after > b.max + Duration::from_millis(step_ms));
            let start = Timestamp::from_millis(5_000_000_000);
            let mut state = None;
            let mut allowed = 0u64;
            let mut now = start;
            for _ in 0..tries {
                if let Decision::Allow(next) = b.decide(state, now) {
                    allowed += 1;
                    state = Some(next);
                }
                now = now.saturating_add(Duration::from_millis(step_ms));
            }
            let window = now.saturating_duration_since(start).as_millis() as u64;
            let max_ms = b.max.as_millis() as u64;
            let bound = u64::from(b.free_attempts) + 33 + window / max_ms + 1;
            prop_assert!(allowed <= bound, "{allowed} > {bound}");
        }

        #[test]
        fn a_quiet_key_is_forgotten(b in backoff(), failures in 0u32..100) {
            let last = Timestamp::from_millis(9_000_000);
            let state = AttemptState { failures, last };
            let later = last.saturating_add(b.forget_after);
            prop_assert_eq!(
                b.decide(Some(state), later),
                Decision::Allow(AttemptState { failures: 1, last: later })
            );
        }
    }

    #[test]
    fn a_refusal_counts_nothing() {
        let b = Backoff {
            free_attempts: 2,
            base: SECOND,
            max: 10 * SECOND,
            forget_after: 100 * SECOND,
        };
        let t0 = Timestamp::from_millis(1_000_000);
        let Decision::Allow(first) = b.decide(None, t0) else {
            panic!("first attempt refused")
        };
        let Decision::Allow(second) = b.decide(Some(first), t0) else {
            panic!("free attempt refused")
        };
        assert_eq!(second.failures, 2);
        assert_eq!(b.decide(Some(second), t0), Decision::Wait(SECOND));
        let half = t0.saturating_add(SECOND / 2);
        assert_eq!(b.decide(Some(second), half), Decision::Wait(SECOND / 2));
    }
}
