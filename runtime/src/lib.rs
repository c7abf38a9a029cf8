//! Go's `//go:wasmexport` semantics for Rust on `wasm32-wasip1`.
//!
//! Put [`#[wasmexport]`](macro@wasmexport) on free functions of a `crate-type = ["cdylib"]`
//! crate, build with `cargo build --target wasm32-wasip1`, and get a reactor module: it exports
//! `_initialize`, your functions and `memory`, and any WASI host can call it again and again.
//! The same crate builds for `wasm32-unknown-unknown` too, into a module whose only imports are
//! your own, for hosts without WASI: see [no WASI](crate::_no_wasi).
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
//! * **Wakes.** Each wake of a call's future leads to at most one poll, once the tasks that were
//!   ready before the wake have run; nothing is left queued for a call that has returned, and a
//!   waker kept from a finished call wakes nothing.
//! * **Timers.** [`time::sleep`] and [`time::timeout`]. When nothing is ready but a timer is
//!   armed, the executor blocks in `poll_oneoff` until the deadline. Due timers also fire before
//!   a call that woke itself goes on, so a loop of [`yield_now`] cannot hide them.
//! * **Panics in tasks** name where the task was spawned and the export that spawned it.
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
mod cmain;
mod executor;
mod gate;
mod init;
mod local;
pub mod pending;
mod pool;
mod task;
#[cfg(test)]
mod test_support;
pub mod time;
mod trap;
mod wait;

// The contract in prose, as documentation-only modules (they hold no items): docs.rs shows them
// beside the API. Their text is in runtime/docs/.
#[doc = include_str!("../docs/contract.md")]
pub mod _contract {}
#[doc = include_str!("../docs/reactors-and-commands.md")]
pub mod _reactors_and_commands {}
#[doc = include_str!("../docs/executor.md")]
pub mod _executor {}
#[doc = include_str!("../docs/host-imports.md")]
pub mod _host_imports {}
#[doc = include_str!("../docs/names.md")]
pub mod _names {}
#[doc = include_str!("../docs/trap-lines.md")]
pub mod _trap_lines {}
#[doc = include_str!("../docs/notes.md")]
pub mod _notes {}
#[doc = include_str!("../docs/no-wasi.md")]
pub mod _no_wasi {}

pub use task::YieldNow;

/// A handle to a task started by [`spawn`].
///
/// Awaiting it gives the task's output. Dropping it detaches the task, which runs on: like a
/// goroutine, a task cannot be cancelled from outside. A panic in the task traps the module, so
/// there is no error case.
///
/// The type is not `#[must_use]`, as tokio's `JoinHandle` is not: `spawn(fut);` is `go f()`,
/// and the task runs whether or not its handle is kept. Its `detach` says the same in so many
/// words.
///
/// ```
/// use wasmexport::{JoinHandle, spawn, wasmexport};
///
/// #[wasmexport]
/// async fn doubled(x: u32) -> u32 {
///     let handle: JoinHandle<u32> = spawn(async move { x * 2 });
///     handle.await
/// }
/// # fn main() {}
/// ```
pub type JoinHandle<T> = task::JoinHandle<T, executor::Scheduler>;

