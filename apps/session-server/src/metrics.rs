//! Metrics in the Prometheus text format: active sessions, store operation latency and
//! errors (through [`TimedStore`]), and lifecycle events.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use session_core::{
    ChangeSet, Events, Page, PageRequest, PrincipalIndex, Record, Result, SessionKey, SessionStore,
    TouchOutcome,
};

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const OPERATIONS: [&str; 6] = ["load", "create", "save", "touch", "delete", "cycle_id"];

#[derive(Default)]
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
#[derive(Default)]
pub struct StoreTimings {
    histograms: [Histogram; OPERATIONS.len()],
}

impl StoreTimings {
    fn record(&self, operation: usize, started: Instant, failed: bool) {
        self.histograms[operation].observe(started.elapsed().as_secs_f64(), failed);
    }
}

/// A store that times every operation of the store it wraps.
#[derive(Clone)]
pub struct TimedStore {
    inner: Arc<dyn SessionStore>,
    timings: Arc<StoreTimings>,
}

impl std::fmt::Debug for TimedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedStore")
            .field("inner", &self.inner)
            .finish()
    }
}

impl TimedStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn SessionStore>, timings: Arc<StoreTimings>) -> Self {
        TimedStore { inner, timings }
    }
}

macro_rules! timed {
    ($self:ident, $op:expr, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        $self.timings.record($op, started, result.is_err());
        result
    }};
}

#[async_trait]
impl SessionStore for TimedStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn create(&self, record: &Record) -> Result<()> {
        timed!(self, 1, self.inner.create(record))
    }
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        timed!(self, 0, self.inner.load(key))
    }
    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        loaded_version: u64,
    ) -> Result<u64> {
        timed!(self, 2, self.inner.save(key, changes, loaded_version))
    }
    async fn touch(&self, key: &SessionKey) -> Result<TouchOutcome> {
        timed!(self, 3, self.inner.touch(key))
    }
    async fn delete(&self, key: &SessionKey) -> Result<bool> {
        timed!(self, 4, self.inner.delete(key))
    }
    async fn cycle_id(&self, old: &SessionKey, new: &SessionKey) -> Result<()> {
        timed!(self, 5, self.inner.cycle_id(old, new))
    }
    async fn delete_expired(&self) -> Result<u64> {
        self.inner.delete_expired().await
    }
    async fn list(&self, page: PageRequest) -> Result<Page> {
        self.inner.list(page).await
    }
    async fn count(&self) -> Result<u64> {
        self.inner.count().await
    }
    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        self.inner.principal_index()
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
