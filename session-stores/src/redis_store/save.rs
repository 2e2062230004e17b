//! A save: the save script's arguments from a change set, its run, and the principal and
//! expiry indexes kept in step with what it reports.

use redis::cmd;
use session_core::{
    ChangeSet, Error as CoreError, LimitError, PrincipalChange, Result as CoreResult, SessionKey,
    Timestamp,
};

use super::fields::timeout_text;
use super::replies::ScriptReply;
use super::store::{Inner, bad_reply, millis_arg, redis_error, score};

impl Inner {
    /// Runs the save script and keeps the principal and expiry indexes in step.
    pub(super) async fn save_changes(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        loaded_version: u64,
    ) -> CoreResult<u64> {
        const OP: &str = "save";
        let limits = &self.config.limits;
        let args = save_args(self.now(), changes, loaded_version);
        let reply = self
            .run_decoded(OP, &self.scripts.save, &[&self.keys.session(key)], args)
            .await?;
        match reply {
            // The common save (only attributes changed): the new version alone.
            ScriptReply::Saved {
                version,
                options: None,
            } => Ok(version),
            ScriptReply::Gone => Err(CoreError::Gone { key: *key }),
            ScriptReply::Conflict { detail } => Err(CoreError::Conflict { key: *key, detail }),
            ScriptReply::Addition { attribute, detail } => Err(CoreError::Addition {
                key: *key,
                attribute,
                detail,
            }),
            ScriptReply::TooManyAttributes { actual } => {
                Err(CoreError::Limit(LimitError::Attributes {
                    actual,
                    limit: limits.max_attributes,
                }))
            }
            ScriptReply::TooLarge { actual } => Err(CoreError::Limit(LimitError::RecordSize {
                actual,
                limit: limits.max_record_bytes,
            })),
            ScriptReply::Saved {
                version,
                options: Some(saved),
            } => {
                if saved.old_principal != saved.new_principal {
                    let hex = key.to_hex();
                    let mut conn = self.conn();
                    if let Some(old) = &saved.old_principal {
                        cmd("SREM")
                            .arg(self.keys.principal(old))
                            .arg(&hex)
                            .exec_async(&mut conn)
                            .await
                            .map_err(redis_error(OP))?;
                    }
                    if let Some(new) = &saved.new_principal {
                        cmd("SADD")
                            .arg(self.keys.principal(new))
                            .arg(&hex)
                            .exec_async(&mut conn)
                            .await
                            .map_err(redis_error(OP))?;
                    }
                }
                if changes.expiry.is_some() {
                    // A new policy may bring the expiry forward: index the exact time (XX: only
                    // if the session is still indexed, so a racing delete is not undone).
                    cmd("ZADD")
                        .arg(self.keys.expiry())
                        .arg("XX")
                        .arg(score(saved.expires))
                        .arg(key.to_hex())
                        .exec_async(&mut self.conn())
                        .await
                        .map_err(redis_error(OP))?;
                }
                Ok(version)
            }
            other => Err(bad_reply(OP, &format!("{other:?}"))),
        }
    }
}

/// The save script's arguments (see `scripts.rs`).
fn save_args(now: Timestamp, changes: &ChangeSet, loaded_version: u64) -> Vec<Vec<u8>> {
    let mut options = String::new();
    let mut option_args = Vec::new();
    if changes.cleared {
        options.push('c');
    }
    match &changes.principal {
        PrincipalChange::Keep => {}
        PrincipalChange::Set(principal) => {
            options.push('s');
            option_args.push(principal.clone().into_bytes());
        }
        PrincipalChange::Remove => options.push('r'),
    }
    if let Some(policy) = changes.expiry {
        options.push('e');
        option_args.push(timeout_text(policy.idle).into_bytes());
        option_args.push(timeout_text(policy.absolute).into_bytes());
    }
    if !changes.additions.is_empty() {
        options.push('a');
        option_args.push(changes.additions.len().to_string().into_bytes());
    }
    let mut args = Vec::with_capacity(
        5 + option_args.len()
            + 3 * changes.upserts.len()
            + changes.removals.len()
            + 2 * changes.additions.len(),
    );
    args.extend([
        millis_arg(now),
        loaded_version.to_string().into_bytes(),
        changes.upserts.len().to_string().into_bytes(),
        changes.removals.len().to_string().into_bytes(),
        options.into_bytes(),
    ]);
    args.extend(option_args);
    let field = |name: &String| [b"a:", name.as_bytes()].concat();
    args.extend(changes.upserts.keys().map(field));
    args.extend(changes.removals.iter().map(field));
    args.extend(changes.additions.keys().map(field));
    args.extend(changes.upserts.values().cloned());
    args.extend(
        changes
            .additions
            .values()
            .map(|amount| amount.to_string().into_bytes()),
    );
    args
}
