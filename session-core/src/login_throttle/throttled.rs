//! [`ThrottledAuthenticator`]: an [`Authenticator`] that limits attempts per principal and
//! per client address before the wrapped one checks anything.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::backoff::{Backoff, Decision};
use super::state::{ThrottleState, refund_attempt, register_attempt};
use crate::auth::{AuthError, Authenticator, PasswordCredentials};
use crate::clock::{SharedClock, SystemClock};
use crate::events::{EventKind, Events, SessionEvent};

/// Credentials that name the principal they claim, so attempts can be counted per principal
/// whether or not the name exists.
pub trait ClaimsPrincipal {
    /// The principal the credentials claim to be.
    fn claimed_principal(&self) -> &str;
}

impl ClaimsPrincipal for PasswordCredentials {
    fn claimed_principal(&self) -> &str {
        &self.username
    }
}

/// One login attempt: the credentials and, when known, the address it came from.
#[derive(Debug, Clone)]
pub struct LoginAttempt<C> {
    /// What the client presented.
    pub credentials: C,
    /// The client's address (a proxy's when the server cannot see past it).
    pub client: Option<IpAddr>,
}

impl<C> LoginAttempt<C> {
    /// An attempt with `credentials` from `client`.
    pub fn new(credentials: C, client: Option<IpAddr>) -> Self {
        LoginAttempt {
            credentials,
            client,
        }
    }
}

/// Wraps an [`Authenticator`] and refuses attempts with [`AuthError::Throttled`] once a
/// principal, or a client address, has been tried too often recently ([`Backoff`]). Every
/// attempt counts before the wrapped authenticator runs, known and unknown names alike. A
/// successful login clears the principal's count, and takes back only its own attempt from
/// the address's count — so many people behind one address are counted by their failures,
/// and an attacker with one valid account cannot wipe the failures of the address they
/// guess from.
///
/// The counts live in a [`ThrottleState`]: [`MemoryThrottleState`](super::MemoryThrottleState)
/// for one process, a shared one (Redis) for several. When the state cannot be reached the
/// attempt is refused with [`AuthError::Unavailable`] (fail closed).
///
/// Outcomes are reported as `LoginThrottled` and `LoginFailed` [events](Events).
pub struct ThrottledAuthenticator<A> {
    inner: A,
    state: Arc<dyn ThrottleState>,
    per_principal: Backoff,
    per_address: Backoff,
    clock: SharedClock,
    events: Events,
}

impl<A> ThrottledAuthenticator<A> {
    /// Throttles `inner` with counts kept in `state`, the default [`Backoff`]s
    /// ([`PER_PRINCIPAL`](Backoff::PER_PRINCIPAL), [`PER_ADDRESS`](Backoff::PER_ADDRESS)),
    /// the system clock and a private event hub.
    pub fn new(inner: A, state: Arc<dyn ThrottleState>) -> Self {
        ThrottledAuthenticator {
            inner,
            state,
            per_principal: Backoff::PER_PRINCIPAL,
            per_address: Backoff::PER_ADDRESS,
            clock: Arc::new(SystemClock),
            events: Events::new(),
        }
    }

    /// The backoff for attempts on one principal.
    pub fn per_principal(mut self, backoff: Backoff) -> Self {
        self.per_principal = backoff;
        self
    }

    /// The backoff for attempts from one client address (IPv6 addresses by their /64).
    pub fn per_address(mut self, backoff: Backoff) -> Self {
        self.per_address = backoff;
        self
    }

    /// The clock (tests drive a [`MockClock`](crate::MockClock)).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The event hub outcomes are reported to.
    pub fn events(mut self, events: Events) -> Self {
        self.events = events;
        self
    }

    /// The wrapped authenticator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    fn emit(&self, kind: EventKind) {
        self.events
            .emit(SessionEvent::new(kind, None, self.clock.now()));
    }

    /// Counts the attempt against `key`; the refusal when it must wait.
    async fn admit(&self, backoff: &Backoff, key: &str) -> Result<(), AuthError> {
        let now = self.clock.now();
        match register_attempt(self.state.as_ref(), backoff, key, now).await {
            Ok(Decision::Allow(_)) => Ok(()),
            Ok(Decision::Wait(retry_after)) => {
                self.emit(EventKind::LoginThrottled);
                Err(AuthError::Throttled { retry_after })
            }
            Err(error) => Err(AuthError::Unavailable(Box::new(error))),
        }
    }
}