/// Exports a free function from the wasm module.
///
/// `#[wasmexport]` exports under the fn's own name (`r#type` as `type`);
/// `#[wasmexport(name)]` and `#[wasmexport("any string")]` under that name. The fn may be
/// `unsafe` (the host upholds its contract) and `async` (it runs as a task on the executor).
/// Methods, generics, other types and the reserved names `_start` and `_initialize` are
/// compile errors that point at the problem; every problem of one fn is reported in one build.
///
/// # Types and how they cross
///
/// | Rust | wasm | notes |
/// |---|---|---|
/// | `i32`, `u32` | `i32` | |
/// | `i64`, `u64` | `i64` | |
/// | `f32`, `f64` | `f32`, `f64` | |
/// | `bool` | `i32` | any non-zero value is `true` |
/// | `usize`, `isize` | `i32` | Go's `uintptr` (wasm32) |
/// | `*const T`, `*mut T` | `i32` | `T` must have a host layout: see [`HostLayout`] |
/// | `&str`, `&[u8]`, `&mut [u8]` | `i32, i32` | parameters only: pointer, then length in bytes |
///
/// Aliases of these work (`type Handle = u32;`); newtypes and other types do not. At most one
/// result, one wasm value: a string or buffer result is refused (return a pointer and write
/// the length through a `*mut u32` parameter). `type Unit = ();` as a result returns nothing.
///
/// A slice parameter is checked before the export runs, and before the call touches the
/// runtime's state: a pointer and length that reach past linear memory (or a null pointer with
/// a non-zero length) trap with a `wasmexport:` line naming the export and the parameter, as do
/// a `&str` whose bytes are not UTF-8 and a `&mut [u8]` that shares bytes with another slice
/// parameter. Such a trap leaves the instance usable: the next call runs normally. A zero
/// length is an empty slice, whatever the pointer. The bytes are the call's for its duration:
/// the host lends them (typically a buffer from an allocation export the module defines) and
/// must not pass memory the module is using otherwise. An `async fn` export may hold its slices
/// across `.await`s: its future lives for exactly the call.
///
/// `#[wasmexport(crate = path)]` (also `#[wasmexport("name", crate = path)]`, and on every
/// macro of this crate) names this crate when it is a renamed dependency
/// (`we = { package = "wasmexport", .. }`).
///
/// ```
/// use wasmexport::wasmexport;
///
/// /// Counts the words of `text` into `counts[0]` and returns the bytes it saw.
/// #[wasmexport]
/// fn count(text: &str, counts: &mut [u8]) -> usize {
///     if let Some(first) = counts.first_mut() {
///         *first = text.split_whitespace().count() as u8;
///     }
///     text.len()
/// }
/// # fn main() { let mut c = [0]; assert_eq!(count("a b", &mut c), 3); assert_eq!(c[0], 2); }
/// ```
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
///
/// On wasm an export's name is also its symbol name, so names that cannot work are refused:
/// `memory`, the linker's symbols and every symbol of the toolchain's libc and standard library
/// (`malloc`, `getenv`, `write`, ...), and `main` in a `bin`. `main` in a reactor keeps its
/// declared signature. Another `#[no_mangle]` or `#[export_name]` on the fn is refused too.
///
/// On a target other than wasm the fn is a plain Rust fn and defines no C symbol, so the crate's
/// logic can be unit-tested with `cargo test`.
#[doc(inline)]
pub use wasmexport_macros::wasmexport;

/// Runs a fn once, from `_initialize`, before any export (Go's `init()`).
///
/// Init fns take no parameters and return nothing, and run after the static constructors: a
/// crate's after those of every crate it depends on (Go's package order), and within a crate
/// ordered by the path of the source file (`file!()`), then by line. They may [`spawn`] tasks,
/// which start running at the first export call that waits. A panic or trap in one leaves the
/// instance unusable: every later call traps (see
/// [what initialization runs](crate::_reactors_and_commands)).
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
/// The counterpart of [`macro@wasmexport`], with the same type rules: a `&str`, `&[u8]` or
/// `&mut [u8]` parameter is passed to the host as two `i32`s, pointer then length, and `_`
/// parameters are allowed. `crate = path` names a renamed dependency. The generated fn is
/// `unsafe` to call, as any foreign fn, and tells the executor that a host call is in flight so
/// that an export the host calls from inside it runs as a re-entrant call.
///
/// Imports declared in a plain `extern "C"` block work too, but an export the host calls from
/// inside one of them cannot be told apart from a call made after a trap left an earlier call
/// half-done, so it traps (`module poisoned`). A trap raised by a `#[wasmimport]` host function
/// itself is the one case the module cannot detect: see [host imports](crate::_host_imports).
///
/// ```
/// use wasmexport::wasmimport;
///
/// #[wasmimport(module = "host", name = "log")]
/// pub fn log(level: u32, message: &str); // host side: log(level: i32, ptr: i32, len: i32)
/// # fn main() {}
/// ```
///
/// On a target other than wasm there is no host to import from: the fn panics, naming the
/// import's module and name, when called (the rest of the crate builds and can be tested).
#[doc(inline)]
pub use wasmexport_macros::wasmimport;

/// Marks a struct whose layout a wasm host can rely on, so that `*const T` and `*mut T` to it
/// may be parameters and results of exports and imports (Go's `structs.HostLayout`).
///
/// The struct must be `#[repr(C)]` or `#[repr(transparent)]`, and each field must have a host
/// layout itself: `i32`, `u32`, `i64`, `u64`, `f32`, `f64`, `bool`, `usize`, `isize`, `u8`, `i8`,
/// `u16`, `i16`, `c_void`, a raw pointer, an array of these, or another struct with this derive.
/// Anything else is a compile error pointing at the struct or the field.
/// `#[host_layout(crate = path)]` names a renamed dependency.
///
/// ```
/// use wasmexport::{HostLayout, wasmexport};
///
/// #[derive(HostLayout)]
/// #[repr(C)]
/// pub struct Point {
///     x: f64,
///     y: f64,
///     tag: [u8; 4],
/// }
///
/// /// # Safety
/// /// `p` must point at a `Point`.
/// #[wasmexport]
/// unsafe fn norm(p: *const Point) -> f64 {
///     // SAFETY: the caller's contract.
///     let p = unsafe { &*p };
///     p.x.hypot(p.y)
/// }
/// # fn main() { assert_eq!(unsafe { norm(&Point { x: 3.0, y: 4.0, tag: [0; 4] }) }, 5.0); }
/// ```
pub use abi::HostLayout;
#[doc(inline)]
pub use wasmexport_macros::HostLayout;

