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

// For the hostile host's tests (tests/engine/tests/pending_hostile.rs): exports that await a
// token the host names, race a host operation against a timer, and drop futures early.

/// Awaits the host's value for `token`, a token the host chose without an import.
#[wasmexport(pending)]
async fn await_value(token: u32) -> i32 {
    pending::value(token).await
}

/// Awaits the host's bytes for `token`: their sum, or the error code minus 1,000,000.
#[wasmexport(pending)]
async fn await_bytes(token: u32) -> i64 {
    match pending::bytes(token).await {
        Ok(bytes) => bytes.iter().map(|&b| i64::from(b)).sum(),
        Err(code) => i64::from(code) - 1_000_000,
    }
}

/// The number of bytes the host completed `token` with, or the error code minus 1,000,000.
#[wasmexport(pending)]
async fn bytes_len(token: u32) -> i64 {
    match pending::bytes(token).await {
        Ok(bytes) => bytes.len() as i64,
        Err(code) => i64::from(code) - 1_000_000,
    }
}

/// Races the host's value for one operation against a timer of `ms`: the value, or -1 when the
/// timer fires first (the operation's future is dropped while the host still holds its token).
#[wasmexport(pending)]
async fn value_or_timeout(what: u32, ms: u32) -> i32 {
    // SAFETY: the host's `start` takes and returns integers.
    let token = unsafe { start(what) };
    let mut value = std::pin::pin!(pending::value(token));
    let mut timer = std::pin::pin!(sleep(Duration::from_millis(ms.into())));
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(v) = value.as_mut().poll(cx) {
            return std::task::Poll::Ready(v);
        }
        if timer.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(-1);
        }
        std::task::Poll::Pending
    })
    .await
}

/// Starts an operation and drops its future without polling it; the token.
#[wasmexport]
fn start_and_drop(what: u32) -> u32 {
    // SAFETY: as above.
    let token = unsafe { start(what) };
    drop(pending::value(token));
    token
}

/// Two futures await the same token at once: the sum of what they get.
#[wasmexport(pending)]
async fn await_twice(token: u32) -> i32 {
    let mut a = std::pin::pin!(pending::value(token));
    let mut b = std::pin::pin!(pending::value(token));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            ra = match a.as_mut().poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            };
        }
        if rb.is_none() {
            rb = match b.as_mut().poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            };
        }
        match (ra, rb) {
            (Some(x), Some(y)) => std::task::Poll::Ready(x + y),
            _ => std::task::Poll::Pending,
        }
    })
    .await
}

/// Starts `n` operations, then awaits each in turn: the sum of their values.
#[wasmexport(pending)]
async fn start_many(what: u32, n: u32) -> i32 {
    // SAFETY: as above.
    let tokens: Vec<u32> = (0..n).map(|i| unsafe { start(what + i) }).collect();
    let mut sum = 0i32;
    for token in tokens {
        sum = sum.wrapping_add(pending::value(token).await);
    }
    sum
}
