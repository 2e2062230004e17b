//! Store URLs: one string that says which store to open and where.
use std::path::PathBuf;

use crate::error::{Error, Result};

/// A parsed store URL: one string that says which store to open and where.
///
/// | URL | store |
/// |---|---|
/// | `memory:` | [`MemoryStore`](session_core::MemoryStore) (this process only) |
/// | `file:DIR` | [`FileStore`](crate::FileStore) in `DIR` |
/// | `sqlite:PATH` | [`SqliteStore`](crate::SqliteStore) in the database file `PATH` |
/// | `redis://HOST:PORT/DB` (also `rediss://`, `redis+unix://`) | [`RedisStore`](crate::RedisStore) on one server |
/// | `redis+cluster://H1:P1,H2:P2,…` | [`RedisStore`](crate::RedisStore) on a Redis Cluster (seed nodes) |
/// | `encrypted:DIR?key_env=VAR` or `encrypted:DIR?key_file=PATH` | [`EncryptedFileStore`](crate::EncryptedFileStore) |
///
/// Redis URLs take `?prefix=P` (the key prefix, default `session:`). Encrypted URLs may repeat
/// `key_env`/`key_file`: the first key writes, the others still read (key rotation). `key_env`
/// names an environment variable holding a passphrase (stretched with Argon2id); `key_file` a
/// file holding a raw 32-byte key (or 64 hex digits). Paths are taken literally (no
/// percent-decoding); `file:` and `sqlite:` also accept `scheme:///absolute/path`.
///
/// Anything else is an error that says what was expected: a typo never falls back to another
/// store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// `memory:`
    Memory,
    /// `file:DIR`
    File(PathBuf),
    /// `sqlite:PATH`
    Sqlite(PathBuf),
    /// `redis://…` (one server).
    Redis {
        /// The connection URL handed to the redis crate (without this crate's parameters).
        url: String,
        /// The key prefix.
        prefix: String,
    },
    /// `redis+cluster://H1:P1,H2:P2,…`
    RedisCluster {
        /// Seed node URLs (`redis://H:P`).
        nodes: Vec<String>,
        /// The key prefix.
        prefix: String,
    },
    /// `encrypted:DIR?key_env=VAR|key_file=PATH…`
    Encrypted {
        /// The directory.
        dir: PathBuf,
        /// Where the keys come from, newest (the writing key) first.
        keys: Vec<KeySource>,
    },
}

/// Where an encrypted store's key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// A passphrase in this environment variable.
    Env(String),
    /// A key file.
    File(PathBuf),
}

/// The default Redis key prefix.
pub const DEFAULT_REDIS_PREFIX: &str = "session:";

fn bad(url: &str, reason: impl Into<String>) -> Error {
    Error::BadUrl {
        url: url.to_owned(),
        reason: reason.into(),
    }
}

/// Splits `rest` into a path and query parameters.
fn path_and_query(rest: &str) -> (&str, Option<&str>) {
    match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    }
}

fn params<'a>(url: &str, query: Option<&'a str>) -> Result<Vec<(&'a str, &'a str)>> {
    let Some(query) = query else {
        return Ok(Vec::new());
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .filter(|(_, v)| !v.is_empty())
                .ok_or_else(|| {
                    bad(
                        url,
                        format!("query parameter {pair:?} needs a value (name=value)"),
                    )
                })
        })
        .collect()
}

fn local_path(url: &str, scheme: &str, rest: &str) -> Result<PathBuf> {
    let path = match rest.strip_prefix("//") {
        Some(after) if after.starts_with('/') => after,
        Some(_) => {
            return Err(bad(
                url,
                format!("use {scheme}:relative/path or {scheme}:///absolute/path (no host part)"),
            ));
        }
        None => rest,
    };
    if path.is_empty() {
        return Err(bad(
            url,
            format!("{scheme}: needs a path, e.g. {scheme}:/var/lib/sessions"),
        ));
    }
    Ok(PathBuf::from(path))
}

fn no_params(url: &str, scheme: &str, query: Option<&str>) -> Result<()> {
    match query {
        Some(q) if !q.is_empty() => Err(bad(
            url,
            format!("{scheme}: takes no parameters (got {q:?})"),
        )),
        _ => Ok(()),
    }
}

/// Splits off this crate's `prefix` parameter from a Redis URL's query.
fn redis_prefix(url: &str, query: Option<&str>) -> Result<(String, Vec<String>)> {
    let mut prefix = DEFAULT_REDIS_PREFIX.to_owned();
    let mut rest = Vec::new();
    for (name, value) in params(url, query)? {
        if name == "prefix" {
            if value.contains(['{', '}']) {
                return Err(bad(
                    url,
                    "the key prefix must not contain { or } (they pick Redis Cluster slots)",
                ));
            }
            prefix = value.to_owned();
        } else {
            rest.push(format!("{name}={value}"));
        }
    }
    Ok((prefix, rest))
}

