//! [`ConcurrencyLimited`]: an [`Authenticator`] that checks at most a few credentials at once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Semaphore;

use crate::auth::{AuthError, Authenticator};
use crate::clock::{SharedClock, SystemClock};
use crate::events::{EventKind, Events, SessionEvent};

/// Wraps an [`Authenticator`] whose checks are expensive (a memory-hard password hash takes
/// tens of MiB and tens of milliseconds) so that at most `concurrency` run at once. Further
/// attempts wait up to `max_wait` for a turn, then are refused with [`AuthError::Busy`]: a
/// flood of logins costs bounded memory and leaves the rest of the server responsive.
/// Refusals are reported as `LoginBusy` [events](Events).
pub struct ConcurrencyLimited<A> {
    inner: A,
    permits: Arc<Semaphore>,
    concurrency: usize,
    max_wait: Duration,
    events: Events,
    clock: SharedClock,
}

impl<A> ConcurrencyLimited<A> {
    /// At most `concurrency` (at least one) checks of `inner` at once; others wait up to
    /// `max_wait`.
    pub fn new(inner: A, concurrency: usize, max_wait: Duration) -> Self {
        let concurrency = concurrency.max(1);
        ConcurrencyLimited {
            inner,
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            max_wait,
            events: Events::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// One check per available core: what the hashing can use anyway.
    pub fn per_core(inner: A, max_wait: Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(inner, cores, max_wait)
    }

    /// The event hub refusals are reported to.
    pub fn events(mut self, events: Events) -> Self {
        self.events = events;
        self
    }

    /// How many checks may run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The wrapped authenticator.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

impl<A> fmt::Debug for ConcurrencyLimited<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyLimited")
            .field("concurrency", &self.concurrency)
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<A: Authenticator> Authenticator for ConcurrencyLimited<A> {
    type Credentials = A::Credentials;
    type Identity = A::Identity;

    async fn authenticate(&self, credentials: &A::Credentials) -> Result<A::Identity, AuthError> {
        let permit = tokio::time::timeout(self.max_wait, self.permits.acquire()).await;
        let Ok(Ok(_permit)) = permit else {
            self.events.emit(SessionEvent::new(
                EventKind::LoginBusy,
                None,
                self.clock.now(),
            ));
            return Err(AuthError::Busy {
                retry_after: self.max_wait.max(Duration::from_secs(1)),
            });
        };
        self.inner.authenticate(credentials).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Notify;

    use super::*;

    /// Counts how many checks run at once, and holds each until released.
    #[derive(Default)]
    struct Slow {
        running: AtomicUsize,
        most: AtomicUsize,
        release: Notify,
    }

    #[async_trait]
    impl Authenticator for Arc<Slow> {
        type Credentials = ();
        type Identity = ();
        async fn authenticate(&self, _: &()) -> Result<(), AuthError> {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.release.notified().await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_the_bound_runs_and_the_rest_are_refused_after_waiting() {
        let slow = Arc::new(Slow::default());
        let events = Events::new();
        let limited = Arc::new(
            ConcurrencyLimited::new(slow.clone(), 2, Duration::from_secs(3)).events(events.clone()),
        );
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let limited = limited.clone();
                tokio::spawn(async move { limited.authenticate(&()).await })
            })
            .collect();
        // Time is paused and moves on only when every task is idle: the two checks hold
        // their turns, the other eight wait out `max_wait`.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(slow.most.load(Ordering::SeqCst), 2);
        slow.release.notify_waiters();
        let mut busy = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => {}
                Err(AuthError::Busy { retry_after }) => {
                    assert_eq!(retry_after, Duration::from_secs(3));
                    busy += 1;
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(busy, 8);
        assert_eq!(events.count(EventKind::LoginBusy), 8);
    }
}
