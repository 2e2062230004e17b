//! The HAC session cache, in hac-client-core 0.1.2's format so both tools share sessions.
//!
//! A session is filed under `session_<md5("base_url:username:environment")>.json` in
//! `~/.cache/hac-client` (`$HOME/.cache/hac-client`, as hac-client-core computes it; it does not
//! follow `XDG_CACHE_HOME`). The file holds exactly the fields hac-client-core reads — an extra
//! field would make it discard the file — and never a password:
//!
//! ```json
//! { "session_id": "…", "csrf_token": "…", "route_cookie": "ROUTE=…" | null,
//!   "environment": "local/hac", "base_url": "http://localhost:9001", "username": "admin",
//!   "created_at": 1763781234.5, "last_used_at": 1763781299.1, "is_authenticated": true }
//! ```
//!
//! This implementation writes more carefully than hac-client-core: the directory is made 0700,
//! files are written 0600 through a temporary file, fsync and rename
//! ([`session_core::atomic_file`]), so concurrent saves of one key never mix.

use std::fmt;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use session_core::atomic_file;

use super::error::HacError;

/// What a cached session is filed under: a base URL (without trailing slash), a user name and
/// an environment (hac-client-cli uses `env/endpoint`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The HAC base URL, e.g. `https://localhost:9002` (trailing slashes are removed).
    pub base_url: String,
    /// The user name.
    pub username: String,
    /// The environment label.
    pub environment: String,
}

impl CacheKey {
    /// A key; trailing slashes of `base_url` are removed as hac-client-core does.
    pub fn new(
        base_url: impl Into<String>,
        username: impl Into<String>,
        environment: impl Into<String>,
    ) -> Self {
        CacheKey {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            username: username.into(),
            environment: environment.into(),
        }
    }

    /// hac-client-core's key: md5 of `base_url:username:environment`, in hex.
    ///
    /// ```
    /// use session_http::hac::CacheKey;
    /// let key = CacheKey::new("https://localhost:9002/", "admin", "local");
    /// assert_eq!(key.file_name(), format!("session_{}.json", key.digest()));
    /// assert_eq!(key.digest().len(), 32);
    /// ```
    pub fn digest(&self) -> String {
        let text = format!("{}:{}:{}", self.base_url, self.username, self.environment);
        hex::encode(Md5::digest(text.as_bytes()))
    }

    /// The cache file's name.
    pub fn file_name(&self) -> String {
        format!("session_{}.json", self.digest())
    }
}

/// One cached session, field for field as hac-client-core 0.1.2 writes it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachedSession {
    /// The `JSESSIONID` cookie's value.
    pub session_id: String,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// The load balancer's cookie as `ROUTE=value`, if any.
    pub route_cookie: Option<String>,
    /// The environment label.
    pub environment: String,
    /// The base URL.
    pub base_url: String,
    /// The user name.
    pub username: String,
    /// When the session was created (seconds since the epoch).
    pub created_at: f64,
    /// When it was last used (seconds since the epoch).
    pub last_used_at: f64,
    /// Whether it is logged in.
    #[serde(default = "yes")]
    pub is_authenticated: bool,
}

fn yes() -> bool {
    true
}

impl CachedSession {
    /// The key this session is filed under.
    pub fn key(&self) -> CacheKey {
        CacheKey::new(&self.base_url, &self.username, &self.environment)
    }

    /// The route cookie's value (without `ROUTE=`).
    pub fn route(&self) -> Option<&str> {
        self.route_cookie
            .as_deref()
            .map(|r| r.strip_prefix("ROUTE=").unwrap_or(r))
    }
}

impl fmt::Debug for CachedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedSession")
            .field("session_id", &redact(&self.session_id))
            .field("csrf_token", &"<redacted>")
            .field("route_cookie", &self.route_cookie)
            .field("environment", &self.environment)
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("is_authenticated", &self.is_authenticated)
            .finish()
    }
}

/// The first four characters of a secret and an ellipsis.
pub(crate) fn redact(secret: &str) -> String {
    let prefix: String = secret.chars().take(4).collect();
    format!("{prefix}…")
}

/// Seconds since the epoch, as hac-client-core's `time.time()`.
pub(crate) fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Where HAC sessions are kept.
#[async_trait]
pub trait SessionCache: Send + Sync + fmt::Debug {
    /// The session filed under `key`, if any. An unreadable entry is dropped and reported absent.
    async fn load(&self, key: &CacheKey) -> Result<Option<CachedSession>, HacError>;
    /// Files `session` under its key, replacing what was there.
    async fn save(&self, session: &CachedSession) -> Result<(), HacError>;
    /// Drops the entry under `key`; true if there was one.
    async fn remove(&self, key: &CacheKey) -> Result<bool, HacError>;
    /// Every cached session, most recently used first.
    async fn list(&self) -> Result<Vec<CachedSession>, HacError>;
}

/// The session cache as files in a directory, shared with hac-client-core.
#[derive(Debug, Clone)]
pub struct FileSessionCache {
    dir: PathBuf,
}

