//! The executor's behaviours, one export each, driven by tests/engine/tests/executor.rs and
//! soak.rs and by tests/node/executor.test.mjs.

use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use wasmexport::time::{sleep, timeout};
use wasmexport::{JoinHandle, spawn, task_count, wasmexport, wasmimport, yield_now};

/// Counts allocations and live bytes, so that tests can see what a call allocates.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counters
// are only read by exports.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations so far.
#[wasmexport]
fn allocs() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

/// Bytes allocated and not freed.
#[wasmexport]
fn live_bytes() -> i64 {
    LIVE_BYTES.load(Ordering::Relaxed)
}

#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}

/// `task_count()` as seen from inside a call (which counts itself).
#[wasmexport]
fn tasks() -> u32 {
    task_count() as u32
}

// An async export.
#[wasmexport]
async fn async_add(x: i32, y: i32) -> i32 {
    yield_now().await;
    x.wrapping_add(y)
}

// Spawn and await a JoinHandle.
#[wasmexport]
async fn spawn_and_await(x: i32) -> i32 {
    spawn(async move {
        yield_now().await;
        x * 2
    })
    .await
}

thread_local! {
    static COUNTER: Cell<i32> = const { Cell::new(0) };
    static PARKED: RefCell<Option<JoinHandle<i32>>> = const { RefCell::new(None) };
}

// A detached task that bumps the counter after a yield; the export returns first.
#[wasmexport]
fn start_bumper() -> i32 {
    let handle = spawn(async {
        yield_now().await;
        COUNTER.set(COUNTER.get() + 1);
    });
    drop(handle); // detached: it runs on
    COUNTER.get()
}

#[wasmexport]
fn counter() -> i32 {
    COUNTER.get()
}

/// Yields until the counter moves; returns how many yields that took, or -1 after 100.
#[wasmexport]
async fn yields_until_bump() -> i32 {
    let start = COUNTER.get();
    for yields in 1..=100 {
        yield_now().await;
        if COUNTER.get() != start {
            return yields;
        }
    }
    -1
}

// Timers.
#[wasmexport]
async fn sleep_ms(ms: u32) {
    sleep(Duration::from_millis(ms.into())).await;
}

/// Two tasks sleeping `ms` each, together.
#[wasmexport]
async fn two_sleepers(ms: u32) -> u32 {
    let a = spawn(async move {
        sleep(Duration::from_millis(ms.into())).await;
        1
    });
    let b = spawn(async move {
        sleep(Duration::from_millis(ms.into())).await;
        2
    });
    a.await + b.await
}

/// 1 if a 5 ms sleep beats a 1 s timeout, plus 2 if a 1 s sleep loses to a 5 ms timeout.
#[wasmexport]
async fn timeouts() -> u32 {
    let fast = timeout(Duration::from_secs(1), sleep(Duration::from_millis(5))).await.is_ok();
    let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(1))).await.is_err();
    u32::from(fast) + 2 * u32::from(slow)
}

// Deadlock, and a wait that a background task can satisfy.
#[wasmexport]
async fn wait_forever() -> i32 {
    let (tx, rx) = oneshot::channel::<i32>();
    PARKED_SENDER.with(|s| *s.borrow_mut() = Some(tx)); // kept alive, never used
    rx.await.unwrap_or(-1)
}

thread_local! {
    static PARKED_SENDER: RefCell<Option<oneshot::Sender<i32>>> = const { RefCell::new(None) };
}

#[wasmexport]
async fn wait_for_background() -> i32 {
    let (tx, rx) = oneshot::channel::<i32>();
    spawn(async move {
        yield_now().await;
        let _ = tx.send(42);
    })
    .detach();
    rx.await.unwrap_or(-1)
}

// Re-entrancy through host imports declared with `#[wasmimport]` (a plain `extern`
// import that re-enters poisons the instance; tests/guests/abort shows that).
/// The host calls this instance's `recurse(n)`.
#[wasmimport(module = "test", name = "reenter")]
fn reenter(n: i32) -> i32;

/// Recurses through the host; returns the depth reached.
#[wasmexport]
fn recurse(n: i32) -> i32 {
    if n <= 0 {
        return 0;
    }
    // SAFETY: the test host implements `reenter` by calling `recurse` again.
    1 + unsafe { reenter(n - 1) }
}

#[wasmimport(module = "test", name = "reenter_async")]
fn reenter_async(n: i32) -> i32;

/// The same through an async export and a `#[wasmimport]` import.
#[wasmexport]
async fn recurse_async(n: i32) -> i32 {
    if n <= 0 {
        return 0;
    }
    yield_now().await;
    // SAFETY: the test host implements `reenter_async` by calling `recurse_async` again.
    1 + unsafe { reenter_async(n - 1) }
}

#[wasmimport(module = "test", name = "call_inner")]
fn call_inner() -> i32;

/// Called by the host from inside `outer`: parks a task that outlives this nested call.
#[wasmexport]
fn inner_spawns() -> i32 {
    let handle = spawn(async {
        yield_now().await;
        sleep(Duration::from_millis(1)).await;
        7
    });
    PARKED.with(|p| *p.borrow_mut() = Some(handle));
    1
}

