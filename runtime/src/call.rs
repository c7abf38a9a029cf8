//! The calls of exports: a plain `fn` export runs in place, an `async fn` export's future runs
//! on the executor until it completes; both enter and leave through the [gate](crate::gate).

use crate::executor;
use crate::gate::{Entered, enter};
use std::future::Future;

/// Runs a plain `fn` export: a task that finishes in its first poll, so it runs in place with
/// no heap allocation; it counts in `task_count()` through the export depth.
#[inline(always)]
pub fn call_sync<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    let _entered = enter(name);
    f()
}

/// Runs an `async fn` export as a task on the executor until it completes.
///
/// The future need not be `'static`: it lives on this frame for exactly the call, so it may
/// borrow the call's `&str` and `&[u8]` parameters.
pub fn call_async<F: Future>(name: &'static str, fut: F) -> F::Output {
    let _entered = enter(name);
    executor::block_on(name, fut)
}

/// An `async fn` export's call on the stack, for the export's shim: [`AsyncCall::enter`]
/// checks and marks the entry, dropping it marks the exit. In between, the shim calls a fn of
/// its own (`#[inline(never)]`) that builds the export's future and runs it with [`block_on`]:
/// the future is not built in the shim, so the shim needs no stack frame, and the entry check
/// runs before anything touches the linear-memory stack, which an earlier trap may have left
/// unusable (see `refuse`).
#[derive(Debug)]
pub struct AsyncCall {
    _entered: Entered,
}

impl AsyncCall {
    /// Checks and marks the entry of export `name`.
    #[inline(always)]
    pub fn enter(name: &'static str) -> AsyncCall {
        AsyncCall { _entered: enter(name) }
    }
}

/// Runs an `async fn` export's future as a task on the executor until it completes; see
/// [`AsyncCall`].
#[inline(always)]
pub fn block_on<F: Future>(name: &'static str, fut: F) -> F::Output {
    executor::block_on(name, fut)
}
