//! Random bytes for ids, drawn from the operating system's CSPRNG in blocks.
//!
//! A session id needs 32 random bytes, and asking the kernel for them costs a system call
//! (about a third of a microsecond), more than everything else a new session costs in the
//! layer. Each thread therefore keeps one block of kernel randomness, fills it with one call,
//! and hands out 32-byte pieces, wiping every piece from the block as it leaves so no id
//! stays in the block after it is issued. The block is refilled when it runs out and after a
//! `fork` (the process id changed), so two processes never issue the same bytes.

use std::cell::RefCell;

/// Bytes fetched from the kernel at a time: 32 ids' worth.
const BLOCK_BYTES: usize = 1024;

struct Block {
    bytes: [u8; BLOCK_BYTES],
    /// How many bytes from the start have been handed out (and wiped).
    used: usize,
    /// The process the block was filled in.
    pid: u32,
}

thread_local! {
    static BLOCK: RefCell<Block> = const {
        RefCell::new(Block { bytes: [0; BLOCK_BYTES], used: BLOCK_BYTES, pid: 0 })
    };
}

/// Fills `out` with bytes from the operating system's CSPRNG, through this thread's block.
/// Requests larger than a block go to the kernel directly.
pub(crate) fn fill(out: &mut [u8]) -> Result<(), getrandom::Error> {
    if out.len() > BLOCK_BYTES {
        return getrandom::fill(out);
    }
    BLOCK.with(|block| {
        let mut block = block.borrow_mut();
        let pid = std::process::id();
        if block.used + out.len() > BLOCK_BYTES || block.pid != pid {
            getrandom::fill(&mut block.bytes)?;
            block.used = 0;
            block.pid = pid;
        }
        let start = block.used;
        let piece = &mut block.bytes[start..start + out.len()];
        out.copy_from_slice(piece);
        piece.fill(0);
        block.used += out.len();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn pieces_never_repeat_across_refills() {
        let mut seen = HashSet::new();
        for _ in 0..(BLOCK_BYTES / 32) * 5 {
            let mut piece = [0u8; 32];
            fill(&mut piece).unwrap();
            assert!(seen.insert(piece), "a 32-byte piece came out twice");
        }
    }

    #[test]
    fn issued_bytes_are_wiped_from_the_block() {
        let mut piece = [0u8; 32];
        fill(&mut piece).unwrap();
        BLOCK.with(|block| {
            let block = block.borrow();
            assert!(block.bytes[..block.used].iter().all(|&b| b == 0));
            assert!(block.used >= 32);
        });
    }

    #[test]
    fn threads_draw_different_bytes() {
        let draw = || {
            let mut piece = [0u8; 32];
            fill(&mut piece).unwrap();
            piece
        };
        let other = std::thread::spawn(draw).join().unwrap();
        assert_ne!(draw(), other);
    }

    #[test]
    fn large_requests_are_filled_whole() {
        let mut big = vec![0u8; BLOCK_BYTES * 2];
        fill(&mut big).unwrap();
        assert!(big[BLOCK_BYTES..].iter().any(|&b| b != 0));
    }
}
