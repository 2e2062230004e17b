//! Which HAC to talk to, as whom: from `--url/--user/--env`, or from hac-client-cli's
//! `config.toml` (`-e ENV [-n ENDPOINT]`), with user names and passwords from the same
//! environment variables hac-client-cli reads.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// hac-client-cli's configuration file.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Config {
    #[serde(default = "local")]
    default_environment: String,
    #[serde(default)]
    environments: BTreeMap<String, toml::Value>,
}

fn local() -> String {
    "local".to_string()
}

#[derive(Debug, Deserialize)]
struct EnvironmentEntry {
    #[serde(default)]
    default_endpoint: Option<String>,
    #[serde(default)]
    endpoints: BTreeMap<String, EndpointEntry>,
}

#[derive(Debug, Deserialize)]
struct EndpointEntry {
    url: String,
    #[serde(default)]
    timeout: Option<u64>,
    /// hac-client-cli's "ignore SSL certificate errors".
    #[serde(default)]
    ignore_ssl: bool,
}

/// A resolved target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The HAC base URL.
    pub(crate) url: String,
    /// The user, if known (from a flag or the environment).
    pub(crate) user: Option<String>,
    /// The cache's environment label (`env/endpoint` for configured targets, as hac-client-cli).
    pub(crate) label: String,
    /// Suffixes of the per-target environment variables, most specific first
    /// (`["LOCAL_HAC", "LOCAL"]` reads `HAC_PASSWORD_LOCAL_HAC`, then `HAC_PASSWORD_LOCAL`).
    pub(crate) variable_suffixes: Vec<String>,
    /// The request timeout in seconds, if configured.
    pub(crate) timeout: Option<u64>,
    /// The endpoint's `ignore_ssl = true`: TLS certificates are not verified.
    pub(crate) ignore_ssl: bool,
}

/// An endpoint of the configuration, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The environment's name.
    pub(crate) environment: String,
    /// The endpoint's name.
    pub(crate) name: String,
    /// Its URL.
    pub(crate) url: String,
    /// Its request timeout in seconds, if set.
    pub(crate) timeout: Option<u64>,
    /// Whether TLS certificate errors are ignored.
    pub(crate) ignore_ssl: bool,
}

/// Where hac-client-cli looks for its configuration: `HAC_CLIENT_CONFIG_PATH`, else
/// `$XDG_CONFIG_HOME/hac-client/config.toml`, else `~/.config/hac-client/config.toml`.
pub(crate) fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = env("HAC_CLIENT_CONFIG_PATH").filter(|p| !p.is_empty()) {
        return Some(expand_home(&path, env));
    }
    let config_home = env("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config_home.join("hac-client").join("config.toml"))
}

