//! The guest of wasmexport-host's tests: pending exports of every result type, async host
//! functions awaited as futures (`host.number` completes with a number, `host.bytes` with
//! bytes or an error code), timers, spawned tasks, a panic and a deadlock.

use std::time::Duration;
use wasmexport::{pending, spawn, wasmexport, wasmimport};

wasmexport::async_abi!();

/// Starts a host operation that completes with a number; returns its token.
#[wasmimport(module = "host", name = "number")]
fn number_start(x: i32) -> u32;

/// Starts a host operation that completes with bytes (or an error code); returns its token.
#[wasmimport(module = "host", name = "bytes")]
fn bytes_start(n: i32) -> u32;

async fn number(x: i32) -> i32 {
    // SAFETY: the host's `number` takes an i32 and returns a token.
    let token = unsafe { number_start(x) };
    pending::value(token).await
}

async fn bytes(n: i32) -> Result<Vec<u8>, i32> {
    // SAFETY: the host's `bytes` takes an i32 and returns a token.
    let token = unsafe { bytes_start(n) };
    pending::bytes(token).await
}

/// Completes during its call: the host sees `EXIT`.
#[wasmexport(pending)]
async fn echo(x: i32) -> i32 {
    x
}

/// The host's number for `a`, plus `b`.
#[wasmexport(pending)]
async fn add_later(a: i32, b: i32) -> i32 {
    number(a).await.wrapping_add(b)
}

/// The sum of the host's bytes for `n`, or the error code (negated, minus 1000).
#[wasmexport(pending)]
async fn bytes_sum(n: i32) -> i64 {
    match bytes(n).await {
        Ok(body) => body.iter().map(|&b| i64::from(b)).sum(),
        Err(code) => -1000 - i64::from(code),
    }
}

/// How many bytes the host's operation for `n` gave; -1 if it completed with a number.
#[wasmexport(pending)]
async fn bytes_len(n: i32) -> u32 {
    match bytes(n).await {
        Ok(body) => body.len() as u32,
        Err(_) => u32::MAX,
    }
}

/// Half of `x`.
#[wasmexport(pending)]
async fn half(x: f64) -> f64 {
    x / 2.0
}

/// `x`, after letting other tasks run once.
#[wasmexport(pending)]
async fn yielded(x: i32) -> i32 {
    wasmexport::yield_now().await;
    x
}

/// Awaits the host's number for 0, and returns nothing.
#[wasmexport(pending)]
async fn unit_later() {
    number(0).await;
}

/// Sleeps `ms` milliseconds on the guest's timers, and returns `ms`.
#[wasmexport(pending)]
async fn sleep_ms(ms: u32) -> u32 {
    wasmexport::time::sleep(Duration::from_millis(u64::from(ms))).await;
    ms
}

/// Spawns `n` tasks, each awaiting the host's number for its index after a sleep of `ms`
/// milliseconds, and sums their results.
#[wasmexport(pending)]
async fn spawn_sum(n: u32, ms: u32) -> u64 {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            spawn(async move {
                if ms > 0 {
                    wasmexport::time::sleep(Duration::from_millis(u64::from(ms))).await;
                }
                number(i as i32).await as u64
            })
        })
        .collect();
    let mut sum = 0;
    for task in tasks {
        sum += task.await;
    }
    sum
}

/// Awaits the host's number for `x`, then panics.
#[wasmexport(pending)]
async fn boom(x: i32) -> i32 {
    let n = number(x).await;
    panic!("boom after the host's number {n}");
}

/// Waits for something that nothing can ever wake: a deadlock.
#[wasmexport(pending)]
async fn stuck() -> i32 {
    std::future::pending::<i32>().await
}

/// How many tasks are alive (the export's own call counts too).
#[wasmexport]
fn task_count() -> u32 {
    wasmexport::task_count() as u32
}

/// `n` after yielding `n` times: with `u32::MAX`, a task that keeps the module busy for ever
/// without ever blocking.
#[wasmexport(pending)]
async fn spin(n: u32) -> u32 {
    for _ in 0..n {
        wasmexport::yield_now().await;
    }
    n
}

/// How many tasks that `spawn_sleeper` started have woken.
static WOKEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Spawns a task that sleeps `ms` milliseconds and then counts itself in `sleepers_woken`. A
/// plain export: the task runs only when the host drives.
#[wasmexport]
fn spawn_sleeper(ms: u32) {
    spawn(async move {
        wasmexport::time::sleep(Duration::from_millis(u64::from(ms))).await;
        WOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
}

/// How many tasks that `spawn_sleeper` started have woken.
#[wasmexport]
fn sleepers_woken() -> u32 {
    WOKEN.load(std::sync::atomic::Ordering::Relaxed)
}