/// Starts a background task, like `go f()`, and returns a handle to its output.
///
/// The task runs whenever the executor runs: while some export call waits, never between
/// calls. Awaiting the [`JoinHandle`] gives the output; dropping it lets the task run on.
///
/// Like tokio's `spawn_local`, and unlike tokio's `spawn`, neither the future nor its output
/// need be `Send`: wasm32-wasip1 runs the module on one thread, and every task runs on it.
/// A panic in the task names where it was spawned (this fn is `#[track_caller]`) and the
/// export that spawned it.
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
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: std::future::Future + 'static,
    F::Output: 'static,
{
    executor::spawn(future, std::panic::Location::caller(), gate::current_export())
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
    // Every export on the stack is a task that lives exactly as long as its call, so exports
    // are counted by their depth, not by the executor: a plain `fn` export costs no counting.
    // A pending export's call is the exception: its future is a spawned task from the start.
    executor::spawned_alive() + gate::depth() - pending::starting()
}

/// Runs every task that is ready and fires every timer that is due, without blocking, and
/// returns once nothing is ready, with when to drive again: the time until the next armed
/// timer, zero if tasks it ran yielded (they are ready again, and run at the next drive, so
/// that a task that keeps yielding cannot hold the host's event loop), or `None`.
///
/// This is how a host's own schedule drives background work: call it from any export, a plain
/// `fn` too, for example a tick or event callback that the host calls on its event loop. Tasks
/// still run only inside calls into the module: a drive is part of the call that makes it.
/// Where the host cannot block in `poll_oneoff` (Envoy's answers at once), timers fire at the
/// first drive (or waiting call) after their deadline, so a host that calls back after the
/// returned duration keeps them on time.
///
/// Called from inside a task or an `async fn` export, it runs the other ready tasks before
/// returning to its caller (the calling task or export is not polled by it).
///
/// ```
/// use std::time::Duration;
/// use wasmexport::{spawn, wasmexport};
///
/// #[wasmexport]
/// fn start() {
///     spawn(async {
///         wasmexport::time::sleep(Duration::from_millis(100)).await;
///         // ... background work, on time, without any call that blocks the host
///     })
///     .detach();
/// }
///
/// /// The host calls this on its event loop (Envoy: `proxy_on_tick`), again after the
/// /// returned number of milliseconds, or not at all when it returns -1.
/// #[wasmexport]
/// fn on_tick() -> i64 {
///     match wasmexport::drive() {
///         Some(next) => next.as_millis().min(i64::MAX as u128) as i64,
///         None => -1,
///     }
/// }
/// # fn main() { wasmexport::__private::initialize(); start(); assert!(on_tick() > 0); }
/// ```
#[inline]
pub fn drive() -> Option<std::time::Duration> {
    executor::drive()
}

/// Defines the three exports through which a host's event loop drives the module:
/// `wasmexport_drive`, `wasmexport_complete` and `wasmexport_buffer` (see [`pending`]).
///
/// Write it once in the module's crate, next to its `#[wasmexport(pending)]` fns; a module
/// without it exports none of them. `docs/async-abi.md` in the repository is the protocol
/// for hosts.
///
/// * `wasmexport_drive() -> i32`: [`drive`], then the milliseconds to the next armed timer
///   (rounded up), or -1 when none is armed.
/// * `wasmexport_complete(token: i32, value: i32) -> i32`: completes the host's operation
///   `token` (waking the [`pending::value`] or [`pending::bytes`] future that awaits it), then
///   drives, and returns as `wasmexport_drive` does.
/// * `wasmexport_buffer(token: i32, len: i32) -> i32`: reserves `len` bytes for the bytes of
///   operation `token` and returns their address, for the host to fill before it completes it.
///
/// ```
/// wasmexport::async_abi!();
///
/// #[wasmexport::wasmexport(pending)]
/// async fn later(ms: u32) -> u32 {
///     wasmexport::time::sleep(std::time::Duration::from_millis(ms.into())).await;
///     ms
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! async_abi {
    () => {
        const _: () = {
            /// Runs what is ready; the milliseconds to the next timer, or -1. Not a
            /// `#[wasmexport]`: an idle tick returns after the entry check alone.
            #[cfg_attr(target_family = "wasm", unsafe(export_name = "wasmexport_drive"))]
            #[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
            extern "C" fn wasmexport_drive() -> i32 {
                $crate::__private::pending::drive_export()
            }
            /// Completes host operation `token` with `value`, then drives.
            #[$crate::wasmexport(crate = $crate)]
            fn wasmexport_complete(token: i32, value: i32) -> i32 {
                $crate::__private::pending::complete(token, value)
            }
            /// Reserves `len` bytes for the bytes of host operation `token`.
            #[$crate::wasmexport(crate = $crate)]
            fn wasmexport_buffer(token: i32, len: i32) -> i32 {
                $crate::__private::pending::buffer(token, len)
            }
        };
    };
}

