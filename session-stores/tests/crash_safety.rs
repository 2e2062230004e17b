//! Crash safety of the file and encrypted-file stores: a child process writing as fast as it
//! can is killed with SIGKILL 100 times at random moments; after every kill, every record file
//! in the directory must be whole and readable.
//!
//! This test binary is its own child: run with `CRASH_CHILD_STORE` set, it opens the store
//! given in the environment and writes until it is killed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use session_core::{ChangeSet, Codec, ExpiryPolicy, Record, SessionKey, SessionStore, StoreConfig};

const CHILD_STORE: &str = "CRASH_CHILD_STORE";
const KILLS: usize = 100;

fn main() {
    match std::env::var(CHILD_STORE) {
        Ok(url) => child(&url),
        Err(_) => {
            #[cfg(feature = "file")]
            parent("file", |dir| format!("file:{}", dir.display()), "session");
            #[cfg(feature = "encrypted")]
            parent(
                "encrypted",
                |dir| {
                    let key = dir.with_extension("key");
                    if !key.exists() {
                        session_stores::Key::create_key_file(&key).unwrap();
                    }
                    format!("encrypted:{}?key_file={}", dir.display(), key.display())
                },
                "sealed",
            );
        }
    }
}

/// A small xorshift generator seeded from the OS.
struct Random(u64);

impl Random {
    fn new() -> Self {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).unwrap();
        Random(u64::from_le_bytes(seed) | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn key_of(n: u64) -> SessionKey {
    SessionKey::derive("crash-test", &[&n.to_string()])
}

/// Writes forever: creates, saves of growing and shrinking values, touches, deletes and id
/// cycles over a small set of keys.
fn child(url: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store: Arc<dyn SessionStore> = session_stores::open(url, StoreConfig::default())
            .await
            .unwrap();
        let mut random = Random::new();
        let mut announced = false;
        loop {
            let key = key_of(random.below(16));
            let existing = store.load(&key).await.unwrap();
            match (existing, random.below(6)) {
                (None, _) => {
                    let mut record = Record::new(
                        key,
                        if random.below(2) == 0 {
                            Codec::Json
                        } else {
                            Codec::Bincode
                        },
                        ExpiryPolicy::NEVER,
                        StoreConfig::default().now(),
                    );
                    record.principal = Some("crash".into());
                    record
                        .insert("blob", &"x".repeat(random.below(8000) as usize))
                        .unwrap();
                    let _ = store.create(&record).await;
                }
                (Some(record), 0) => {
                    let _ = store.delete(&record.key).await;
                }
                (Some(record), 1) => {
                    let _ = store.touch(&record.key).await;
                }
                (Some(record), 2) => {
                    let _ = store
                        .cycle_id(&record.key, &key_of(16 + random.below(16)))
                        .await;
                }
                (Some(record), _) => {
                    let mut changes = ChangeSet::default();
                    let value = record
                        .codec
                        .encode_value(&"y".repeat(random.below(8000) as usize))
                        .unwrap();
                    changes.upsert(format!("k{}", random.below(8)), value);
                    let _ = store.save(&record.key, &changes, record.version).await;
                }
            }
            if !announced {
                println!("writing");
                std::io::stdout().flush().unwrap();
                announced = true;
            }
        }
    });
}

fn parent(name: &str, url_for: impl Fn(&Path) -> String, extension: &str) {
    let temp = test_support::temp_dir();
    let dir = temp.path().join(name);
    let url = url_for(&dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut random = Random::new();
    let mut checked_files = 0usize;
    for round in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_STORE, &url)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "writing", "{name}: the writer did not start");
        // A random moment within the next few writes.
        std::thread::sleep(Duration::from_micros(random.below(30_000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        checked_files += runtime.block_on(check_whole(name, &url, &dir, extension, round));
    }
    runtime.block_on(async {
        let store = session_stores::open(&url, StoreConfig::default())
            .await
            .unwrap();
        store.delete_expired().await.unwrap();
    });
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "{name}: the sweep must remove crashed writers' temporary files"
    );
    println!("{name}: {KILLS} writers killed, {checked_files} record files checked, all whole");
}

/// Every record file loads; returns how many there were.
async fn check_whole(name: &str, url: &str, dir: &Path, extension: &str, round: usize) -> usize {
    let store = session_stores::open(url, StoreConfig::default())
        .await
        .unwrap();
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let file_name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(stem) = file_name.strip_suffix(&format!(".{extension}")) else {
            continue;
        };
        let key = SessionKey::parse(stem).unwrap();
        match store.load(&key).await {
            Ok(Some(record)) => assert_eq!(record.key, key),
            Ok(None) => panic!("{name}, kill {round}: {file_name} exists but holds no live record"),
            Err(e) => panic!("{name}, kill {round}: {file_name} is damaged: {e}"),
        }
        files += 1;
    }
    assert_eq!(
        store.count().await.unwrap(),
        files as u64,
        "{name}: every file counts"
    );
    files
}
