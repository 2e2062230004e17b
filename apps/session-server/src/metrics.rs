//! Metrics in the Prometheus text format: active sessions, store operation latency and
//! errors (through [`TimedStore`]), and lifecycle events.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use session_core::{Events, HookedStore, SessionStore, StoreHook, StoreOperation};

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const OPERATIONS: [&str; 6] = ["load", "create", "save", "touch", "delete", "cycle_id"];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
    errors: AtomicU64,
}

impl Histogram {
    fn observe(&self, seconds: f64, failed: bool) {
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Store operation timings, shared by the [`TimedStore`] and the `/metrics` page.
#[derive(Debug, Default)]
pub struct StoreTimings {
    histograms: [Histogram; OPERATIONS.len()],
}

/// A store that times every per-session operation of the store it wraps.
pub type TimedStore = HookedStore<Arc<dyn SessionStore>, Arc<StoreTimings>>;

impl StoreHook for StoreTimings {
    fn after(&self, operation: StoreOperation, elapsed: Duration, failed: bool) {
        if let Some(index) = OPERATIONS.iter().position(|name| *name == operation.name()) {
            self.histograms[index].observe(elapsed.as_secs_f64(), failed);
        }
    }
}

/// Renders every metric in the Prometheus text exposition format.
pub fn render(active: Option<u64>, store: &str, timings: &StoreTimings, events: &Events) -> String {
    let mut out = String::with_capacity(4096);
    let _ = writeln!(
        out,
        "# HELP session_active_sessions Live sessions in the store."
    );
    let _ = writeln!(out, "# TYPE session_active_sessions gauge");
    if let Some(active) = active {
        let _ = writeln!(out, "session_active_sessions{{store=\"{store}\"}} {active}");
    }
    let _ = writeln!(
        out,
        "# HELP session_store_operation_duration_seconds Latency of session store operations."
    );
    let _ = writeln!(
        out,
        "# TYPE session_store_operation_duration_seconds histogram"
    );
    for (name, histogram) in OPERATIONS.iter().zip(&timings.histograms) {
        for (bound, bucket) in BUCKETS.iter().zip(&histogram.buckets) {
            let _ = writeln!(
                out,
                "session_store_operation_duration_seconds_bucket{{operation=\"{name}\",le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = histogram.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "session_store_operation_duration_seconds_bucket{{operation=\"{name}\",le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "session_store_operation_duration_seconds_sum{{operation=\"{name}\"}} {}",
            histogram.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "session_store_operation_duration_seconds_count{{operation=\"{name}\"}} {count}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP session_store_operation_errors_total Failed session store operations."
    );
    let _ = writeln!(out, "# TYPE session_store_operation_errors_total counter");
    for (name, histogram) in OPERATIONS.iter().zip(&timings.histograms) {
        let _ = writeln!(
            out,
            "session_store_operation_errors_total{{operation=\"{name}\"}} {}",
            histogram.errors.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(out, "# HELP session_events_total Session lifecycle events.");
    let _ = writeln!(out, "# TYPE session_events_total counter");
    for (kind, count) in events.counts() {
        let _ = writeln!(
            out,
            "session_events_total{{kind=\"{}\"}} {count}",
            kind.name()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_timed_store_times_each_session_operation_and_counts_its_errors() {
        let timings = Arc::new(StoreTimings::default());
        let store = TimedStore::new(Arc::new(session_core::MemoryStore::new()), timings.clone());
        let key = session_core::SessionId::generate().unwrap().key();
        assert_eq!(store.load(&key).await.unwrap(), None);
        let gone = store
            .save(&key, &session_core::ChangeSet::default(), 1)
            .await;
        assert!(gone.is_err());
        store.count().await.unwrap();
        let text = render(None, "memory", &timings, &Events::new());
        assert!(
            text.contains("session_store_operation_duration_seconds_count{operation=\"load\"} 1\n")
        );
        assert!(
            text.contains("session_store_operation_duration_seconds_count{operation=\"save\"} 1\n")
        );
        assert!(text.contains("session_store_operation_errors_total{operation=\"load\"} 0\n"));
        assert!(text.contains("session_store_operation_errors_total{operation=\"save\"} 1\n"));
        assert!(
            !text.contains("operation=\"count\""),
            "upkeep and admin calls are not timed"
        );
    }

    #[test]
    fn renders_prometheus_text_with_cumulative_buckets() {
        let timings = StoreTimings::default();
        timings.histograms[0].observe(0.0003, false);
        timings.histograms[0].observe(0.2, true);
        let events = Events::new();
        let text = render(Some(7), "memory", &timings, &events);
        assert!(text.contains("session_active_sessions{store=\"memory\"} 7\n"));
        assert!(text.contains(
            "session_store_operation_duration_seconds_bucket{operation=\"load\",le=\"0.0005\"} 1\n"
        ));
        assert!(text.contains(
            "session_store_operation_duration_seconds_bucket{operation=\"load\",le=\"0.25\"} 2\n"
        ));
        assert!(text.contains(
            "session_store_operation_duration_seconds_bucket{operation=\"load\",le=\"+Inf\"} 2\n"
        ));
        assert!(text.contains("session_store_operation_errors_total{operation=\"load\"} 1\n"));
        assert!(text.contains("session_events_total{kind=\"suspicious_id\"} 0\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
