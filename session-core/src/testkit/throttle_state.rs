//! The contract of a [`ThrottleState`]: what every implementation (in memory, in Redis, a
//! third party's) must do, as one case each runs against its own state.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::login_throttle::{AttemptState, ThrottleState};

/// A state recorded at `millis`.
fn at(millis: u64) -> AttemptState {
    AttemptState {
        failures: 2,
        last: Timestamp::from_millis(millis),
    }
}

/// `compare_and_swap` replaces a key's value only when it holds what the caller expected
/// (nothing, or an equal state), and says whether it did. Leaves `key` holding the state of
/// 2 ms after the epoch, for the caller's own checks (its expiry, say) before it clears it.
///
/// # Panics
///
/// When `state` breaks the contract (this is a test helper).
pub async fn compare_and_swap_replaces_only_what_was_expected(
    state: &dyn ThrottleState,
    key: &str,
) {
    let hour = Duration::from_secs(3600);
    let swap = |expected: Option<AttemptState>, new: AttemptState| async move {
        state
            .compare_and_swap(key, expected, new, hour)
            .await
            .unwrap_or_else(|e| panic!("compare_and_swap failed: {e}"))
    };
    assert!(swap(None, at(1)).await, "a new key was not written");
    assert!(!swap(None, at(2)).await, "an existing key was overwritten");
    assert!(
        !swap(Some(at(5)), at(2)).await,
        "a key holding another value was overwritten"
    );
    assert!(
        swap(Some(at(1)), at(2)).await,
        "the expected value was not replaced"
    );
    assert_eq!(
        state
            .load(key)
            .await
            .unwrap_or_else(|e| panic!("load failed: {e}")),
        Some(at(2))
    );
}
