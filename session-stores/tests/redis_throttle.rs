//! Login throttling counts in a real redis-server, shared by two connections as two server
//! processes would share them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    AuthError, Authenticator, Backoff, Clock, LoginAttempt, MockClock, PasswordCredentials,
    ThrottleState, ThrottledAuthenticator, principal_key,
};
use session_stores::RedisThrottleState;
use test_support::redis::RedisServer;

fn server() -> Option<RedisServer> {
    match RedisServer::start() {
        Ok(server) => Some(server),
        Err(missing) => {
            test_support::skip("redis throttle tests", &missing);
            None
        }
    }
}

/// Accepts `alice`/`right` only.
struct OnePassword;

#[async_trait]
impl Authenticator for OnePassword {
    type Credentials = PasswordCredentials;
    type Identity = String;
    async fn authenticate(&self, c: &PasswordCredentials) -> Result<String, AuthError> {
        if (c.username.as_str(), c.password.as_str()) == ("alice", "right") {
            Ok(c.username.clone())
        } else {
            Err(AuthError::InvalidCredentials)
        }
    }
}

const BACKOFF: Backoff = Backoff {
    free_attempts: 4,
    base: Duration::from_secs(10),
    max: Duration::from_secs(60),
    forget_after: Duration::from_secs(600),
};

fn guess(password: &str) -> LoginAttempt<PasswordCredentials> {
    LoginAttempt::new(PasswordCredentials::new("alice", password), None)
}

#[tokio::test]
async fn two_processes_share_one_count_and_a_login_clears_it() {
    let Some(redis) = server() else { return };
    let clock = MockClock::new();
    let process = |state: RedisThrottleState| {
        ThrottledAuthenticator::new(OnePassword, Arc::new(state))
            .per_principal(BACKOFF)
            .clock(clock.shared())
    };
    let first = process(RedisThrottleState::connect(&redis.url()).await.unwrap());
    let second = process(RedisThrottleState::connect(&redis.url()).await.unwrap());
    for server in [&first, &second, &first, &second] {
        let result = server.authenticate(&guess("wrong")).await;
        assert!(matches!(result, Err(AuthError::InvalidCredentials)));
    }
    for server in [&first, &second] {
        match server.authenticate(&guess("right")).await {
            Err(AuthError::Throttled { retry_after }) => {
                assert_eq!(retry_after, Duration::from_secs(10));
            }
            other => panic!("{other:?}"),
        }
    }
    clock.advance(Duration::from_secs(10));
    assert_eq!(second.authenticate(&guess("right")).await.unwrap(), "alice");
    // Cleared for both.
    let result = first.authenticate(&guess("wrong")).await;
    assert!(matches!(result, Err(AuthError::InvalidCredentials)));
}

#[tokio::test]
async fn concurrent_attempts_from_two_connections_each_count_once() {
    let Some(redis) = server() else { return };
    let clock = MockClock::new();
    let free = Backoff {
        free_attempts: 1_000,
        ..BACKOFF
    };
    let states: Vec<Arc<RedisThrottleState>> = vec![
        Arc::new(RedisThrottleState::connect(&redis.url()).await.unwrap()),
        Arc::new(RedisThrottleState::connect(&redis.url()).await.unwrap()),
    ];
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let state = states[n % 2].clone();
            let now = clock.now();
            tokio::spawn(async move {
                session_core::register_attempt(state.as_ref(), &free, "burst", now).await
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if matches!(
            task.await.unwrap().unwrap(),
            session_core::Decision::Allow(_)
        ) {
            allowed += 1;
        }
    }
    let counted = states[0].load("burst").await.unwrap().unwrap().failures;
    assert_eq!(
        counted, allowed,
        "every allowed attempt counted exactly once"
    );
    assert!(allowed > 0);
}

#[tokio::test]
async fn compare_and_swap_expires_its_keys_and_ignores_foreign_values() {
    let Some(redis) = server() else { return };
    let state = RedisThrottleState::connect_with_prefix(&redis.url(), "test:")
        .await
        .unwrap();
    session_core::testkit::throttle_state::compare_and_swap_replaces_only_what_was_expected(
        &state, "k",
    )
    .await;
    let ttl = test_support::redis::redis_command(redis.port(), "PTTL test:k").unwrap();
    let ttl: i64 = ttl.trim_start_matches(':').parse().unwrap();
    assert!(ttl > 0 && ttl <= 3_600_000, "{ttl}");
    // The principal keys are digests: no user name is stored in Redis.
    let key = principal_key("alice");
    assert!(!key.contains("alice"));
    test_support::redis::redis_command(redis.port(), "SET test:junk nonsense").unwrap();
    assert_eq!(state.load("junk").await.unwrap(), None);
    state.clear("k").await.unwrap();
    assert_eq!(state.load("k").await.unwrap(), None);
}

/// A Redis restart must not refuse the next logins: each throttle command that finds its
/// connection dropped is sent again over the new one.
#[tokio::test]
async fn the_first_logins_after_a_redis_restart_are_counted_not_refused() {
    let Some(mut redis) = server() else { return };
    let clock = MockClock::new();
    let throttle = ThrottledAuthenticator::new(
        OnePassword,
        Arc::new(RedisThrottleState::connect(&redis.url()).await.unwrap()),
    )
    .per_principal(BACKOFF)
    .clock(clock.shared());
    let result = throttle.authenticate(&guess("wrong")).await;
    assert!(matches!(result, Err(AuthError::InvalidCredentials)));

    redis.restart().unwrap();
    let result = throttle.authenticate(&guess("wrong")).await;
    assert!(
        matches!(result, Err(AuthError::InvalidCredentials)),
        "{result:?}"
    );
    redis.restart().unwrap();
    assert_eq!(
        throttle.authenticate(&guess("right")).await.unwrap(),
        "alice"
    );
}
