//! Many writers of one process replacing one file at once: every read, and the file left at
//! the end, is one writer's bytes whole, never a mix or a truncated file.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use session_core::atomic_file;

const WRITERS: usize = 16;
const WRITES_EACH: usize = 20;
/// Large enough that a write takes several system calls' worth of copying.
const SIZE: usize = 256 * 1024;

/// Writer `n`'s content: `SIZE` bytes of the letter for `n`.
fn content(writer: usize) -> Vec<u8> {
    vec![b'a' + writer as u8; SIZE]
}

fn check_whole(bytes: &[u8]) {
    assert_eq!(bytes.len(), SIZE, "a file of the wrong length was seen");
    let first = bytes[0];
    assert!(
        bytes.iter().all(|&b| b == first),
        "a file mixing two writers' bytes was seen"
    );
}

#[test]
fn concurrent_writers_leave_one_complete_file() {
    let dir = std::env::temp_dir().join(format!("atomic-concurrent-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shared.json");
    atomic_file::write(&path, &content(WRITERS)).unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (path, done) = (path.clone(), done.clone());
        thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                check_whole(&fs::read(&path).unwrap());
                reads += 1;
            }
            reads
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| {
            let path = path.clone();
            thread::spawn(move || {
                let bytes = content(n);
                for _ in 0..WRITES_EACH {
                    atomic_file::write(&path, &bytes).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);

    check_whole(&fs::read(&path).unwrap());
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["shared.json"], "temporary files were left behind");
    fs::remove_dir_all(&dir).unwrap();
}
