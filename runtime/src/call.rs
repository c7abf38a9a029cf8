//! The one entry point every export goes through: state checks (initialized, poisoned), the
//! name of the export on the stack (for traps and panics), then the call itself on the executor.

use crate::{executor, trap::trap};
use std::cell::Cell;
use std::future::Future;

/// Why later calls must trap.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Poison {
    None,
    /// A panic reached the top of an export or task (E8).
    Panic,
}

/// The module's entry state; one per instance (wasm32-wasip1 has one thread).
pub(crate) struct State {
    pub(crate) initialized: Cell<bool>,
    pub(crate) poison: Cell<Poison>,
    /// How many exports are on the stack (more than one when re-entered from a host import).
    pub(crate) depth: Cell<u32>,
    /// How many `#[wasmimport]` host calls are in flight.
    pub(crate) host_calls: Cell<u32>,
    /// The innermost export running, for trap and panic messages.
    pub(crate) export: Cell<&'static str>,
    /// A command's main has returned: its exports can no longer run (M4).
    pub(crate) exited: Cell<bool>,
}

thread_local! {
    pub(crate) static STATE: State = const {
        State {
            initialized: Cell::new(false),
            poison: Cell::new(Poison::None),
            depth: Cell::new(0),
            host_calls: Cell::new(0),
            export: Cell::new(""),
            exited: Cell::new(false),
        }
    };
}

/// The name of the innermost export running, or `""` outside any export.
pub(crate) fn current_export() -> &'static str {
    STATE.with(|s| s.export.get())
}

/// An export on the stack; leaving restores the outer export's name.
struct Entered {
    outer: &'static str,
}

#[inline(always)]
fn enter(name: &'static str) -> Entered {
    STATE.with(|s| {
        if s.poison.get() != Poison::None || !s.initialized.get() || s.exited.get() {
            refuse(s, name);
        }
        s.depth.set(s.depth.get() + 1);
        Entered { outer: s.export.replace(name) }
    })
}

impl Drop for Entered {
    #[inline(always)]
    fn drop(&mut self) {
        STATE.with(|s| {
            s.depth.set(s.depth.get() - 1);
            s.export.set(self.outer);
        })
    }
}

#[cold]
fn refuse(s: &State, name: &str) -> ! {
    if s.poison.get() == Poison::Panic {
        trap(format_args!(
            "module poisoned by an earlier panic: export \"{name}\" cannot run; create a new instance"
        ))
    }
    if s.exited.get() {
        trap(format_args!(
            "export \"{name}\" called after the command's main returned: a command's exports run \
             only while _start runs (called from a host import); to call exports again and again, \
             build a reactor (crate-type = [\"cdylib\"], without the `command` feature)"
        ))
    }
    let entry = if cfg!(feature = "command") { "_start" } else { "_initialize" };
    trap(format_args!("export \"{name}\" called before runtime initialization: call {entry} first"))
}

/// Runs a plain `fn` export: a task that finishes in its first poll, so it runs in place with
/// no heap allocation (E1).
#[inline(always)]
pub fn call_sync<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    let _entered = enter(name);
    let _task = executor::InlineTask::start();
    f()
}

/// Runs an `async fn` export as a task on the executor until it completes (E1-E7).
pub fn call_async<F>(name: &'static str, fut: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    let _entered = enter(name);
    executor::block_on(name, fut)
}

/// A `#[wasmimport]` host call in flight: an export entered while it lasts is a re-entrant call.
pub struct HostCall(());

impl HostCall {
    /// Marks the start of a host call; the returned guard marks its end.
    #[inline(always)]
    pub fn enter() -> HostCall {
        STATE.with(|s| s.host_calls.set(s.host_calls.get() + 1));
        HostCall(())
    }
}

impl Drop for HostCall {
    #[inline(always)]
    fn drop(&mut self) {
        STATE.with(|s| s.host_calls.set(s.host_calls.get() - 1));
    }
}
