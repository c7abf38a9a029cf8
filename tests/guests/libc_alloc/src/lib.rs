//! A module whose host allocates in it through libc's exported `malloc` and `free` (see
//! `build.rs`), then passes the block to exports as a pointer and a length.

use wasmexport::wasmexport;

/// The sum of the bytes of `text`, and a copy of it made with Rust's allocator while the host's
/// block is live: the copy must land outside the host's block, and the host's bytes stay as
/// written. Returns the sum; the copy's address goes to `*copy_at`.
///
/// # Safety
/// `copy_at` must be writable.
#[wasmexport]
unsafe fn digest(text: &str, copy_at: *mut u32) -> u32 {
    let copy = text.repeat(2);
    let sum = copy.bytes().map(u32::from).sum::<u32>() / 2;
    // SAFETY: the caller's contract.
    unsafe { copy_at.write(copy.as_ptr() as u32) };
    sum
}

/// Rust's allocator's view of the same heap: a block of `len` bytes from `Vec`, kept (the host
/// frees nothing of it), so the host can check that libc's `malloc` never hands it out again.
#[wasmexport]
fn rust_block(len: u32) -> *mut u8 {
    let mut block = vec![0xA5u8; len as usize];
    let ptr = block.as_mut_ptr();
    std::mem::forget(block);
    ptr
}

/// Whether the `len` bytes at `ptr` (from [`rust_block`]) still all hold the fill byte.
#[wasmexport]
fn rust_block_intact(block: &[u8]) -> bool {
    block.iter().all(|&b| b == 0xA5)
}
