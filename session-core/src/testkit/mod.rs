//! The store conformance test kit: one suite every [`SessionStore`](crate::SessionStore) runs unchanged.
//!
//! A store's tests provide a factory, `async fn(StoreConfig) -> (S, G)`, that builds a fresh,
//! empty store with the given configuration (its clock is a [`MockClock`](crate::MockClock), so no case sleeps)
//! and a guard `G` kept alive for the case (a temporary directory, a server handle, `()`).
//! [`store_conformance_tests!`](crate::store_conformance_tests) turns that into one
//! `#[tokio::test]` per contract case:
//!
//! ```no_run
//! use session_core::{MemoryStore, StoreConfig};
//!
//! async fn memory(config: StoreConfig) -> (MemoryStore, ()) {
//!     (MemoryStore::builder().config(config).build(), ())
//! }
//!
//! session_core::store_conformance_tests!(memory);
//! # fn main() {}
//! ```
//!
//! The test crate needs `tokio` with the `macros` and `rt-multi-thread` features. Each case is
//! also a public async function in [`cases`], for stores that want to drive the suite by hand.

pub mod cases;
mod fixture;
pub mod golden;
mod instrumented;
pub mod throttle_state;

pub use fixture::{Fixture, json_record};
pub use instrumented::{InstrumentedStore, Instruments, OperationCounts};

/// Generates one `#[tokio::test]` per store contract case, each building its store with
/// `$factory` (an `async fn(StoreConfig) -> (S, G)`).
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:path) => {
        $crate::store_conformance_tests!(@cases $factory;
            create_then_load_round_trips,
            create_is_insert_only,
            load_of_unknown_key_is_none,
            idle_timeout_expires_unused_sessions,
            absolute_timeout_ends_active_sessions,
            idle_and_absolute_together_take_the_earlier,
            sessions_without_expiry_live_on,
            touch_extends_idle_expiry_without_rewriting,
            touch_of_missing_or_expired_session_is_none,
            save_applies_change_set_and_bumps_version,
            concurrent_saves_of_different_keys_all_survive,
            stale_save_of_same_key_is_a_conflict_and_changes_nothing,
            stale_clear_is_a_conflict,
            additions_add_up_and_never_conflict,
            refused_additions_change_nothing,
            save_after_delete_never_resurrects,
            save_after_expiry_never_resurrects,
            logout_racing_writes_never_resurrects,
            cycle_id_moves_the_record,
            cycle_id_of_missing_session_is_gone,
            delete_reports_whether_a_live_session_was_removed,
            delete_expired_sweeps_only_expired_records,
            list_pages_through_live_records_in_key_order,
            record_limits_are_enforced,
            malformed_ids_are_rejected_before_any_store_access,
            values_round_trip_byte_for_byte_in_both_codecs,
            principal_index_finds_and_revokes_sessions,
            principal_index_follows_principal_changes_and_expiry,
            principal_limit_evicts_least_recently_used,
            principal_limit_can_refuse,
            principal_limit_applies_when_logging_in_by_save,
            principal_limit_is_checked_after_the_write_itself,
            principal_limit_evicts_nobody_for_a_refused_write,
        );
    };
    (@cases $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::testkit::cases::$case($factory).await;
            }
        )*
    };
}
