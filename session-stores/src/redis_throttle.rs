//! [`RedisThrottleState`]: login throttling counts in Redis, so that every server process
//! behind one load balancer counts the same attempts.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, cmd};
use session_core::{AttemptState, ThrottleState};

use crate::error::Result;
use crate::redis_store::connection::OnDropped;

/// The key prefix used unless told otherwise.
pub const DEFAULT_THROTTLE_PREFIX: &str = "sessions:throttle:";

/// Replaces the value under `KEYS[1]` by `ARGV[2]` (kept `ARGV[3]` ms) if it is `ARGV[1]`
/// (an empty string: no value); 1 if it did, 0 if not.
const COMPARE_AND_SWAP: &str = r"
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

/// A [`ThrottleState`] in one Redis server: one string per key (`failures:last_millis`,
/// [`AttemptState::encode`]) that Redis expires by itself, and a compare-and-swap in a Lua
/// script, so concurrent processes never both count from the same state.
#[derive(Clone)]
pub struct RedisThrottleState {
    conn: ConnectionManager,
    prefix: String,
    swap: Script,
}

impl fmt::Debug for RedisThrottleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisThrottleState")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisThrottleState {
    /// Connects to the server at `url` (`redis://HOST:PORT/DB`), keys under
    /// [`DEFAULT_THROTTLE_PREFIX`]. Fails when the server does not answer now; later outages
    /// are survived by reconnecting.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with_prefix(url, DEFAULT_THROTTLE_PREFIX).await
    }

    /// [`connect`](Self::connect) with keys under `prefix`.
    pub async fn connect_with_prefix(url: &str, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let mut conn = ConnectionManager::new_with_config(client, config).await?;
        let _: String = cmd("PING").query_async(&mut conn).await?;
        Ok(RedisThrottleState {
            conn,
            prefix: prefix.to_owned(),
            swap: Script::new(COMPARE_AND_SWAP),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn failed(operation: &'static str) -> impl FnOnce(redis::RedisError) -> session_core::Error {
    move |error| session_core::Error::backend("redis", operation, error)
}

#[async_trait]
impl ThrottleState for RedisThrottleState {
    async fn load(&self, key: &str) -> session_core::Result<Option<AttemptState>> {
        // A read and (below) a delete: running either twice changes nothing.
        let text: Option<String> = OnDropped::SendAgain
            .query(&self.conn, cmd("GET").arg(self.key(key)))
            .await
            .map_err(failed("throttle load"))?;
        // A value this code did not write counts as no state (it is overwritten next).
        Ok(text.as_deref().and_then(AttemptState::decode))
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<AttemptState>,
        new: AttemptState,
        keep_for: Duration,
    ) -> session_core::Result<bool> {
        let keep_ms = u64::try_from(keep_for.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut swap = self.swap.prepare_invoke();
        swap.key(self.key(key))
            .arg(expected.map(|s| s.encode()).unwrap_or_default())
            .arg(new.encode())
            .arg(keep_ms);
        // Sent again after a dropped connection: should the first have swapped, the second
        // finds the new state instead of the expected one and reports no swap; the throttle
        // then reads the state again and records its attempt on it, so at worst one attempt
        // counts twice, which errs on the strict side.
        let swapped: i64 = OnDropped::SendAgain
            .invoke(&self.conn, &swap)
            .await
            .map_err(failed("throttle swap"))?;
        Ok(swapped == 1)
    }

    async fn clear(&self, key: &str) -> session_core::Result<()> {
        let _: i64 = OnDropped::SendAgain
            .query(&self.conn, cmd("DEL").arg(self.key(key)))
            .await
            .map_err(failed("throttle clear"))?;
        Ok(())
    }
}
