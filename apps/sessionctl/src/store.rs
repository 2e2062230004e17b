//! `sessionctl store …`: inspect and maintain any server-side session store by URL
//! (`memory:`, `file:DIR`, `sqlite:PATH`, `redis://HOST:PORT/DB`, `encrypted:DIR?…`).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value, json};
use session_core::{PageRequest, Record, SessionId, SessionKey, SessionStore, StoreConfig};

use crate::CliError;
use crate::output::{Table, progress_bar};

const PAGE: usize = 500;

/// Arguments of `sessionctl store`.
#[derive(Debug, clap::Args)]
pub(crate) struct StoreArgs {
    /// The store's URL: memory:, file:DIR, sqlite:PATH, redis://HOST:PORT/DB, encrypted:DIR?…
    #[arg(long, global = true, env = "SESSIONCTL_STORE", value_name = "URL")]
    store: Option<String>,
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StoreCommand {
    /// List live sessions (by key, the digest of the session id).
    List {
        /// Show at most this many.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show one session: its metadata and attributes.
    Show {
        /// The session key (64 hex digits) or the session id itself.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Delete one session.
    Delete {
        /// The session key (64 hex digits) or the session id itself.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Remove every expired session now.
    PurgeExpired,
    /// Counts: sessions, principals, attributes, bytes.
    Stats,
    /// Copy every live session into another store (keys, timestamps and versions kept).
    Migrate {
        /// The destination store's URL.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Replace sessions that already exist in the destination (otherwise they are skipped).
        #[arg(long)]
        overwrite: bool,
    },
}

/// Opens the store a URL names (`memory:`, `file:DIR`, `sqlite:PATH`, `redis://…`, `encrypted:DIR`).
pub(crate) async fn open(url: &str) -> Result<Arc<dyn SessionStore>, CliError> {
    session_stores::open(url, StoreConfig::default())
        .await
        .map_err(|e| CliError::Other(e.to_string()))
}

/// A session key from its hex form or from the session id.
fn key_of(id: &str) -> Result<SessionKey, CliError> {
    if let Ok(key) = SessionKey::parse(id) {
        return Ok(key);
    }
    SessionId::parse(id)
        .map(|id| id.key())
        .map_err(|_| CliError::usage("not a session key (64 hex digits) or session id"))
}

/// Every live record, page by page.
async fn all_records(
    store: &dyn SessionStore,
    limit: Option<usize>,
    quiet: bool,
) -> Result<Vec<Record>, CliError> {
    let total = store.count().await?;
    let bar = progress_bar(
        limit.map_or(total, |l| total.min(l as u64)),
        "reading",
        quiet,
    );
    let mut records = Vec::new();
    let mut request = Some(PageRequest::first(PAGE));
    while let Some(page_request) = request {
        let page = store.list(page_request).await?;
        bar.inc(page.records.len() as u64);
        records.extend(page.records);
        request = page.next;
        if limit.is_some_and(|l| records.len() >= l) {
            break;
        }
    }
    if let Some(limit) = limit {
        records.truncate(limit);
    }
    bar.finish_and_clear();
    Ok(records)
}

fn time_text(t: Option<session_core::Timestamp>) -> String {
    t.map_or_else(|| "never".to_string(), |t| t.to_string())
}

fn record_summary(record: &Record) -> Value {
    json!({
        "key": record.key.to_hex(),
        "principal": record.principal,
        "created_at": record.created_at.to_string(),
        "last_access": record.last_access.to_string(),
        "expires_at": record.expires_at().map(|t| t.to_string()),
        "version": record.version,
        "codec": format!("{:?}", record.codec),
        "attributes": record.attributes.len(),
        "bytes": record.data_size(),
    })
}

/// Runs `sessionctl store …`.
pub(crate) async fn run(args: StoreArgs, json: bool) -> Result<ExitCode, CliError> {
    let url = args.store.ok_or_else(|| {
        CliError::usage("--store URL is required (memory:, file:DIR, sqlite:PATH, redis://…)")
    })?;
    let store = open(&url).await?;
    match args.command {
        StoreCommand::List { limit } => {
            let records = all_records(store.as_ref(), limit, json).await?;
            if json {
                println!(
                    "{}",
                    Value::Array(records.iter().map(record_summary).collect())
                );
            } else {
                let mut table = Table::new([
                    "KEY",
                    "PRINCIPAL",
                    "CREATED",
                    "LAST ACCESS",
                    "EXPIRES",
                    "VERSION",
                    "ATTRS",
                ]);
                for r in &records {
                    table.row([
                        r.key.to_hex(),
                        r.principal.clone().unwrap_or_else(|| "-".into()),
                        r.created_at.to_string(),
                        r.last_access.to_string(),
                        time_text(r.expires_at()),
                        r.version.to_string(),
                        r.attributes.len().to_string(),
                    ]);
                }
                table.print();
                println!("{} session(s) in {}", records.len(), store.name());
            }
        }
        StoreCommand::Show { id } => {
            let key = key_of(&id)?;
            let record = store.load(&key).await?.ok_or_else(|| {
                CliError::NotFound(format!(
                    "no live session {} in the {} store",
                    key.short(),
                    store.name()
                ))
            })?;
            let mut attributes = BTreeMap::new();
            for name in record.attributes.keys() {
                let value = match record.get::<Value>(name) {
                    Ok(Some(value)) => value,
                    _ => Value::String(format!(
                        "<{} bytes, {:?}>",
                        record.attributes[name].value.len(),
                        record.codec
                    )),
                };
                attributes.insert(name.clone(), value);
            }
            if json {
                let mut summary = record_summary(&record);
                summary["attributes"] = json!(attributes);
                println!("{summary}");
            } else {
                println!("key:         {}", record.key.to_hex());
                println!(
                    "principal:   {}",
                    record.principal.as_deref().unwrap_or("-")
                );
                println!("created:     {}", record.created_at);
                println!("last access: {}", record.last_access);
                println!("expires:     {}", time_text(record.expires_at()));
                println!("version:     {}", record.version);
                println!();
                let mut table = Table::new(["ATTRIBUTE", "VALUE"]);
                for (name, value) in attributes {
                    table.row([name, value.to_string()]);
                }
                table.print();
            }
        }
        StoreCommand::Delete { id } => {
            let key = key_of(&id)?;
            if !store.delete(&key).await? {
                return Err(CliError::NotFound(format!(
                    "no live session {} in the {} store",
                    key.short(),
                    store.name()
                )));
            }
            if json {
                println!("{}", json!({"deleted": key.to_hex()}));
            } else {
                println!("deleted {}", key.to_hex());
            }
        }
        StoreCommand::PurgeExpired => {
            let removed = store.delete_expired().await?;
            if json {
                println!("{}", json!({"purged": removed}));
            } else {
                println!("purged {removed} expired session(s)");
            }
        }
        StoreCommand::Stats => {
            let records = all_records(store.as_ref(), None, json).await?;
            let principals: std::collections::BTreeSet<&str> = records
                .iter()
                .filter_map(|r| r.principal.as_deref())
                .collect();
            let attributes: usize = records.iter().map(|r| r.attributes.len()).sum();
            let bytes: usize = records.iter().map(Record::data_size).sum();
            let stats = json!({
                "store": store.name(),
                "sessions": records.len(),
                "principals": principals.len(),
                "anonymous": records.iter().filter(|r| r.principal.is_none()).count(),
                "attributes": attributes,
                "bytes": bytes,
                "oldest": records.iter().map(|r| r.created_at).min().map(|t| t.to_string()),
            });
            if json {
                println!("{stats}");
            } else {
                let mut table = Table::new(["STAT", "VALUE"]);
                if let Value::Object(map) = stats {
                    for (k, v) in map {
                        table.row([k, v.as_str().map_or_else(|| v.to_string(), str::to_string)]);
                    }
                }
                table.print();
            }
        }
        StoreCommand::Migrate { to, overwrite } => {
            let destination = open(&to).await?;
            let total = store.count().await?;
            let bar = progress_bar(total, "migrating", json);
            let (mut copied, mut skipped, mut replaced) = (0u64, 0u64, 0u64);
            let mut request = Some(PageRequest::first(PAGE));
            while let Some(page_request) = request {
                let page = store.list(page_request).await?;
                for record in &page.records {
                    bar.inc(1);
                    match destination.create(record).await {
                        Ok(()) => copied += 1,
                        Err(session_core::Error::AlreadyExists { .. }) if overwrite => {
                            destination.delete(&record.key).await?;
                            destination.create(record).await?;
                            replaced += 1;
                        }
                        Err(session_core::Error::AlreadyExists { .. }) => skipped += 1,
                        Err(e) => {
                            bar.finish_and_clear();
                            return Err(CliError::Other(format!(
                                "migration stopped after {copied} session(s): {e}"
                            )));
                        }
                    }
                }
                request = page.next;
            }
            bar.finish_and_clear();
            if json {
                println!(
                    "{}",
                    json!({"copied": copied, "replaced": replaced, "skipped": skipped, "from": store.name(), "to": destination.name()})
                );
            } else {
                println!(
                    "copied {copied}, replaced {replaced}, skipped {skipped} (already present) from {} to {}",
                    store.name(),
                    destination.name()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
