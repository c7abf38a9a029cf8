//! A reactor for wasm32-unknown-unknown: plain and async exports, tasks, an init hook, a panic
//! reported through a host import, re-entry, a pending export with a host completion and a
//! timer on the host's clock, and the traps of timers that cannot work without WASI.
//!
//! Its only imports are the `host` functions below and the `[task-return]` imports of its
//! pending exports.

use std::cell::Cell;
use std::time::Duration;
use wasmexport::time::{Instant, sleep};
use wasmexport::{pending, spawn, task_count, wasmexport, wasmimport, yield_now};

wasmexport::async_abi!();

/// What the host wants of the init hook: bit 0, wire the clock to `now_ns`.
#[wasmimport(module = "host", name = "config")]
fn config() -> u32;

/// The host's monotonic clock, in nanoseconds.
#[wasmimport(module = "host", name = "now_ns")]
fn host_now_ns() -> u64;

/// The host's channel for trap lines.
#[wasmimport(module = "host", name = "report")]
fn report(line: &str);

/// The host answers by calling `leaf(depth)`.
#[wasmimport(module = "host", name = "visit")]
fn visit(depth: u32) -> u32;

/// The host starts an operation and returns its token.
#[wasmimport(module = "host", name = "start")]
fn start(what: u32) -> u32;

fn now_ns() -> u64 {
    // SAFETY: the host's clock takes nothing and returns an integer.
    unsafe { host_now_ns() }
}

fn to_host(line: &str) {
    // SAFETY: the host reads the line during the call.
    unsafe { report(line) }
}

thread_local! {
    static INITS: Cell<u32> = const { Cell::new(0) };
    static TICKS: Cell<u32> = const { Cell::new(0) };
}

#[wasmexport::init]
fn setup() {
    INITS.set(INITS.get() + 1);
    wasmexport::set_trap_reporter(to_host);
    // SAFETY: the host's `config` takes nothing and returns an integer.
    if unsafe { config() } & 1 != 0 {
        wasmexport::time::set_clock(now_ns);
    }
}

/// How many times the init hook ran.
#[wasmexport]
fn inits() -> u32 {
    INITS.get()
}

/// A plain export.
#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}

/// 0 + 1 + ... + (n - 1), each term from a spawned task that yields once.
#[wasmexport]
async fn sum_tasks(n: u32) -> u64 {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            spawn(async move {
                yield_now().await;
                u64::from(i)
            })
        })
        .collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await;
    }
    sum
}

/// `task_count()`: this call plus the background tasks alive.
#[wasmexport]
fn tasks() -> u32 {
    task_count() as u32
}

/// Starts a background task that ends at its first poll; it runs when a call waits.
#[wasmexport]
fn spawn_yielder() {
    spawn(async {}).detach();
}

/// Waits once: the background tasks that are ready run.
#[wasmexport]
async fn settle() {
    yield_now().await;
}

/// Panics: the instance traps and is poisoned.
#[wasmexport]
fn boom(code: u32) -> u32 {
    if code != 0 {
        panic!("boom {code}");
    }
    code
}

/// Called by the host from inside `visit`.
#[wasmexport]
fn leaf(depth: u32) -> u32 {
    depth + 1
}

/// Calls the host's `visit`, which calls `leaf` back: a re-entrant call.
#[wasmexport]
async fn root(depth: u32) -> u32 {
    yield_now().await;
    // SAFETY: the host's `visit` takes and returns integers.
    let got = unsafe { visit(depth) };
    got + 100
}

/// Awaits the host's value for operation `what`, then sleeps `ms` on the host's clock: the
/// value plus 1, or -1 if less than `ms` passed on the clock.
#[wasmexport(pending)]
async fn fetch_then_sleep(what: u32, ms: u32) -> i32 {
    // SAFETY: the host's `start` takes and returns integers.
    let token = unsafe { start(what) };
    let value = pending::value(token).await;
    let before = Instant::now();
    sleep(Duration::from_millis(ms.into())).await;
    if before.elapsed() < Duration::from_millis(ms.into()) {
        return -1;
    }
    value + 1
}

/// A background task that counts a tick every `ms`, `n` times; the host's drives fire them.
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

/// The ticks counted so far.
#[wasmexport]
fn ticks() -> u32 {
    TICKS.get()
}

/// A plain async export that sleeps: it cannot block without WASI, so it traps (with a clock:
/// the way out; without one: set a clock).
#[wasmexport]
async fn nap(ms: u32) {
    sleep(Duration::from_millis(ms.into())).await;
}
