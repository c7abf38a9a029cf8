//! Task outputs of every size and alignment, and who drops them.

use std::cell::Cell;
use std::rc::Rc;
use wasmexport::{spawn, wasmexport, yield_now};

#[derive(Clone, Copy, PartialEq)]
#[repr(align(16))]
struct Align16(u64, u32);

#[derive(Clone, Copy, PartialEq)]
#[repr(align(64))]
struct Align64([u8; 3]);

/// Awaits tasks whose outputs are bigger or smaller than their futures, over-aligned, heap
/// owning, zero-sized, or awaited by another task; returns a bit per output that came back
/// wrong (0: none).
#[wasmexport]
async fn task_outputs(seed: u32) -> u32 {
    let s = seed as u8;
    let mut wrong = 0;
    if spawn(async move { [s; 300] }).await != [s; 300] {
        wrong |= 1;
    }
    let captured = [s; 200];
    let sum = spawn(async move {
        yield_now().await;
        captured.iter().map(|&b| u32::from(b)).sum::<u32>()
    })
    .await;
    if sum != 200 * u32::from(s) {
        wrong |= 2;
    }
    if spawn(async move { Align16(u64::from(seed) << 32, seed) }).await
        != Align16(u64::from(seed) << 32, seed)
    {
        wrong |= 4;
    }
    let a64 = spawn(async move {
        yield_now().await;
        Align64([s, s, s])
    })
    .await;
    if a64 != Align64([s, s, s]) || std::ptr::from_ref(&a64).addr() % 64 != 0 {
        wrong |= 8;
    }
    if spawn(async move { u128::from(seed) << 100 }).await != u128::from(seed) << 100 {
        wrong |= 16;
    }
    if spawn(async move { format!("task {seed}") }).await != format!("task {seed}") {
        wrong |= 32;
    }
    spawn(async {}).await;
    let inner = spawn(async move {
        yield_now().await;
        seed + 1
    });
    if spawn(async move { inner.await * 2 }).await != (seed + 1) * 2 {
        wrong |= 64;
    }
    wrong
}

/// Counts its drops.
struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// The drop count after each step, a decimal digit each: an awaited output is not dropped by
/// the task (0) and is dropped by the awaiter (1); a stored output is kept for its handle (1)
/// and dropped with it (2); a task detached before it completes drops its output then (3). So
/// `1123` (the leading 0 drops out).
#[wasmexport]
async fn output_drops() -> u32 {
    let d = Rc::new(Cell::new(0));
    let mut seen = 0;
    let mut note = |n: u32| seen = seen * 10 + n;
    let c = Counted(d.clone());
    let out = spawn(async move { c }).await;
    note(d.get());
    drop(out);
    note(d.get());
    let c = Counted(d.clone());
    let handle = spawn(async move { c });
    yield_now().await;
    note(d.get());
    drop(handle);
    note(d.get());
    let c = Counted(d.clone());
    spawn(async move { c }).detach();
    yield_now().await;
    note(d.get());
    seen
}
