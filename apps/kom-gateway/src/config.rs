//! The configuration file.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::open_files;
use session_http::serve::IpRange;
use session_lyskom::gateway::{GatewayConfig, ServeLimits, ServerEntry, WebSocketLimits};

/// `kom-gateway`'s TOML configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// Where to listen, e.g. `127.0.0.1:8080`.
    pub(crate) listen: SocketAddr,
    /// The LysKOM servers, in order.
    #[serde(default)]
    pub(crate) servers: Vec<ServerEntry>,
    /// Seconds a connection with someone logged in may be idle before it is closed
    /// (default 1800).
    #[serde(default)]
    pub(crate) idle_timeout_secs: Option<u64>,
    /// Seconds a connection with nobody logged in may be idle before it is closed
    /// (default 120).
    #[serde(default)]
    pub(crate) unauthenticated_idle_timeout_secs: Option<u64>,
    /// The most LysKOM connections open at once (default 10000, lowered to fit the
    /// open-file limit).
    #[serde(default)]
    pub(crate) max_connections: Option<usize>,
    /// The most LysKOM connections opened from one client address (default 16).
    #[serde(default)]
    pub(crate) max_connections_per_address: Option<usize>,
    /// Reverse proxies (addresses, or networks such as `"10.0.0.0/8"`) whose
    /// `X-Forwarded-For` is believed for that cap, and whose HTTP connections are held to the
    /// total HTTP cap only (default none).
    #[serde(default, deserialize_with = "ip_ranges")]
    pub(crate) trusted_proxies: Vec<IpRange>,
    /// Seconds to wait for a LysKOM server when connecting (default 10).
    #[serde(default)]
    pub(crate) connect_timeout_secs: Option<u64>,
    /// Seconds a LysKOM call may take (default 30).
    #[serde(default)]
    pub(crate) call_timeout_secs: Option<u64>,
    /// Allowed CORS origins (default `["*"]`); WebSocket upgrades from other origins are
    /// refused.
    #[serde(default)]
    pub(crate) allowed_origins: Option<Vec<String>>,
    /// The HTTP server's limits.
    #[serde(default)]
    pub(crate) http: HttpConfig,
    /// The WebSocket endpoint's limits.
    #[serde(default)]
    pub(crate) websocket: WebSocketConfig,
}

/// `[http]`: the HTTP server's limits; each key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpConfig {
    /// Seconds a client may take to send a request head, and may keep an idle keep-alive
    /// connection (default 10).
    header_read_timeout_secs: Option<u64>,
    /// Seconds one request may take before it is answered 503 (default 60).
    request_timeout_secs: Option<u64>,
    /// Seconds a write to a client that does not read may stall before the connection is
    /// closed (default 30).
    write_stall_timeout_secs: Option<u64>,
    /// The most HTTP connections (WebSockets included) at once (default 1024).
    max_connections: Option<usize>,
    /// The most HTTP connections from one client address at once (default 64).
    max_connections_per_address: Option<usize>,
    /// The largest request head (request line and headers) in bytes; a larger one is answered
    /// 431 (default 64 KiB, at least 8 KiB).
    max_header_bytes: Option<usize>,
    /// Seconds a shutdown waits for requests in flight (default 10).
    drain_timeout_secs: Option<u64>,
}

/// `[websocket]`: the WebSocket endpoint's limits; each key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebSocketConfig {
    /// The largest message or frame in bytes (default 1 MiB).
    max_message_bytes: Option<usize>,
    /// The most sockets on one connection id (default 4).
    max_sockets_per_connection: Option<usize>,
    /// The most bytes of requests read but not yet answered on one socket (default 4 MiB).
    max_pending_bytes: Option<usize>,
}

/// A list of addresses and networks, each a string (`"127.0.0.1"`, `"10.0.0.0/8"`).
fn ip_ranges<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<IpRange>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|text| text.parse().map_err(serde::de::Error::custom))
        .collect()
}

