//! One connection type over a single server and a cluster, both reconnecting by themselves,
//! the rule for sending a command again over the new connection, and the client for a server
//! URL (TLS with a given CA included).

use std::future::Future;

use redis::aio::{ConnectionLike, ConnectionManager};
#[cfg(feature = "redis-cluster")]
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, RedisResult, ScriptInvocation, Value};

use super::auto_pipeline::AutoPipeline;
use crate::{Error, Result};

/// A multiplexed connection: cheap to clone, shared by all tasks.
///
/// - `Single`: a [`ConnectionManager`], which reconnects in the background after the server
///   goes away; requests made while it is down fail with a connection error, and the one
///   that finds the connection dropped is sent again when [`OnDropped`] allows.
/// - `Pipelined`: the same, with the single commands of concurrent tasks written together
///   ([`AutoPipeline`]).
/// - `Cluster` (feature `redis-cluster`): a cluster connection, which routes each command to
///   the node owning its slot, follows `MOVED`/`ASK` and reconnects to nodes that come back.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Pipelined(AutoPipeline),
    #[cfg(feature = "redis-cluster")]
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Pipelined(c) => Box::pin(c.send(cmd)),
            #[cfg(feature = "redis-cluster")]
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Pipelined(c) => c.conn.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "redis-cluster")]
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Pipelined(c) => c.conn.get_db(),
            #[cfg(feature = "redis-cluster")]
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

/// What a command does when the connection it went out on turns out to be dropped.
///
/// A connection reconnects by itself, but the command that finds it dead (the first one
/// after a Redis restart, or after a proxy closed an idle connection) fails. Failing it would
/// turn every Redis restart into a failed request per connection, so a command that may run
/// twice is sent once more, over the new connection. A dropped connection does not tell
/// whether the server ran the command before it went, so a command whose second run could
/// apply a change twice (a save with an addition, a conditional delete) fails instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnDropped {
    /// Send it once more: a second run changes nothing a first one did not.
    SendAgain,
    /// Fail with the connection error.
    Fail,
}

impl OnDropped {
    /// Sends `command` on `conn`, and once more as this rule says.
    pub(crate) async fn query<C, T>(self, conn: &C, command: &Cmd) -> RedisResult<T>
    where
        C: ConnectionLike + Clone,
        T: FromRedisValue,
    {
        self.run(|| {
            let mut conn = conn.clone();
            async move { command.query_async(&mut conn).await }
        })
        .await
    }

    /// Runs the script `invocation` on `conn`, and once more as this rule says.
    pub(crate) async fn invoke<C, T>(
        self,
        conn: &C,
        invocation: &ScriptInvocation<'_>,
    ) -> RedisResult<T>
    where
        C: ConnectionLike + Clone,
        T: FromRedisValue,
    {
        self.run(|| {
            let mut conn = conn.clone();
            async move { invocation.invoke_async(&mut conn).await }
        })
        .await
    }

    /// Runs `send`, and once more when `self` allows and the first run found the connection
    /// dropped.
    async fn run<T, Fut>(self, mut send: impl FnMut() -> Fut) -> RedisResult<T>
    where
        Fut: Future<Output = RedisResult<T>>,
    {
        match send().await {
            Err(error) if self == OnDropped::SendAgain && error.is_connection_dropped() => {
                send().await
            }
            result => result,
        }
    }
}

/// The query parameter of a `rediss://` URL that names a PEM file of the certificate
/// authorities to trust for the server's certificate (`rediss://HOST:PORT/0?ca=/etc/redis/ca.pem`).
/// Without it, the system's trusted roots are used.
pub(crate) const CA_PARAMETER: &str = "ca";

/// A client for one server's `url`, with the certificate authorities of its `ca=` parameter
/// when it has one.
pub(crate) fn client(url: &str) -> Result<redis::Client> {
    let (connection_url, ca) = split_ca(url)?;
    let Some(ca) = ca else {
        return Ok(redis::Client::open(connection_url)?);
    };
    let root_cert = std::fs::read(&ca).map_err(|source| Error::Io {
        operation: "read the Redis CA file",
        path: ca.into(),
        source,
    })?;
    tls_client(&connection_url, root_cert)
}

#[cfg(feature = "redis-tls")]
fn tls_client(url: &str, root_cert: Vec<u8>) -> Result<redis::Client> {
    let certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(root_cert),
    };
    Ok(redis::Client::build_with_tls(url, certificates)?)
}

#[cfg(not(feature = "redis-tls"))]
fn tls_client(_: &str, _: Vec<u8>) -> Result<redis::Client> {
    Err(Error::NotBuiltIn {
        scheme: "rediss".into(),
        feature: "redis-tls",
    })
}

/// Takes the `ca=PATH` parameter out of `url`: the URL for the redis crate, and the path.
fn split_ca(url: &str) -> Result<(String, Option<String>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut ca = None;
    let mut others = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((CA_PARAMETER, path)) if !path.is_empty() => ca = Some(path.to_owned()),
            Some((CA_PARAMETER, _)) => {
                return Err(bad_url(url, "ca= needs the path of a PEM file"));
            }
            _ => others.push(pair),
        }
    }
    if ca.is_some() && !base.starts_with("rediss:") {
        return Err(bad_url(url, "ca= is for TLS connections: use rediss://"));
    }
    let mut connection_url = base.to_owned();
    if !others.is_empty() {
        connection_url.push('?');
        connection_url.push_str(&others.join("&"));
    }
    Ok((connection_url, ca))
}

fn bad_url(url: &str, reason: &str) -> Error {
    Error::BadUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_parameter_is_taken_out_of_the_url() {
        assert_eq!(
            split_ca("rediss://h:1/0?ca=/etc/ca.pem").unwrap(),
            ("rediss://h:1/0".to_owned(), Some("/etc/ca.pem".to_owned()))
        );
        assert_eq!(
            split_ca("rediss://h:1/0?protocol=resp3&ca=/c.pem").unwrap(),
            (
                "rediss://h:1/0?protocol=resp3".to_owned(),
                Some("/c.pem".to_owned())
            )
        );
        assert_eq!(
            split_ca("redis://h:1/0?protocol=resp3").unwrap(),
            ("redis://h:1/0?protocol=resp3".to_owned(), None)
        );
    }

    #[test]
    fn a_ca_without_tls_or_without_a_path_is_refused() {
        for url in ["redis://h:1/0?ca=/c.pem", "rediss://h:1/0?ca="] {
            assert!(matches!(split_ca(url), Err(Error::BadUrl { .. })), "{url}");
        }
    }
}