/// Lets other ready tasks run once before this task goes on (Go's `runtime.Gosched`), and
/// timers that are due fire first.
///
/// ```
/// use wasmexport::{wasmexport, yield_now};
///
/// #[wasmexport]
/// async fn polite() {
///     yield_now().await; // tasks ready now run before this call goes on
/// }
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow::new()
}

/// Registers `reporter` to receive every line the runtime writes to stderr before it traps.
///
/// Every trap this crate causes on purpose (a panic, a call into a poisoned instance, a
/// deadlock, a call before `_initialize`, ...) first writes one line starting with
/// `wasmexport:` to stderr. Many hosts hide a guest's stderr; a reporter passes the line on
/// through the host's own channel (an error slot, a log import) before the trap. It receives
/// the line without its newline, from a buffer on the stack: nothing is allocated, so it runs
/// even when the heap is what went wrong. Lines longer than 1 KiB are cut, ending in `...`.
///
/// The reporter runs after the line is on stderr and before the trap; after it returns, the
/// module traps as it would without it. Keep it small and do not allocate in it.
///
/// * It runs on poisoned instances too: the call after a panic traps with a `module
///   poisoned` line, which the reporter receives like any other.
/// * A line caused while the reporter runs (it panicked, or it called back into the module
///   and that call trapped) goes to stderr only: a failing reporter never recurses.
/// * A trap inside the reporter (a host import that traps, say) just traps, as any trap in
///   guest code; the instance must then be dropped like after any trap, and the reporter is not
///   called again on it.
/// * Lines written before it is set, in particular for an export called before
///   `_initialize` (no code of the module has run yet), reach stderr only: set it in a
///   [`#[wasmexport::init]`](macro@init) fn, the first thing that runs.
/// * The refusals at an export's entry (poisoned, before `_initialize`) write their line to
///   stderr without using the shadow stack, then hand it to the reporter. If the shadow stack
///   itself is what ran out, the reporter's frame faults: the call still traps (with an
///   out-of-bounds access instead of `unreachable`), and stderr has the line.
///
/// On wasm32-unknown-unknown there is no stderr: the reporter is the only place a line goes,
/// and with none set a trap says nothing (see [no WASI](crate::_no_wasi)).
///
/// A later call replaces the reporter.
///
/// ```
/// use wasmexport::wasmimport;
///
/// // The host's channel for errors: it reads `len` bytes at `ptr` during the call.
/// #[wasmimport(module = "host", name = "set_error")]
/// fn set_error(ptr: *const u8, len: u32);
///
/// fn to_host(line: &str) {
///     // SAFETY: `ptr` and `len` describe `line`, which outlives the call.
///     unsafe { set_error(line.as_ptr(), line.len() as u32) }
/// }
///
/// #[wasmexport::init]
/// fn setup() {
///     wasmexport::set_trap_reporter(to_host);
/// }
/// # // The host's side, so that the example links natively.
/// # #[cfg(not(target_family = "wasm"))]
/// # mod host {
/// #     #[unsafe(no_mangle)]
/// #     extern "C" fn set_error(_: *const u8, _: u32) {}
/// # }
/// # fn main() {}
/// ```
pub fn set_trap_reporter(reporter: fn(&str)) {
    trap::set_reporter(reporter)
}

/// What the macros' generated code calls; not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::abi::{HostLayout, RawSlice, WasmResult, WasmSlice, WasmType, disjoint};
    pub use crate::call::{AsyncCall, block_on, call_async, call_sync};
    pub use crate::cmain::CMainResult;
    pub use crate::gate::HostCall;
    pub use crate::init::{InitHook, initialize, run_main};

    /// Whether the runtime was built for a target with one thread (wasm without threads), as
    /// its build script decided: its per-thread state is then plain statics.
    pub const ONE_THREAD: bool = cfg!(wasmexport_one_thread);

    /// The glue of pending exports and of `async_abi!`.
    pub mod pending {
        pub use crate::pending::{OwnedSlice, buffer, complete, drive, drive_export, start};
    }

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