impl<A> fmt::Debug for ThrottledAuthenticator<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottledAuthenticator")
            .field("state", &self.state)
            .field("per_principal", &self.per_principal)
            .field("per_address", &self.per_address)
            .finish_non_exhaustive()
    }
}

/// The state key of a principal: a digest of its name, case-folded (so that `Alice` and
/// `alice` share one count, whatever the authenticator makes of case).
pub fn principal_key(principal: &str) -> String {
    let digest = Sha256::digest(principal.trim().to_lowercase().as_bytes());
    format!("principal:{}", hex::encode(digest))
}

/// The state key of a client address: the IPv4 address, or the /64 network of an IPv6 one
/// (one host usually holds a whole /64).
pub fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => format!("address:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("address:{v4}"),
            None => {
                let s = v6.segments();
                format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[async_trait]
impl<A> Authenticator for ThrottledAuthenticator<A>
where
    A: Authenticator,
    A::Credentials: ClaimsPrincipal + Sized,
{
    type Credentials = LoginAttempt<A::Credentials>;
    type Identity = A::Identity;

    async fn authenticate(
        &self,
        attempt: &LoginAttempt<A::Credentials>,
    ) -> Result<A::Identity, AuthError> {
        if let Some(address) = attempt.client {
            self.admit(&self.per_address, &address_key(address)).await?;
        }
        let principal = principal_key(attempt.credentials.claimed_principal());
        self.admit(&self.per_principal, &principal).await?;
        match self.inner.authenticate(&attempt.credentials).await {
            Ok(identity) => {
                // A count left uncleared only makes the next attempts wait sooner; the login
                // itself stands.
                let refunded = match attempt.client {
                    Some(address) => {
                        let key = address_key(address);
                        refund_attempt(self.state.as_ref(), &self.per_address, &key).await
                    }
                    None => Ok(()),
                };
                if let Err(error) = self.state.clear(&principal).await.and(refunded) {
                    self.events.emit(
                        SessionEvent::new(EventKind::StoreError, None, self.clock.now())
                            .with_detail(format!("clearing a login count failed: {error}")),
                    );
                }
                Ok(identity)
            }
            Err(AuthError::InvalidCredentials) => {
                self.emit(EventKind::LoginFailed);
                Err(AuthError::InvalidCredentials)
            }
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    use super::*;
    use crate::MockClock;
    use crate::login_throttle::MemoryThrottleState;

    /// Accepts `alice`/`right`, refuses everything else.
    struct OnePassword;

    #[async_trait]
    impl Authenticator for OnePassword {
        type Credentials = PasswordCredentials;
        type Identity = String;
        async fn authenticate(&self, c: &PasswordCredentials) -> Result<String, AuthError> {
            if c.username == "alice" && c.password == "right" {
                Ok(c.username.clone())
            } else {
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    const PRINCIPAL: Backoff = Backoff {
        free_attempts: 3,
        base: Duration::from_secs(2),
        max: Duration::from_secs(60),
        forget_after: Duration::from_secs(3600),
    };
    const ADDRESS: Backoff = Backoff {
        free_attempts: 6,
        ..PRINCIPAL
    };

    fn throttled(clock: &MockClock) -> (ThrottledAuthenticator<OnePassword>, Events) {
        let events = Events::new();
        let auth = ThrottledAuthenticator::new(OnePassword, Arc::new(MemoryThrottleState::new()))
            .per_principal(PRINCIPAL)
            .per_address(ADDRESS)
            .clock(clock.shared())
            .events(events.clone());
        (auth, events)
    }

    fn attempt(user: &str, password: &str, octet: u8) -> LoginAttempt<PasswordCredentials> {
        LoginAttempt::new(
            PasswordCredentials::new(user, password),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, octet))),
        )
    }

    #[tokio::test]
    async fn guesses_beyond_the_free_ones_wait_and_the_right_password_waits_too() {
        let clock = MockClock::new();
        let (auth, events) = throttled(&clock);
        for _ in 0..3 {
            let result = auth.authenticate(&attempt("alice", "guess", 1)).await;
            assert!(matches!(result, Err(AuthError::InvalidCredentials)));
        }
        // The fourth attempt, even with the right password and from another address, waits.
        match auth.authenticate(&attempt("Alice", "right", 2)).await {
            Err(AuthError::Throttled { retry_after }) => {
                assert_eq!(retry_after, Duration::from_secs(2));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(events.count(EventKind::LoginFailed), 3);
        assert_eq!(events.count(EventKind::LoginThrottled), 1);
        clock.advance(Duration::from_secs(2));
        assert_eq!(
            auth.authenticate(&attempt("alice", "right", 2))
                .await
                .unwrap(),
            "alice"
        );
        // Success cleared the principal's count: three free attempts again.
        for _ in 0..3 {
            let result = auth.authenticate(&attempt("alice", "guess", 3)).await;
            assert!(matches!(result, Err(AuthError::InvalidCredentials)));
        }
    }

    #[tokio::test]
    async fn one_address_guessing_many_names_is_throttled_by_address() {
        let clock = MockClock::new();
        let (auth, _) = throttled(&clock);
        for n in 0..6 {
            let result = auth
                .authenticate(&attempt(&format!("user{n}"), "x", 9))
                .await;
            assert!(matches!(result, Err(AuthError::InvalidCredentials)), "{n}");
        }
        let result = auth.authenticate(&attempt("user-new", "x", 9)).await;
        assert!(matches!(result, Err(AuthError::Throttled { .. })));
        // Another address is not affected.
        let result = auth.authenticate(&attempt("user-new", "x", 10)).await;
        assert!(matches!(result, Err(AuthError::InvalidCredentials)));
    }

    #[tokio::test]
    async fn successes_from_one_address_do_not_add_up_but_failures_do() {
        let clock = MockClock::new();
        let (auth, _) = throttled(&clock);
        // An office behind one address: many good logins, no waiting.
        for _ in 0..20 {
            assert!(
                auth.authenticate(&attempt("alice", "right", 7))
                    .await
                    .is_ok()
            );
        }
        // One valid account does not wipe the failures made from the address.
        for n in 0..5 {
            let guess = attempt(&format!("victim{n}"), "x", 7);
            assert!(matches!(
                auth.authenticate(&guess).await,
                Err(AuthError::InvalidCredentials)
            ));
        }
        assert!(
            auth.authenticate(&attempt("alice", "right", 7))
                .await
                .is_ok()
        );
        let guess = attempt("victim5", "x", 7);
        assert!(matches!(
            auth.authenticate(&guess).await,
            Err(AuthError::InvalidCredentials)
        ));
        let guess = attempt("victim6", "x", 7);
        assert!(matches!(
            auth.authenticate(&guess).await,
            Err(AuthError::Throttled { .. })
        ));
    }

    #[tokio::test]
    async fn a_concurrent_burst_gets_only_the_free_attempts_checked() {
        let clock = MockClock::new();
        let (auth, _) = throttled(&clock);
        let auth = Arc::new(auth);
        let tasks: Vec<_> = (0..40u8)
            .map(|n| {
                let auth = auth.clone();
                tokio::spawn(async move { auth.authenticate(&attempt("alice", "x", n)).await })
            })
            .collect();
        let mut checked = 0;
        for task in tasks {
            match task.await.unwrap() {
                Err(AuthError::InvalidCredentials) => checked += 1,
                Err(AuthError::Throttled { .. }) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(checked, 3);
    }

    #[test]
    fn keys_fold_case_and_group_ipv6_by_network() {
        assert_eq!(principal_key("Alice"), principal_key(" alice"));
        assert_ne!(principal_key("alice"), principal_key("bob"));
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert_eq!(address_key(mapped), "address:192.0.2.1");
        assert_eq!(
            address_key(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            "address:0:0:0:0::/64"
        );
    }
}
