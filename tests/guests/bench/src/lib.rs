//! The wasmexport side of `cargo xtask bench`; bench/go/*.go is the Go side, export for export.

use futures::channel::oneshot;
use std::cell::RefCell;
use wasmexport::{spawn, task_count, wasmexport, yield_now};

#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}

/// Hands `x` to a background task and awaits its output (Go: a goroutine and a channel; the
/// floor: tests/guests/floor_tasks).
#[wasmexport]
async fn roundtrip(x: i32) -> i32 {
    spawn(async move { x + 1 }).await
}

/// The same through a `futures` oneshot channel and a detached task, as Go's does it.
#[wasmexport]
async fn roundtrip_oneshot(x: i32) -> i32 {
    let (tx, rx) = oneshot::channel();
    spawn(async move {
        let _ = tx.send(x + 1);
    })
    .detach();
    rx.await.unwrap_or(-1)
}

/// Hands `x` to a background task and awaits its `JoinHandle` (no channel).
#[wasmexport]
async fn roundtrip_join(x: i32) -> i32 {
    spawn(async move { x + 1 }).await
}

thread_local! {
    static PARKED: RefCell<Vec<oneshot::Sender<()>>> = const { RefCell::new(Vec::new()) };
}

/// Starts `n` tasks that each wait on a channel nobody sends on, and lets them all park.
#[wasmexport]
async fn park(n: u32) {
    PARKED.with(|p| p.borrow_mut().reserve(n as usize));
    for _ in 0..n {
        let (tx, rx) = oneshot::channel::<()>();
        PARKED.with(|p| p.borrow_mut().push(tx));
        spawn(async move {
            let _ = rx.await;
        })
        .detach();
    }
    yield_now().await;
}

/// Spawns `n` tasks and awaits them all; returns the sum of their outputs.
#[wasmexport]
async fn spawn_many(n: u32) -> u32 {
    let handles: Vec<_> = (0..n).map(|i| spawn(async move { i & 1 })).collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await;
    }
    sum
}

#[wasmexport]
fn tasks() -> u32 {
    task_count() as u32
}

// `wasmexport_drive`, among others: its cost when nothing is ready and no timer is armed.
wasmexport::async_abi!();

/// A host's tick when nothing is ready and no timer is armed: `wasmexport::drive`'s cost.
#[wasmexport]
fn drive_idle(_x: i32) -> i32 {
    wasmexport::drive().map_or(-1, |d| d.as_millis() as i32)
}

/// 1 if the runtime took this target for one with a single thread (its per-thread state is
/// then plain statics), else 0.
#[wasmexport]
fn one_thread() -> u32 {
    u32::from(wasmexport::__private::ONE_THREAD)
}