impl StoreUrl {
    /// Parses a store URL (the grammar is in the [type docs](StoreUrl)).
    pub fn parse(url: &str) -> Result<StoreUrl> {
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(bad(
                url,
                "expected SCHEME:…, one of memory:, file:DIR, sqlite:PATH, redis://HOST:PORT/DB, redis+cluster://H1:P1,H2:P2, encrypted:DIR?key_file=PATH",
            ));
        };
        match scheme {
            "memory" => {
                if !rest.is_empty() {
                    return Err(bad(url, "memory: takes nothing after the colon"));
                }
                Ok(StoreUrl::Memory)
            }
            "file" | "sqlite" => {
                let (path, query) = path_and_query(rest);
                no_params(url, scheme, query)?;
                let path = local_path(url, scheme, path)?;
                Ok(if scheme == "file" {
                    StoreUrl::File(path)
                } else {
                    StoreUrl::Sqlite(path)
                })
            }
            "redis" | "rediss" | "redis+unix" | "unix" => {
                let (base, query) = path_and_query(rest);
                if !base.starts_with("//") {
                    return Err(bad(url, format!("expected {scheme}://HOST:PORT/DB")));
                }
                let (prefix, others) = redis_prefix(url, query)?;
                let mut connection = format!("{scheme}:{base}");
                if !others.is_empty() {
                    connection.push('?');
                    connection.push_str(&others.join("&"));
                }
                Ok(StoreUrl::Redis {
                    url: connection,
                    prefix,
                })
            }
            "redis+cluster" | "rediss+cluster" => {
                let (base, query) = path_and_query(rest);
                let Some(hosts) = base.strip_prefix("//") else {
                    return Err(bad(url, "expected redis+cluster://H1:P1,H2:P2,…"));
                };
                let hosts = hosts.trim_end_matches('/');
                let (prefix, others) = redis_prefix(url, query)?;
                if !others.is_empty() {
                    return Err(bad(
                        url,
                        format!("unknown parameters for a cluster: {}", others.join("&")),
                    ));
                }
                let node_scheme = if scheme == "rediss+cluster" {
                    "rediss"
                } else {
                    "redis"
                };
                let nodes: Vec<String> = hosts
                    .split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(|h| format!("{node_scheme}://{h}"))
                    .collect();
                if nodes.is_empty() {
                    return Err(bad(url, "a cluster URL needs at least one HOST:PORT"));
                }
                if hosts.contains('/') {
                    return Err(bad(
                        url,
                        "Redis Cluster has only database 0; drop the /DB part",
                    ));
                }
                Ok(StoreUrl::RedisCluster { nodes, prefix })
            }
            "encrypted" => {
                let (path, query) = path_and_query(rest);
                let dir = local_path(url, scheme, path)?;
                let mut keys = Vec::new();
                for (name, value) in params(url, query)? {
                    match name {
                        "key_env" => keys.push(KeySource::Env(value.to_owned())),
                        "key_file" => keys.push(KeySource::File(PathBuf::from(value))),
                        other => {
                            return Err(bad(
                                url,
                                format!(
                                    "unknown parameter {other:?}; use key_env=VAR or key_file=PATH"
                                ),
                            ));
                        }
                    }
                }
                if keys.is_empty() {
                    return Err(bad(
                        url,
                        "an encrypted store needs a key: encrypted:DIR?key_env=VAR or encrypted:DIR?key_file=PATH",
                    ));
                }
                Ok(StoreUrl::Encrypted { dir, keys })
            }
            other => Err(bad(
                url,
                format!(
                    "unknown store {other:?}; expected memory:, file:, sqlite:, redis://, redis+cluster:// or encrypted:"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_store_url_parses() {
        assert_eq!(StoreUrl::parse("memory:").unwrap(), StoreUrl::Memory);
        assert_eq!(
            StoreUrl::parse("file:/var/lib/s").unwrap(),
            StoreUrl::File("/var/lib/s".into())
        );
        assert_eq!(
            StoreUrl::parse("file:///var/lib/s").unwrap(),
            StoreUrl::File("/var/lib/s".into())
        );
        assert_eq!(
            StoreUrl::parse("sqlite:data/s.db").unwrap(),
            StoreUrl::Sqlite("data/s.db".into())
        );
        assert_eq!(
            StoreUrl::parse("redis://127.0.0.1:6379/2?prefix=app:").unwrap(),
            StoreUrl::Redis {
                url: "redis://127.0.0.1:6379/2".into(),
                prefix: "app:".into()
            }
        );
        assert_eq!(
            StoreUrl::parse("redis+cluster://a:1,b:2").unwrap(),
            StoreUrl::RedisCluster {
                nodes: vec!["redis://a:1".into(), "redis://b:2".into()],
                prefix: DEFAULT_REDIS_PREFIX.into()
            }
        );
        assert_eq!(
            StoreUrl::parse("encrypted:/d?key_file=/k2&key_env=OLD").unwrap(),
            StoreUrl::Encrypted {
                dir: "/d".into(),
                keys: vec![KeySource::File("/k2".into()), KeySource::Env("OLD".into())]
            }
        );
    }

    #[test]
    fn bad_urls_are_clear_errors() {
        for url in [
            "",
            "memroy:",
            "memory:x",
            "file:",
            "file://host/x",
            "file:/x?mode=1",
            "sqlite:",
            "redis:localhost",
            "redis://h:1?prefix={x}",
            "redis+cluster://",
            "redis+cluster://a:1/0",
            "encrypted:/d",
            "encrypted:/d?key=abc",
            "encrypted:/d?key_file=",
            "postgres://x",
        ] {
            let error = StoreUrl::parse(url).expect_err(url);
            assert!(matches!(error, Error::BadUrl { .. }), "{url}: {error}");
        }
    }
}
