//! A local program's login kept in an encrypted file store: log in with a token, read it back
//! on the next run, extend it, log out. `sessionctl local` is this, as a command.
//!
//! ```sh
//! cargo run -p session-stores --example local_login -- /tmp/my-app-state
//! ```

use std::sync::Arc;
use std::time::Duration;

use session_core::{LocalSession, SharedClock, StoreConfig, SystemClock};
use session_stores::{EncryptedFileStore, Key, Keyring};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let state = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("local-login-example"));
    std::fs::create_dir_all(&state)?;

    // A random key in a 0600 file, made once; keep it out of backups of the store.
    let key_path = state.join("store.key");
    let key = if key_path.exists() {
        Key::from_key_file(&key_path)?
    } else {
        Key::create_key_file(&key_path)?
    };
    let store = Arc::new(EncryptedFileStore::with_keyring(
        state.join("logins"),
        Keyring::new(key),
        StoreConfig::default(),
    )?);
    let clock: SharedClock = Arc::new(SystemClock);
    let login = LocalSession::new(store, "my-app", clock);

    match login.current().await? {
        Some(current) => {
            let token: Option<String> = current.data()?;
            println!(
                "still logged in as {} until {} (token {} bytes)",
                current.principal,
                current.expires_at.to_rfc3339(),
                token.map_or(0, |t| t.len())
            );
            let end = login.extend(Duration::from_secs(600)).await?;
            println!("extended to {}", end.to_rfc3339());
        }
        None => {
            let now = login
                .login("alice", "an-api-token", Duration::from_secs(3600))
                .await?;
            println!(
                "logged in as {} until {}; run again to reuse the login",
                now.principal,
                now.expires_at.to_rfc3339()
            );
        }
    }
    Ok(())
}
