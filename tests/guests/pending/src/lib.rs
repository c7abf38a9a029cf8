//! Pending exports, host completions and drives: the host-async ABI on a real engine.

use std::cell::Cell;
use std::time::Duration;
use wasmexport::time::sleep;
use wasmexport::{pending, spawn, task_count, wasmexport, wasmimport};

wasmexport::async_abi!();

/// The host starts an operation and returns its token (the host's choice).
#[wasmimport(module = "host", name = "start")]
fn start(what: u32) -> u32;

/// Awaits the host's value for one operation, plus `add`.
#[wasmexport(pending)]
async fn add_later(what: u32, add: i32) -> i32 {
    // SAFETY: the host's `start` takes and returns integers.
    let token = unsafe { start(what) };
    pending::value(token).await + add
}

/// Awaits the host's bytes for one operation; their sum, or the error code.
#[wasmexport(pending)]
async fn sum_bytes(what: u32) -> i64 {
    // SAFETY: as above.
    let token = unsafe { start(what) };
    match pending::bytes(token).await {
        Ok(bytes) => bytes.iter().map(|&b| i64::from(b)).sum(),
        Err(code) => i64::from(code) - 1_000_000,
    }
}

/// Completes at once: `EXIT` in the status, its result delivered during the call.
#[wasmexport(pending)]
async fn echo(text: &str) -> u32 {
    text.len() as u32
}

/// Copies its string: the future uses it after the call returned.
#[wasmexport(pending)]
async fn len_after(text: &str, ms: u32) -> u32 {
    sleep(Duration::from_millis(ms.into())).await;
    text.bytes().map(u32::from).sum()
}

/// Sleeps, then returns nothing.
#[wasmexport(pending)]
async fn nap(ms: u32) {
    sleep(Duration::from_millis(ms.into())).await;
}

/// A pending call that nothing can ever wake.
#[wasmexport(pending)]
async fn stuck() -> i32 {
    std::future::pending::<i32>().await
}

/// Panics after the host completes its operation.
#[wasmexport(pending)]
async fn panics_later(what: u32) {
    // SAFETY: as above.
    let token = unsafe { start(what) };
    pending::value(token).await;
    panic!("the pending call panics");
}

thread_local!(static TICKS: Cell<u32> = const { Cell::new(0) });

/// A background task that counts a tick every `ms`, `n` times.
#[wasmexport]
fn start_ticker(ms: u32, n: u32) {
    spawn(async move {
        for _ in 0..n {
            sleep(Duration::from_millis(ms.into())).await;
            TICKS.set(TICKS.get() + 1);
        }
    })
    .detach();
}

#[wasmexport]
fn ticks() -> u32 {
    TICKS.get()
}

/// A plain export that drives (a host's tick callback); the milliseconds to the next timer.
#[wasmexport]
fn tick() -> i64 {
    wasmexport::drive().map_or(-1, |d| d.as_millis() as i64)
}

#[wasmexport]
fn tasks() -> u32 {
    task_count() as u32
}

/// Linear memory's size in pages.
#[wasmexport]
fn pages() -> u32 {
    core::arch::wasm32::memory_size(0) as u32
}