fn expand_home(path: &str, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match (path.strip_prefix("~/"), env("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

impl Config {
    /// Parses a configuration file's text.
    pub(crate) fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The endpoint `endpoint` (or the default one) of environment `environment` (or the
    /// default one), as hac-client-cli chooses it.
    pub(crate) fn endpoint(
        &self,
        environment: Option<&str>,
        endpoint: Option<&str>,
    ) -> Result<Endpoint, String> {
        let env_name = environment.unwrap_or(&self.default_environment);
        let entry = self
            .environments
            .get(env_name)
            .ok_or_else(|| format!("environment '{env_name}' not found in the configuration"))?;
        let entry: EnvironmentEntry = entry
            .clone()
            .try_into()
            .map_err(|e| format!("environment '{env_name}': {e}"))?;
        let name = match endpoint
            .map(str::to_string)
            .or(entry.default_endpoint.clone())
        {
            Some(name) => name,
            None if entry.endpoints.len() == 1 => {
                entry.endpoints.keys().next().cloned().unwrap_or_default()
            }
            None => {
                return Err(format!(
                    "environment '{env_name}' has several endpoints and no default_endpoint; pass -n ENDPOINT"
                ));
            }
        };
        let found = entry.endpoints.get(&name).ok_or_else(|| {
            let known: Vec<&str> = entry.endpoints.keys().map(String::as_str).collect();
            format!(
                "endpoint '{name}' not found in environment '{env_name}' (known: {})",
                known.join(", ")
            )
        })?;
        Ok(Endpoint {
            environment: env_name.to_string(),
            name,
            url: found.url.clone(),
            timeout: found.timeout,
            ignore_ssl: found.ignore_ssl,
        })
    }
}

/// The first of `HAC_<WHAT>_<suffix>` … `HAC_<WHAT>` that is set and not empty.
pub(crate) fn lookup(
    what: &str,
    suffixes: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    suffixes
        .iter()
        .map(|s| format!("HAC_{what}_{s}"))
        .chain(std::iter::once(format!("HAC_{what}")))
        .find_map(|name| env(&name).filter(|v| !v.is_empty()))
}

/// Resolves a target from a configured environment.
pub(crate) fn from_config(
    config: &Config,
    environment: Option<&str>,
    endpoint: Option<&str>,
    user: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, String> {
    let Endpoint {
        environment: env_name,
        name: endpoint_name,
        url,
        timeout,
        ignore_ssl,
    } = config.endpoint(environment, endpoint)?;
    let suffixes = vec![
        format!(
            "{}_{}",
            env_name.to_uppercase(),
            endpoint_name.to_uppercase()
        ),
        env_name.to_uppercase(),
    ];
    let user = user
        .map(str::to_string)
        .or_else(|| lookup("USERNAME", &suffixes, env));
    Ok(Target {
        url: url.trim_end_matches('/').to_string(),
        user,
        label: format!("{env_name}/{endpoint_name}"),
        variable_suffixes: suffixes,
        timeout,
        ignore_ssl,
    })
}

/// Resolves a target given by URL.
pub(crate) fn from_url(
    url: &str,
    user: Option<&str>,
    environment: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Target {
    let suffixes = vec![environment.to_uppercase().replace(['/', '-'], "_")];
    let user = user
        .map(str::to_string)
        .or_else(|| lookup("USERNAME", &suffixes, env));
    Target {
        url: url.trim_end_matches('/').to_string(),
        user,
        label: environment.to_string(),
        variable_suffixes: suffixes,
        timeout: None,
        ignore_ssl: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const CONFIG: &str = r#"
default_environment = "local"

[environments.local]
default_endpoint = "hac"

[environments.local.endpoints.hac]
url = "https://localhost:9002/"
ignore_ssl = true

[environments.prod.endpoints.node1]
url = "https://prod1:9002"
timeout = 60

[environments.prod.endpoints.node2]
url = "https://prod2:9002"

[environments.placeholder]
"#;

    #[test]
    fn endpoints_are_chosen_like_hac_client_cli() {
        let config = Config::parse(CONFIG).unwrap();
        let env = vars(&[("HAC_USERNAME_LOCAL", "admin")]);
        let target = from_config(&config, None, None, None, &env).unwrap();
        assert_eq!(target.url, "https://localhost:9002");
        assert_eq!(target.label, "local/hac");
        assert_eq!(target.user.as_deref(), Some("admin"));
        assert!(target.ignore_ssl);
        let target = from_config(&config, Some("prod"), Some("node1"), Some("ops"), &env).unwrap();
        assert_eq!(
            (target.label.as_str(), target.timeout),
            ("prod/node1", Some(60))
        );
        assert!(!target.ignore_ssl);
        assert_eq!(target.user.as_deref(), Some("ops"));
        assert!(
            from_config(&config, Some("prod"), None, None, &env)
                .unwrap_err()
                .contains("several endpoints")
        );
        assert!(from_config(&config, Some("nope"), None, None, &env).is_err());
    }

    #[test]
    fn passwords_come_from_the_most_specific_variable() {
        let suffixes = vec!["LOCAL_HAC".to_string(), "LOCAL".to_string()];
        let env = vars(&[("HAC_PASSWORD", "generic"), ("HAC_PASSWORD_LOCAL", "env")]);
        assert_eq!(lookup("PASSWORD", &suffixes, &env).as_deref(), Some("env"));
        let env = vars(&[("HAC_PASSWORD", "generic"), ("HAC_PASSWORD_LOCAL_HAC", "")]);
        assert_eq!(
            lookup("PASSWORD", &suffixes, &env).as_deref(),
            Some("generic")
        );
        assert_eq!(lookup("PASSWORD", &suffixes, &vars(&[])), None);
    }

    #[test]
    fn the_config_path_follows_hac_client_cli() {
        let env = vars(&[("HOME", "/home/u")]);
        assert_eq!(
            config_path(&env).unwrap(),
            PathBuf::from("/home/u/.config/hac-client/config.toml")
        );
        let env = vars(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/x")]);
        assert_eq!(
            config_path(&env).unwrap(),
            PathBuf::from("/x/hac-client/config.toml")
        );
        let env = vars(&[("HOME", "/home/u"), ("HAC_CLIENT_CONFIG_PATH", "~/c.toml")]);
        assert_eq!(config_path(&env).unwrap(), PathBuf::from("/home/u/c.toml"));
    }
}
