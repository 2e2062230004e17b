//! The configuration file.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use session_lyskom::gateway::{GatewayConfig, ServerEntry};

/// `kom-gateway`'s TOML configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// Where to listen, e.g. `127.0.0.1:8080`.
    pub(crate) listen: SocketAddr,
    /// The LysKOM servers, in order.
    #[serde(default)]
    pub(crate) servers: Vec<ServerEntry>,
    /// Seconds a connection may be idle before it is closed (default 1800).
    #[serde(default)]
    pub(crate) idle_timeout_secs: Option<u64>,
    /// The most LysKOM connections open at once (default 10000).
    #[serde(default)]
    pub(crate) max_connections: Option<usize>,
    /// Seconds to wait for a LysKOM server when connecting (default 10).
    #[serde(default)]
    pub(crate) connect_timeout_secs: Option<u64>,
    /// Seconds a LysKOM call may take (default 30).
    #[serde(default)]
    pub(crate) call_timeout_secs: Option<u64>,
    /// Allowed CORS origins (default `["*"]`).
    #[serde(default)]
    pub(crate) allowed_origins: Option<Vec<String>>,
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

    /// The gateway configuration.
    pub(crate) fn gateway(&self) -> GatewayConfig {
        let mut g = GatewayConfig {
            servers: self.servers.clone(),
            ..GatewayConfig::default()
        };
        if let Some(s) = self.idle_timeout_secs {
            g.idle_timeout = Duration::from_secs(s);
            g.reap_interval = Duration::from_secs((s / 4).clamp(1, 30));
        }
        if let Some(m) = self.max_connections {
            g.max_connections = m;
        }
        if let Some(s) = self.connect_timeout_secs {
            g.connect.connect_timeout = Duration::from_secs(s);
        }
        if let Some(s) = self.call_timeout_secs {
            g.connect.call_timeout = Duration::from_secs(s);
        }
        if let Some(o) = &self.allowed_origins {
            g.allowed_origins = o.clone();
        }
        g
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
        let g = c.gateway();
        assert_eq!(g.servers.len(), 2);
        assert_eq!(g.servers[1].port, 4894);
        assert_eq!(g.servers[1].sort_order, Some(7));
        assert_eq!(g.max_connections, 5);
        assert_eq!(g.idle_timeout, Duration::from_secs(60));
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
