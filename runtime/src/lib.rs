//! Go's `//go:wasmexport` semantics for Rust on `wasm32-wasip1`.
//!
//! Put [`#[wasmexport]`](macro@wasmexport) on free functions of a `crate-type = ["cdylib"]`
//! crate, build with `cargo build --target wasm32-wasip1`, and get a reactor module: it exports
//! `_initialize`, your functions and `memory`, and any WASI host can call it again and again.
//!
//! ```
//! use wasmexport::wasmexport;
//!
//! #[wasmexport]
//! fn add(x: i32, y: i32) -> i32 {
//!     x.wrapping_add(y)
//! }
//!
//! #[wasmexport("wasi:http/incoming-handler@0.2.0#handle")]
//! fn handle(request: u32, response_out: u32) {
//!     let _ = (request, response_out);
//! }
//!
//! #[wasmexport::init]
//! fn setup() {
//!     // Runs once, from `_initialize`, before any export (Go's `init()`).
//! }
//! # fn main() { assert_eq!(add(2, 3), 5); }
//! ```
//!
//! # The model
//!
//! * **Every call is a task.** A plain `fn` export is a task that finishes in its first poll: it
//!   runs in place, with no allocation. An `async fn` export runs on the crate's single-threaded
//!   executor, which also runs background tasks started with [`spawn`] (goroutines).
//! * **Suspension.** While a call's task waits, the executor runs other ready tasks. The moment
//!   it completes, the export returns to the host, and every other task stays suspended until
//!   the next export call enters the module: nothing runs behind the host's back.
//! * **Timers.** [`time::sleep`] and [`time::timeout`]. When nothing is ready but a timer is
//!   armed, the executor blocks in `poll_oneoff` until the deadline.
//! * **Deadlock.** If the call's task waits, nothing is ready and no timer is armed, the module
//!   traps with `wasmexport: all tasks are asleep - deadlock!` and the export's name.
//! * **Re-entrancy.** An export called from inside a host import runs on a nested run of the
//!   executor and returns when its own task completes; the outer call then resumes.
//! * **Traps, not undefined behaviour.** An export called before `_initialize`, a panic, and any
//!   call after a panic trap with one `wasmexport:` line on stderr saying what happened.
//!
//! ```
//! use wasmexport::{spawn, wasmexport};
//!
//! #[wasmexport]
//! async fn double_in_background(x: i32) -> i32 {
//!     // The background task runs while this call waits for it.
//!     spawn(async move { x * 2 }).await
//! }
//! ```
//!
//! Suspension between calls: `start` returns before its task runs; the task runs during the
//! next call that waits, never behind the host's back.
//!
//! ```
//! use std::cell::Cell;
//! use wasmexport::{spawn, wasmexport, yield_now};
//!
//! thread_local!(static HITS: Cell<u32> = const { Cell::new(0) });
//!
//! #[wasmexport]
//! fn start() {
//!     spawn(async { HITS.set(HITS.get() + 1) }).detach();
//! }
//!
//! #[wasmexport]
//! async fn hits() -> u32 {
//!     yield_now().await; // lets the background task run
//!     HITS.get()
//! }
//! ```
//!
//! A deadlock traps (`wasmexport: all tasks are asleep - deadlock! export "stuck" ...`):
//!
//! ```
//! # use wasmexport::wasmexport;
//! #[wasmexport]
//! async fn stuck() {
//!     std::future::pending::<()>().await // nothing can wake it, and no timer is armed
//! }
//! ```
//!
//! Re-entrancy: an export the host calls from inside one of its imports runs on a nested run
//! of the executor. Declare such imports with [`macro@wasmimport`]: an export entered while
//! guest code runs (not a `#[wasmimport]` call) means that an earlier call was unwound by a
//! trap, and it traps with `wasmexport: module poisoned: an earlier call did not return`.
//!
//! ```
//! use wasmexport::{wasmexport, wasmimport};
//!
//! // The host implements `visit` by calling this module's `leaf` export.
//! #[wasmimport(module = "host", name = "visit")]
//! fn visit(depth: u32) -> u32;
//!
//! #[wasmexport]
//! fn leaf(depth: u32) -> u32 {
//!     depth + 1
//! }
//!
//! #[wasmexport]
//! async fn root() -> u32 {
//!     // SAFETY: the host's `visit` takes and returns plain integers.
//!     unsafe { visit(1) }
//! }
//! ```
#![warn(missing_docs)]

mod abi;
mod call;
mod executor;
mod init;
mod task;
pub mod time;
mod trap;

pub use task::{JoinHandle, YieldNow};

/// Exports a free function from the wasm module.
///
/// `#[wasmexport]` exports under the fn's own name (`r#type` as `type`);
/// `#[wasmexport(name)]` and `#[wasmexport("any string")]` under that name. Parameters and
/// result are `i32`, `u32`, `i64`, `u64`, `f32`, `f64`, `bool` or a thin raw pointer, or an alias
/// of one; at most one result. The fn may be `unsafe` (the host upholds its contract) and
/// `async` (it runs as a task on the executor). Methods, generics, other types and the reserved
/// names `_start` and `_initialize` are compile errors that point at the problem.
///
/// ```
/// use wasmexport::wasmexport;
///
/// type Handle = u32;
///
/// #[wasmexport(r#type)]
/// fn kind(h: Handle, flag: bool) -> u64 {
///     u64::from(h) + u64::from(flag)
/// }
/// # fn main() { assert_eq!(kind(41, true), 42); }
/// ```
#[doc(inline)]
pub use wasmexport_macros::wasmexport;