fn seconds(value: Option<u64>, default: Duration) -> Duration {
    value.map_or(default, Duration::from_secs)
}

impl HttpConfig {
    fn limits(&self) -> ServeLimits {
        let d = ServeLimits::default();
        ServeLimits {
            header_read_timeout: seconds(self.header_read_timeout_secs, d.header_read_timeout),
            request_timeout: seconds(self.request_timeout_secs, d.request_timeout),
            write_stall_timeout: seconds(self.write_stall_timeout_secs, d.write_stall_timeout),
            max_connections: self.max_connections.unwrap_or(d.max_connections),
            max_connections_per_address: self
                .max_connections_per_address
                .unwrap_or(d.max_connections_per_address),
            max_header_bytes: self.max_header_bytes.unwrap_or(d.max_header_bytes),
            drain_timeout: seconds(self.drain_timeout_secs, d.drain_timeout),
            ..d
        }
    }
}

impl WebSocketConfig {
    fn limits(&self) -> WebSocketLimits {
        let d = WebSocketLimits::default();
        WebSocketLimits {
            max_message_bytes: self.max_message_bytes.unwrap_or(d.max_message_bytes),
            max_sockets_per_connection: self
                .max_sockets_per_connection
                .unwrap_or(d.max_sockets_per_connection),
            max_pending_bytes: self.max_pending_bytes.unwrap_or(d.max_pending_bytes),
        }
    }
}

