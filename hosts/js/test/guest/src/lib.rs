//! The guest of hosts/js's tests (hosts/js/test/*.test.mjs): pending exports that await the
//! host's async imports (a number, bytes), guest timers, spawned tasks, a panic, a pending call
//! nothing can wake, and the plain exports the tests call meanwhile.

use std::cell::Cell;
use std::time::Duration;
use wasmexport::time::sleep;
use wasmexport::{pending, spawn, task_count, wasmexport, wasmimport};

wasmexport::async_abi!();

// The host starts an operation and returns its token; it completes it later with a number.
#[wasmimport(module = "host", name = "value")]
fn value_start(x: i32) -> u32;

// The host starts fetching `url` and returns its token; it completes it later with the body.
#[wasmimport(module = "host", name = "fetch")]
fn fetch_start(url: &str) -> u32;

/// The host's number for `x`.
async fn value(x: i32) -> i32 {
    // SAFETY: the host's `value` takes a number and returns a token.
    pending::value(unsafe { value_start(x) }).await
}

/// The host's bytes for `url`, or its error code.
async fn fetch(url: &str) -> Result<Vec<u8>, i32> {
    // SAFETY: the host reads the string during the call and returns a token.
    pending::bytes(unsafe { fetch_start(url) }).await
}

/// 32-bit FNV-1a, which the tests compute too.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// `x + y`, for calls made while pending calls wait.
#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}

/// Reserves `len` bytes for the host to pass a string or bytes in (`dealloc` frees them).
#[wasmexport]
fn alloc(len: usize) -> *mut u8 {
    Box::into_raw(vec![0u8; len].into_boxed_slice()).cast()
}

/// Frees what `alloc(len)` returned.
///
/// # Safety
/// `ptr` and `len` are those of one `alloc` call, not freed yet.
#[wasmexport]
unsafe fn dealloc(ptr: *mut u8, len: usize) {
    // SAFETY: the caller's contract: this is the boxed slice `alloc` leaked.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
}

/// How many tasks are alive, this call included.
#[wasmexport]
fn tasks() -> u32 {
    task_count() as u32
}

/// Completes during its own call: `2 * x`.
#[wasmexport(pending)]
async fn ready(x: i32) -> i32 {
    x.wrapping_mul(2)
}

/// The host's number for `x`, plus one.
#[wasmexport(pending)]
async fn value_plus_one(x: i32) -> i32 {
    value(x).await.wrapping_add(1)
}

/// Awaits the host's number for `x` and returns nothing.
#[wasmexport(pending)]
async fn value_unit(x: i32) {
    value(x).await;
}

/// The length of the body the host fetched for `url`, or the host's error code.
#[wasmexport(pending)]
async fn fetch_len(url: &str) -> i32 {
    match fetch(url).await {
        Ok(body) => body.len() as i32,
        Err(code) => code,
    }
}

/// The FNV-1a hash of the body the host fetched for `url` (0 on an error).
#[wasmexport(pending)]
async fn fetch_fnv(url: &str) -> u32 {
    fetch(url).await.map_or(0, |body| fnv1a(&body))
}

/// Sleeps `ms` milliseconds on the guest's timer, then returns `ms`.
#[wasmexport(pending)]
async fn sleep_ms(ms: u32) -> u32 {
    sleep(Duration::from_millis(u64::from(ms))).await;
    ms
}

/// Awaits the host's number for `x`, then the body fetched for `url` (a decimal number), then
/// a guest timer of `ms`: returns the number plus the body's.
#[wasmexport(pending)]
async fn mixed(x: i32, url: &str, ms: u32) -> i32 {
    let v = value(x).await;
    let body = fetch(url).await.unwrap_or_default();
    let n: i32 = std::str::from_utf8(&body).ok().and_then(|s| s.parse().ok()).unwrap_or(-1_000_000);
    sleep(Duration::from_millis(u64::from(ms))).await;
    v.wrapping_add(n)
}

/// Spawns `n` tasks, each awaiting the host's number for its index, and sums their numbers.
#[wasmexport(pending)]
async fn spawn_sum(n: i32) -> i32 {
    let handles: Vec<_> = (0..n).map(|i| spawn(value(i))).collect();
    let mut sum = 0i32;
    for h in handles {
        sum = sum.wrapping_add(h.await);
    }
    sum
}

thread_local!(static TICKS: Cell<u32> = const { Cell::new(0) });

/// Starts a background task that counts a tick every `ms` milliseconds, forever.
#[wasmexport]
fn start_ticker(ms: u32) {
    spawn(async move {
        loop {
            sleep(Duration::from_millis(u64::from(ms))).await;
            TICKS.set(TICKS.get() + 1);
        }
    })
    .detach();
}

/// The ticks counted so far.
#[wasmexport]
fn ticks() -> u32 {
    TICKS.get()
}

/// The host's number for `x`; panics when it is 13.
#[wasmexport(pending)]
async fn panic_on_13(x: i32) -> i32 {
    let v = value(x).await;
    assert_ne!(v, 13, "the host said 13");
    v
}

/// For `x >= 0`, waits for what nothing can ever wake: traps as a deadlock during its own
/// call. (Returning for a negative `x` keeps the `[task-return]` import in the module.)
#[wasmexport(pending)]
async fn stuck(x: i32) -> i32 {
    if x >= 0 {
        std::future::pending::<()>().await;
    }
    x
}

/// Awaits the host's number for `x`, then, for `x >= 0`, waits for what nothing can ever wake:
/// traps as a deadlock once the host completes the number.
#[wasmexport(pending)]
async fn stuck_after_value(x: i32) -> i32 {
    let v = value(x).await;
    if x >= 0 {
        std::future::pending::<()>().await;
    }
    v
}
