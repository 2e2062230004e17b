//! What the gateway's HTTP answers were: counts by status class and a latency histogram,
//! cumulative since start, for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;

/// Upper bounds of the latency buckets, in seconds: from a cached answer to a LysKOM call
/// near its timeout.
pub(super) const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The status classes counted, in the order of [`HttpMetrics::by_class`].
pub(super) const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Counters of answered HTTP requests.
#[derive(Debug, Default)]
pub(super) struct HttpMetrics {
    by_class: [AtomicU64; CLASSES.len()],
    /// Requests with a latency of at most each bound of [`BUCKETS`] (cumulative).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl HttpMetrics {
    /// Counts one answer with `status` that took `latency`.
    pub(super) fn observe(&self, status: StatusCode, latency: Duration) {
        // Statuses are 100..=999; anything past 5xx is counted with the server errors.
        let class = usize::from(status.as_u16() / 100)
            .saturating_sub(1)
            .min(CLASSES.len() - 1);
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let seconds = latency.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The answers per status class, in the order of [`CLASSES`].
    pub(super) fn by_class(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        CLASSES
            .iter()
            .zip(&self.by_class)
            .map(|(name, n)| (*name, n.load(Ordering::Relaxed)))
    }

    /// The cumulative bucket counts, in the order of [`BUCKETS`].
    pub(super) fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(bound, n)| (*bound, n.load(Ordering::Relaxed)))
    }

    /// How many answers were observed.
    pub(super) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The latencies added up, in seconds.
    pub(super) fn sum_seconds(&self) -> f64 {
        self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_by_class_and_in_every_bucket_they_fit() {
        let m = HttpMetrics::default();
        m.observe(StatusCode::OK, Duration::from_millis(3));
        m.observe(StatusCode::NOT_FOUND, Duration::from_millis(300));
        m.observe(StatusCode::SWITCHING_PROTOCOLS, Duration::from_secs(60));
        let classes: Vec<_> = m.by_class().collect();
        assert_eq!(
            classes,
            [("1xx", 1), ("2xx", 1), ("3xx", 0), ("4xx", 1), ("5xx", 0)]
        );
        let buckets: Vec<_> = m.buckets().collect();
        assert_eq!(buckets[1], (0.0025, 0));
        assert_eq!(buckets[2], (0.005, 1));
        assert_eq!(buckets[8], (0.5, 2));
        assert_eq!(buckets[13], (30.0, 2));
        assert_eq!(m.count(), 3);
        assert!((m.sum_seconds() - 60.303).abs() < 1e-9);
    }
}