impl Config {
    /// Parses and checks a configuration.
    pub(crate) fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        if config.servers.is_empty() {
            return Err("no [[servers]] configured".into());
        }
        for (i, s) in config.servers.iter().enumerate() {
            if s.id.is_empty() || s.id.contains('/') || s.id.starts_with('_') {
                return Err(format!(
                    "server {} has an invalid id {:?} (non-empty, no '/', not starting with '_')",
                    i + 1,
                    s.id
                ));
            }
            if config.servers[..i].iter().any(|o| o.id == s.id) {
                return Err(format!("server id {:?} is configured twice", s.id));
            }
        }
        Ok(config)
    }

    /// The LysKOM and HTTP connection caps as configured, defaults filled in.
    pub(crate) fn asked_caps(&self) -> (open_files::Cap, open_files::Cap) {
        let defaults = GatewayConfig::default();
        (
            open_files::Cap {
                value: self.max_connections.unwrap_or(defaults.max_connections),
                explicit: self.max_connections.is_some(),
            },
            open_files::Cap {
                value: self.http.limits().max_connections,
                explicit: self.http.max_connections.is_some(),
            },
        )
    }

    /// The gateway configuration, its LysKOM and HTTP connection caps fitted under the
    /// open-file limit (see [`open_files::fit_caps`]).
    pub(crate) fn gateway(&self, open_file_limit: Option<u64>) -> Result<GatewayConfig, String> {
        let mut g = GatewayConfig {
            servers: self.servers.clone(),
            http: self.http.limits(),
            websocket: self.websocket.limits(),
            ..GatewayConfig::default()
        };
        g.idle_timeout = seconds(self.idle_timeout_secs, g.idle_timeout);
        g.unauthenticated_idle_timeout = seconds(
            self.unauthenticated_idle_timeout_secs,
            g.unauthenticated_idle_timeout,
        );
        let shortest = g.idle_timeout.min(g.unauthenticated_idle_timeout).as_secs();
        g.reap_interval = Duration::from_secs((shortest / 4).clamp(1, 30));
        let (lyskom, http) = self.asked_caps();
        let (lyskom, http) = open_files::fit_caps(open_file_limit, lyskom, http)?;
        g.max_connections = lyskom;
        g.http.max_connections = http;
        if let Some(m) = self.max_connections_per_address {
            g.max_connections_per_address = m;
        }
        // A proxy's X-Forwarded-For names the client for the LysKOM cap, and its HTTP
        // connections, which carry many clients, are held to the total cap only.
        g.http = g
            .http
            .with_trusted_proxies(self.trusted_proxies.iter().copied());
        if let Some(s) = self.connect_timeout_secs {
            g.connect.connect_timeout = Duration::from_secs(s);
        }
        if let Some(s) = self.call_timeout_secs {
            g.connect.call_timeout = Duration::from_secs(s);
        }
        if let Some(o) = &self.allowed_origins {
            g.allowed_origins = o.clone();
        }
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_servers_and_limits() {
        let c = Config::parse(
            r#"
listen = "127.0.0.1:8080"
idle_timeout_secs = 60
max_connections = 5

[[servers]]
id = "lyskom"
name = "LysKOM"
host = "kom.example"
port = 4894

[[servers]]
id = "local"
name = "Local"
host = "127.0.0.1"
sort_order = 7
"#,
        )
        .unwrap();
        let g = c.gateway(Some(1 << 20)).unwrap();
        assert_eq!(g.servers.len(), 2);
        assert_eq!(g.servers[1].port, 4894);
        assert_eq!(g.servers[1].sort_order, Some(7));
        assert_eq!(g.max_connections, 5);
        assert_eq!(g.idle_timeout, Duration::from_secs(60));
        assert_eq!(g.unauthenticated_idle_timeout, Duration::from_secs(120));
        assert_eq!(g.max_connections_per_address, 16);
        assert_eq!(g.http, ServeLimits::default());
        assert_eq!(g.websocket, WebSocketLimits::default());
    }

    #[test]
    fn a_malformed_trusted_proxy_is_refused_with_its_text() {
        let error = Config::parse(
            r#"
listen = "127.0.0.1:8080"
trusted_proxies = ["10.0.0.0/33"]

[[servers]]
id = "lyskom"
name = "LysKOM"
host = "kom.example"
"#,
        )
        .unwrap_err();
        assert!(
            error.contains("\"10.0.0.0/33\" is not an IP address"),
            "{error}"
        );
    }

    #[test]
    fn parses_the_http_and_websocket_limits() {
        let c = Config::parse(
            r#"
listen = "127.0.0.1:8080"
unauthenticated_idle_timeout_secs = 30
max_connections_per_address = 4

trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]

[http]
header_read_timeout_secs = 5
max_connections = 100
max_connections_per_address = 10

[websocket]
max_message_bytes = 65536
max_sockets_per_connection = 2

[[servers]]
id = "lyskom"
name = "LysKOM"
host = "kom.example"
"#,
        )
        .unwrap();
        let g = c.gateway(Some(1024)).unwrap();
        assert_eq!(g.unauthenticated_idle_timeout, Duration::from_secs(30));
        assert_eq!(g.reap_interval, Duration::from_secs(7));
        assert_eq!(g.max_connections_per_address, 4);
        assert_eq!(g.http.header_read_timeout, Duration::from_secs(5));
        assert_eq!(g.http.max_connections, 100);
        assert_eq!(g.http.max_connections_per_address, 10);
        let proxies: Vec<IpRange> =
            vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        assert_eq!(g.http.trusted_proxies, proxies);
        assert_eq!(g.websocket.max_message_bytes, 65536);
        assert_eq!(g.websocket.max_sockets_per_connection, 2);
        // The default LysKOM cap is lowered under the open-file limit.
        assert_eq!(g.max_connections, 1024 - 100 - 64);
    }

    #[test]
    fn rejects_bad_configurations() {
        assert!(Config::parse("listen = \"127.0.0.1:1\"").is_err());
        let twice = "listen = \"127.0.0.1:1\"\n[[servers]]\nid=\"a\"\nname=\"A\"\nhost=\"h\"\n[[servers]]\nid=\"a\"\nname=\"B\"\nhost=\"h\"\n";
        assert!(Config::parse(twice).unwrap_err().contains("twice"));
        assert!(Config::parse("listen = \"nope\"").is_err());
        assert!(Config::parse("listen = \"127.0.0.1:1\"\nbogus = 1").is_err());
    }
}
