//! Traps that unwind through the module without its code running, one export each,
//! driven by tests/engine/tests/aborted.rs and tests/node/reactor.test.mjs.

use std::hint::black_box;
use wasmexport::{spawn, task_count, wasmexport, wasmimport, yield_now};

#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}

#[wasmexport]
fn tasks() -> u32 {
    task_count() as u32
}

/// A host function that traps (wasmtime) or throws (Node), declared with `#[wasmimport]`.
#[wasmimport(module = "test", name = "fail")]
fn fail() -> i32;

#[link(wasm_import_module = "test")]
unsafe extern "C" {
    /// The same host function through a plain `extern` block.
    #[link_name = "fail"]
    fn fail_plain() -> i32;
    /// The host calls this instance's `recurse_plain(n)`.
    fn reenter_plain(n: i32) -> i32;
    /// The host doubles `x` without calling back.
    fn double(x: i32) -> i32;
}

/// A plain import that returns normally and does not re-enter: works as it always did.
#[wasmexport]
async fn double_via_plain(x: i32) -> i32 {
    yield_now().await;
    // SAFETY: `double` takes and returns an i32.
    unsafe { double(x) }
}

/// Calls the failing host function through a plain import, from an async export with a task
/// parked, so that the executor has state to leave behind.
#[wasmexport]
async fn call_failing_plain() -> i32 {
    spawn(async { yield_now().await }).detach();
    // SAFETY: `fail` takes nothing and returns an i32 (or never returns).
    unsafe { fail_plain() }
}

/// The same through the `#[wasmimport]` declaration.
#[wasmexport]
async fn call_failing() -> i32 {
    spawn(async { yield_now().await }).detach();
    // SAFETY: as above.
    unsafe { fail() }
}

/// Re-enters through a plain import: the runtime cannot tell this from a stale state.
#[wasmexport]
fn recurse_plain(n: i32) -> i32 {
    if n <= 0 {
        return 0;
    }
    // SAFETY: the test host implements `reenter_plain` by calling `recurse_plain` again.
    1 + unsafe { reenter_plain(n - 1) }
}

/// Burns `n` loop iterations (for fuel and epoch interruption).
#[wasmexport]
fn spin(n: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..n {
        acc = black_box(acc.wrapping_add(i));
    }
    acc
}

/// Recurses `n` deep in plain Rust: enough `n` exhausts the engine's stack.
#[wasmexport]
fn deep(n: u32) -> u32 {
    fn go(n: u32) -> u32 {
        if n == 0 { 0 } else { black_box(go(black_box(n - 1))) + 1 }
    }
    go(n)
}

/// Traps in wasm code (what a stack overflow or a bounds check does), no panic involved.
#[wasmexport]
fn trap_now() -> i32 {
    core::arch::wasm32::unreachable()
}

/// The host calls `trap_now` from inside this import, catches the trap and returns 0.
#[wasmimport(module = "test", name = "swallow_nested_trap")]
fn swallow_nested_trap() -> i32;

/// Calls a host function that swallows a trap of a nested call: this call must not go on.
#[wasmexport]
fn call_swallowing() -> i32 {
    // SAFETY: the host function takes nothing and returns an i32.
    unsafe { swallow_nested_trap() }
}

/// The host calls this instance's `recurse(n)`.
#[wasmimport(module = "test", name = "reenter")]
fn reenter(n: i32) -> i32;

/// Re-enters through a `#[wasmimport]` import: allowed.
#[wasmexport]
fn recurse(n: i32) -> i32 {
    if n <= 0 {
        return 0;
    }
    // SAFETY: the test host implements `reenter` by calling `recurse` again.
    1 + unsafe { reenter(n - 1) }
}

/// Waits for something nothing can deliver: the deadlock trap, which poisons the instance.
#[wasmexport]
async fn wait_forever() {
    std::future::pending::<()>().await
}

/// The host calls this instance's `recurse_async(n)`.
#[wasmimport(module = "test", name = "reenter_async")]
fn reenter_async(n: i32) -> i32;

/// Re-enters through the host as an async export: each level keeps its call's future on the
/// shadow stack (the linear-memory stack), so enough levels exhaust it.
#[wasmexport]
async fn recurse_async(n: i32) -> i32 {
    if n <= 0 {
        return 0;
    }
    yield_now().await;
    // SAFETY: the test host implements `reenter_async` by calling `recurse_async` again.
    1 + unsafe { reenter_async(n - 1) }
}

/// The host calls this instance's `recurse_fat(n)`.
#[wasmimport(module = "test", name = "reenter_fat")]
fn reenter_fat(n: i32) -> i32;

/// `recurse_async` with 16 KiB more shadow stack per level (a buffer held across an await):
/// the shadow stack runs out after about 64 levels, before any engine's own stack does.
#[wasmexport]
async fn recurse_fat(n: i32) -> i32 {
    if n <= 0 {
        return 0;
    }
    let mut buf = [0u8; 16 << 10];
    buf[n as usize % buf.len()] = 1;
    yield_now().await;
    black_box(&mut buf);
    // SAFETY: the test host implements `reenter_fat` by calling `recurse_fat` again.
    1 + unsafe { reenter_fat(n - 1) }
}

/// The host doubles `x` without calling back; declared with `#[wasmimport]`.
#[wasmimport(module = "test", name = "double")]
fn double_marked(x: i32) -> i32;

/// One `#[wasmimport]` call and nothing else: fuel that runs out anywhere in it must leave the
/// instance poisoned, never counted as a host call in flight.
#[wasmexport]
fn double_via_import(x: i32) -> i32 {
    // SAFETY: `double` takes and returns an i32.
    unsafe { double_marked(x) }
}

/// A plain export whose body needs a frame on the shadow stack (a buffer whose address
/// escapes): its entry check must still come before the frame is touched.
#[wasmexport]
fn framed(n: u32) -> u32 {
    let mut buf = [0u32; 16];
    buf[n as usize % buf.len()] = n;
    black_box(&mut buf).iter().sum()
}

/// Awaits a `JoinHandle` again after it completed: a misuse the runtime traps on.
#[wasmexport]
async fn join_twice() -> u32 {
    let mut handle = spawn(async { 1u32 });
    let first = (&mut handle).await;
    first + (&mut handle).await
}
