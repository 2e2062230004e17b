//! The per-principal session limit: the decision of `PrincipalLimit::decide` on the
//! principal's other live sessions, applied after the write, and the lease that makes the
//! check and the write one step across processes.

use std::future::Future;

use session_core::{
    Error as CoreError, PrincipalLimit, Result as CoreResult, RoomDecision, SessionKey,
};

use super::principal_lease;
use super::store::Inner;

impl Inner {
    /// What the per-principal limit decides for a write that gives `principal` (when there is
    /// one) the session `except`: the sessions to evict once the write is done (`Ok`), or the
    /// refusal to report once the write's own checks pass (`Err`).
    pub(super) async fn room_for(
        &self,
        operation: &'static str,
        principal: Option<&str>,
        except: &SessionKey,
    ) -> CoreResult<Result<Vec<SessionKey>, CoreError>> {
        let (Some(principal), Some(limit)) = (principal, self.config.principal_limit) else {
            return Ok(Ok(Vec::new()));
        };
        let others = self
            .live_of_principal(operation, principal)
            .await?
            .into_iter()
            .filter(|r| r.key != *except)
            .map(|r| (r.key, r.last_access));
        Ok(match limit.decide(others) {
            RoomDecision::Allow => Ok(Vec::new()),
            RoomDecision::Evict(keys) => Ok(keys),
            RoomDecision::Refuse => Err(limit.refusal()),
        })
    }

    /// Ends the sessions the per-principal limit evicts.
    pub(super) async fn evict(
        &self,
        operation: &'static str,
        keys: Vec<SessionKey>,
    ) -> CoreResult<()> {
        let now = self.now();
        for key in keys {
            if self
                .remove(operation, &key)
                .await?
                .is_some_and(|(live, _)| live)
            {
                self.emit(PrincipalLimit::eviction_event(key, now));
            }
        }
        Ok(())
    }

    /// Runs `write` holding the principal's lease when it sets a principal and a
    /// per-principal limit is configured, so that the limit check and the write are one step
    /// for every process sharing the store.
    pub(super) async fn within_principal_limit<T>(
        &self,
        operation: &'static str,
        principal: Option<&str>,
        write: impl Future<Output = CoreResult<T>>,
    ) -> CoreResult<T> {
        match principal {
            Some(principal) if self.config.principal_limit.is_some() => {
                let lease = self.keys.principal_lease(principal);
                principal_lease::holding(
                    &self.conn,
                    &self.scripts.release_lease,
                    &lease,
                    operation,
                    write,
                )
                .await
            }
            _ => write.await,
        }
    }
}
