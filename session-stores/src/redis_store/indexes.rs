//! Index upkeep: the sorted sets of all sessions and of their expiry and each principal's
//! set, in keys (and Cluster slots) of their own, so changed beside the session's script.

use futures_util::future::join_all;
use redis::cmd;
use session_core::{Record, Result as CoreResult, SessionKey, Timestamp};

use super::store::{Inner, redis_error, score};

impl Inner {
    /// Adds a session to the indexes.
    pub(super) async fn index_add(
        &self,
        operation: &'static str,
        key: &SessionKey,
        principal: Option<&str>,
        expires: Option<Timestamp>,
    ) -> CoreResult<()> {
        let hex = key.to_hex();
        let mut all_cmd = cmd("ZADD");
        all_cmd.arg(self.keys.all()).arg(0).arg(&hex);
        let mut expiry_cmd = cmd("ZADD");
        expiry_cmd
            .arg(self.keys.expiry())
            .arg(score(expires))
            .arg(&hex);
        let principal_cmd = principal.map(|p| {
            let mut sadd = cmd("SADD");
            sadd.arg(self.keys.principal(p)).arg(&hex);
            sadd
        });
        self.run_index_commands(operation, all_cmd, expiry_cmd, principal_cmd)
            .await
    }

    /// Removes a session from the indexes.
    pub(super) async fn index_remove(
        &self,
        operation: &'static str,
        key: &SessionKey,
        principal: Option<&str>,
    ) -> CoreResult<()> {
        let hex = key.to_hex();
        let mut all_cmd = cmd("ZREM");
        all_cmd.arg(self.keys.all()).arg(&hex);
        let mut expiry_cmd = cmd("ZREM");
        expiry_cmd.arg(self.keys.expiry()).arg(&hex);
        let principal_cmd = principal.map(|p| {
            let mut srem = cmd("SREM");
            srem.arg(self.keys.principal(p)).arg(&hex);
            srem
        });
        self.run_index_commands(operation, all_cmd, expiry_cmd, principal_cmd)
            .await
    }

    /// Runs the commands on the three indexes (all sessions, expiry, the principal's set)
    /// concurrently; they live in different slots of a Cluster, so they cannot be one script.
    pub(super) async fn run_index_commands(
        &self,
        operation: &'static str,
        all_cmd: redis::Cmd,
        expiry_cmd: redis::Cmd,
        principal_cmd: Option<redis::Cmd>,
    ) -> CoreResult<()> {
        let (mut a, mut b, mut c) = (self.conn(), self.conn(), self.conn());
        let all = all_cmd.exec_async(&mut a);
        let expiry = expiry_cmd.exec_async(&mut b);
        let principal_set = async {
            match principal_cmd {
                Some(command) => command.exec_async(&mut c).await,
                None => Ok(()),
            }
        };
        let (x, y, z) = tokio::join!(all, expiry, principal_set);
        x.and(y).and(z).map_err(redis_error(operation))
    }

    pub(super) async fn live_of_principal(
        &self,
        operation: &'static str,
        principal: &str,
    ) -> CoreResult<Vec<Record>> {
        let set = self.keys.principal(principal);
        let members: Vec<String> = self.query(operation, cmd("SMEMBERS").arg(&set)).await?;
        let keys: Vec<SessionKey> = members
            .iter()
            .filter_map(|m| SessionKey::parse(m).ok())
            .collect();
        let loaded = join_all(keys.iter().map(|key| self.read(operation, key))).await;
        let now = self.now();
        let mut records = Vec::new();
        let mut stale = Vec::new();
        for (key, result) in keys.iter().zip(loaded) {
            match result? {
                Some(record) if record.principal.as_deref() == Some(principal) => {
                    if !record.is_expired(now) {
                        records.push(record);
                    }
                }
                _ => stale.push(key.to_hex()),
            }
        }
        if !stale.is_empty() {
            cmd("SREM")
                .arg(&set)
                .arg(&stale)
                .exec_async(&mut self.conn())
                .await
                .map_err(redis_error(operation))?;
        }
        records.sort_by_key(|r| (r.last_access, r.key));
        Ok(records)
    }
}