impl FileSessionCache {
    /// A cache in `dir` (created 0700 on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileSessionCache { dir: dir.into() }
    }

    /// hac-client-core's directory: `$HOME/.cache/hac-client`.
    pub fn default_dir() -> Option<PathBuf> {
        dirs::home_dir().map(|home| home.join(".cache").join("hac-client"))
    }

    /// A cache in [`FileSessionCache::default_dir`].
    pub fn in_default_dir() -> Result<Self, HacError> {
        Self::default_dir()
            .map(Self::new)
            .ok_or_else(|| HacError::Cache {
                path: PathBuf::from("~/.cache/hac-client"),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no home directory (set HOME)",
                ),
            })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a key's session lives in.
    pub fn path_of(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(key.file_name())
    }

    fn cache_error(path: &Path) -> impl FnOnce(std::io::Error) -> HacError + '_ {
        move |source| HacError::Cache {
            path: path.to_path_buf(),
            source,
        }
    }

    fn ensure_dir(&self) -> Result<(), HacError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(Self::cache_error(&self.dir))?;
        let metadata = fs::metadata(&self.dir).map_err(Self::cache_error(&self.dir))?;
        if metadata.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
                .map_err(Self::cache_error(&self.dir))?;
        }
        Ok(())
    }

    fn read(path: &Path) -> Result<Option<CachedSession>, HacError> {
        let text = match fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::cache_error(path)(e)),
        };
        Ok(serde_json::from_slice(&text).ok())
    }
}

// The files are small; blocking file I/O inline is cheaper than a thread hop.
#[async_trait]
impl SessionCache for FileSessionCache {
    async fn load(&self, key: &CacheKey) -> Result<Option<CachedSession>, HacError> {
        let path = self.path_of(key);
        match Self::read(&path)? {
            Some(session) => Ok(Some(session)),
            None => {
                // As hac-client-core does: an unreadable entry is removed.
                if path.exists() {
                    fs::remove_file(&path).map_err(Self::cache_error(&path))?;
                }
                Ok(None)
            }
        }
    }

    async fn save(&self, session: &CachedSession) -> Result<(), HacError> {
        self.ensure_dir()?;
        let path = self.path_of(&session.key());
        let mut text = serde_json::to_vec_pretty(session).map_err(|e| HacError::Cache {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        text.push(b'\n');
        atomic_file::write(&path, &text).map_err(|e| HacError::Cache {
            path: e.path,
            source: e.source,
        })
    }

    async fn remove(&self, key: &CacheKey) -> Result<bool, HacError> {
        let path = self.path_of(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Self::cache_error(&path)(e)),
        }
    }

    async fn list(&self) -> Result<Vec<CachedSession>, HacError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Self::cache_error(&self.dir)(e)),
        };
        let mut sessions = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("session_")
                && name.ends_with(".json")
                && let Some(session) = Self::read(&entry.path())?
            {
                sessions.push(session);
            }
        }
        sessions.sort_by(|a, b| b.last_used_at.total_cmp(&a.last_used_at));
        Ok(sessions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CachedSession {
        CachedSession {
            session_id: "ABCDEF0123456789".into(),
            csrf_token: "tok".into(),
            route_cookie: Some("ROUTE=n1".into()),
            environment: "local/hac".into(),
            base_url: "http://127.0.0.1:9001".into(),
            username: "admin".into(),
            created_at: 1_700_000_000.25,
            last_used_at: 1_700_000_100.5,
            is_authenticated: true,
        }
    }

    #[test]
    fn the_key_is_hac_client_cores_md5() {
        // md5("http://h:1:admin:local") computed with Python's hashlib.
        let key = CacheKey::new("http://h:1/", "admin", "local");
        assert_eq!(key.base_url, "http://h:1");
        assert_eq!(key.digest(), "5cd80924c102df1dd184b8d66abcbb84");
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn files_are_private_atomic_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileSessionCache::new(dir.path().join("hac-client"));
        let session = sample();
        block_on(cache.save(&session)).unwrap();
        let path = cache.path_of(&session.key());
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(cache.dir()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            block_on(cache.load(&session.key())).unwrap(),
            Some(session.clone())
        );
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json.as_object().unwrap().len(), 9);
        assert_eq!(block_on(cache.list()).unwrap().len(), 1);
        assert!(block_on(cache.remove(&session.key())).unwrap());
        assert!(!block_on(cache.remove(&session.key())).unwrap());
        assert!(fs::read_dir(cache.dir()).unwrap().next().is_none());
    }

    #[test]
    fn concurrent_saves_of_one_key_leave_one_whole_session() {
        let dir = tempfile::tempdir().unwrap();
        let cache = std::sync::Arc::new(FileSessionCache::new(dir.path().join("hac-client")));
        // Tokens of different lengths: a file mixing two writes would not parse, or would
        // hold a token no writer wrote.
        let sessions: Vec<CachedSession> = (0..24)
            .map(|n| CachedSession {
                csrf_token: format!("{n}-").repeat(2000 + 97 * n),
                ..sample()
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .build()
            .unwrap();
        runtime.block_on(async {
            let tasks: Vec<_> = sessions
                .iter()
                .cloned()
                .map(|session| {
                    let cache = cache.clone();
                    tokio::spawn(async move {
                        for _ in 0..5 {
                            cache.save(&session).await?;
                        }
                        Ok::<_, HacError>(())
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap().unwrap();
            }
        });
        let left = block_on(cache.load(&sample().key())).unwrap().unwrap();
        assert!(sessions.contains(&left));
        let names: Vec<_> = fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temporary files were left: {names:?}");
    }

    #[test]
    fn a_broken_entry_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileSessionCache::new(dir.path());
        let key = sample().key();
        fs::write(cache.path_of(&key), b"{not json").unwrap();
        assert_eq!(block_on(cache.load(&key)).unwrap(), None);
        assert!(!cache.path_of(&key).exists());
    }

    #[test]
    fn debug_hides_the_secrets() {
        let shown = format!("{:?}", sample());
        assert!(!shown.contains("ABCDEF0123456789"));
        assert!(!shown.contains("\"tok\""));
    }
}