/// Calls the host, which calls `inner_spawns`; then awaits the task the nested call started.
#[wasmexport]
async fn outer() -> i32 {
    // SAFETY: the test host implements `call_inner` by calling `inner_spawns`.
    let inner = unsafe { call_inner() };
    let handle = PARKED.with(|p| p.borrow_mut().take());
    match handle {
        Some(h) => inner * 100 + h.await,
        None => -1,
    }
}

thread_local! {
    static OUTER_TX: RefCell<Option<oneshot::Sender<i32>>> = const { RefCell::new(None) };
}

#[wasmimport(module = "test", name = "call_nested_waker")]
fn call_nested_waker() -> i32;

/// Awaits a reply that a task of a nested call sends, while a task of its own makes the host
/// call: the wake of this (outer) call happens inside the nested call's run loop.
#[wasmexport]
async fn outer_woken_from_nested() -> i32 {
    let (tx, rx) = oneshot::channel();
    OUTER_TX.with(|t| *t.borrow_mut() = Some(tx));
    spawn(async {
        // SAFETY: the test host implements `call_nested_waker` by calling `nested_wakes_outer`.
        unsafe { call_nested_waker() };
    })
    .detach();
    rx.await.unwrap_or(-1)
}

/// Called by the host from inside a task of `outer_woken_from_nested`: replies to it from a
/// task of its own, and returns once that task has.
#[wasmexport]
async fn nested_wakes_outer() -> i32 {
    spawn(async {
        yield_now().await;
        if let Some(tx) = OUTER_TX.with(|t| t.borrow_mut().take()) {
            let _ = tx.send(5);
        }
    })
    .await;
    1
}

// A panic in a spawned task.
#[wasmexport]
async fn panic_in_task() -> i32 {
    let task = async {
        yield_now().await;
        if COUNTER.get() >= 0 {
            panic!("task exploded");
        }
        0
    };
    spawn(task).await // spawn site: panic_in_task
}

// Third-party futures.
#[wasmexport]
async fn channels() -> i32 {
    let (mut tx, rx) = mpsc::channel::<i32>(2);
    let producer = spawn(async move {
        for i in 1..=10 {
            tx.send(i).await.expect("receiver alive");
        }
    });
    let (atx, arx) = async_channel::bounded::<i32>(1);
    let relay = spawn(async move {
        let sum: i32 = rx.collect::<Vec<_>>().await.iter().sum();
        atx.send(sum).await.expect("receiver alive");
    });
    let (sum, (), ()) = futures::join!(async { arx.recv().await.unwrap_or(-1) }, producer, relay);
    sum
}

/// Counts the polls of the future it wraps.
struct CountPolls<F> {
    inner: Pin<Box<F>>,
    polls: u32,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = (F::Output, u32);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls += 1;
        let polls = self.polls;
        self.inner.as_mut().poll(cx).map(|out| (out, polls))
    }
}

/// Awaits a oneshot that a task fills after yielding 20 times: returns how often the waiting
/// future was polled (2 if the executor polls only after a wake-up).
#[wasmexport]
async fn polls_while_waiting() -> u32 {
    polls_waiting(false).await
}

/// The same, but the task first fires the waker that `keep_waker` kept from its (finished)
/// call: a stale wake, which must not poll this call.
#[wasmexport]
async fn polls_with_stale_wake() -> u32 {
    polls_waiting(true).await
}

async fn polls_waiting(fire_kept: bool) -> u32 {
    let (tx, rx) = oneshot::channel::<u32>();
    spawn(async move {
        if fire_kept && let Some(waker) = KEPT.take() {
            waker.wake();
        }
        for _ in 0..20 {
            yield_now().await;
        }
        let _ = tx.send(5);
    })
    .detach();
    let (value, polls) = CountPolls { inner: Box::pin(rx), polls: 0 }.await;
    if value == Ok(5) { polls } else { 0 }
}

// A call that spawns and finishes a task.
#[wasmexport]
async fn spawn_one(x: i32) -> i32 {
    spawn(async move { x + 1 }).await
}

/// A storm: spawns `n` tasks that each yield once, awaits them all; returns the sum of their
/// outputs (`0 + 1 + ... + n-1`, wrapping).
#[wasmexport]
async fn spawn_many(n: u32) -> u32 {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            spawn(async move {
                yield_now().await;
                i
            })
        })
        .collect();
    let mut sum = 0u32;
    for h in handles {
        sum = sum.wrapping_add(h.await);
    }
    sum
}

thread_local! {
    /// A waker kept from a finished call (by `keep_waker`).
    static KEPT: RefCell<Option<Waker>> = const { RefCell::new(None) };
}

mod guarantees;
mod outputs;

/// Fills 16 KiB of the stack below this call with `byte` and returns: a call made next at the
/// same depth finds those bytes wherever it does not write its own (the test of the bytes a
/// sleep's `poll_oneoff` subscription sends).
#[wasmexport]
fn dirty_stack(byte: u32) {
    let mut bytes = [0u8; 16 * 1024];
    bytes.fill(byte as u8);
    std::hint::black_box(&mut bytes);
}