/// Runs a fn once, from `_initialize`, before any export (Go's `init()`).
///
/// Init fns take no parameters and return nothing, and run after the static constructors: a
/// crate's after those of every crate it depends on (Go's package order), and within a crate
/// ordered by the path of the source file (`file!()`), then by line. They may [`spawn`] tasks,
/// which start running at the first export call that waits. A panic or trap in one leaves the
/// instance unusable: every later call traps (see the README's "Reactors and commands").
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// static LIMIT: AtomicU32 = AtomicU32::new(0);
///
/// #[wasmexport::init]
/// fn configure() {
///     LIMIT.store(100, Ordering::Relaxed);
/// }
/// # fn main() {}
/// ```
#[doc(inline)]
pub use wasmexport_macros::init;

/// Makes `fn main` (sync or `async`) a command's entry point, run as a task on the executor.
///
/// A `bin` crate built for wasm32-wasip1 with wasmexport's `command` feature exports `_start`
/// (and never `_initialize`). While `_start` runs main, the host may call the module's exports
/// from inside its imports; once main has returned, an export call traps with a `wasmexport:`
/// line saying that a reactor (`crate-type = ["cdylib"]`) is what calls exports again and again.
///
/// On wasm, a `bin` that uses `#[wasmexport]` without `#[wasmexport::main]` does not compile
/// (the error names `__add_wasmexport_main_to_fn_main`): without it nothing would initialize
/// the runtime before the exports run.
///
/// ```
/// use wasmexport::{spawn, wasmexport};
///
/// #[wasmexport]
/// fn add(x: i32, y: i32) -> i32 {
///     x + y
/// }
///
/// #[wasmexport::main]
/// async fn main() {
///     let answer = spawn(async { 42 }).await;
///     println!("{answer}");
/// }
/// ```
#[doc(inline)]
pub use wasmexport_macros::main;

/// Declares a host import: `#[wasmimport(module = "host", name = "lookup")] fn lookup(k: i32) -> i32;`.
///
/// The counterpart of [`macro@wasmexport`], with the same type rules. The generated fn is
/// `unsafe` to call, as any foreign fn, and tells the executor that a host call is in flight so
/// that an export the host calls from inside it runs as a re-entrant call.
///
/// Imports declared in a plain `extern "C"` block work too, but an export the host calls from
/// inside one of them cannot be told apart from a call made after a trap left an earlier call
/// half-done, so it traps (`module poisoned`). A trap raised by a `#[wasmimport]` host function
/// itself is the one case the module cannot detect: see the README's "Host imports and aborted
/// calls".
///
/// ```
/// use wasmexport::wasmimport;
///
/// #[wasmimport(module = "host", name = "log")]
/// pub fn log(level: u32, ptr: *const u8, len: u32);
/// # fn main() {}
/// ```
#[doc(inline)]
pub use wasmexport_macros::wasmimport;

/// Starts a background task, like `go f()`, and returns a handle to its output.
///
/// The task runs whenever the executor runs: while some export call waits, never between
/// calls. Awaiting the [`JoinHandle`] gives the output; dropping it lets the task run on.
///
/// ```
/// use wasmexport::{spawn, wasmexport, yield_now};
///
/// #[wasmexport]
/// async fn sum_in_tasks(n: u32) -> u64 {
///     let handles: Vec<_> = (0..n).map(|i| spawn(async move {
///         yield_now().await;
///         u64::from(i)
///     })).collect();
///     let mut sum = 0;
///     for h in handles {
///         sum += h.await;
///     }
///     sum
/// }
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: std::future::Future + 'static,
    F::Output: 'static,
{
    executor::spawn(future)
}

/// How many tasks are alive: background tasks not yet finished plus the export calls running
/// (Go's `runtime.NumGoroutine`).
///
/// ```
/// use wasmexport::{spawn, task_count, wasmexport};
///
/// #[wasmexport]
/// fn tasks() -> u32 {
///     task_count() as u32 // counts this call too
/// }
/// ```
pub fn task_count() -> usize {
    executor::task_count()
}

/// Lets other ready tasks run once before this task goes on (Go's `runtime.Gosched`).
pub fn yield_now() -> YieldNow {
    YieldNow::new()
}

/// What the macros' generated code calls; not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::abi::WasmType;
    pub use crate::call::{HostCall, call_async, call_sync};
    pub use crate::init::{InitHook, initialize, run_main};

    /// `#[wasmexport::main]` expands to a call of this macro, which refuses to build a wasm
    /// command without the `command` feature (a command must not export `_initialize`).
    #[cfg(all(target_family = "wasm", not(feature = "command")))]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __wasmexport_command_feature {
        () => {
            ::core::compile_error!(
                "#[wasmexport::main] builds a command: enable wasmexport's `command` feature \
                 (wasmexport = { version = \"...\", features = [\"command\"] }) so that the module \
                 exports _start and not _initialize"
            )
        };
    }
    /// See the other definition.
    #[cfg(not(all(target_family = "wasm", not(feature = "command"))))]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __wasmexport_command_feature {
        () => {};
    }
    pub use crate::__wasmexport_command_feature as command_feature;
    pub use inventory;
}
