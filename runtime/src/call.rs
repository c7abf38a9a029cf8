//! The one entry point every export goes through: state checks (initialized, poisoned, not
//! already inside guest code), the name of the export on the stack (for traps and panics), then
//! the call itself on the executor.
//!
//! Everything the entry check needs is one word, [`State::gate`], so a plain `fn` export costs a
//! byte load and a branch on top of the user's code: four wasm instructions, since LLVM drops
//! the gate's updates around a body that cannot observe them (the benchmarks measure it within
//! noise of a raw export's time, on wasmtime and on V8).

use crate::{executor, trap::trap};
use std::cell::Cell;
use std::future::Future;

/// Gate bit: `_initialize` (or a command's `_start`) has not run yet.
const NOT_INITIALIZED: u32 = 1;
/// Gate bit: a panic or an aborted call poisoned the instance; [`State::poison`] says which.
const POISONED: u32 = 1 << 1;
/// Gate bit: a command's main has returned.
const EXITED: u32 = 1 << 2;
/// Gate bit: guest code of an export (or of `main`, or an init hook) is running, not a
/// `#[wasmimport]` host call. Entering an export while it is set means the host called in
/// while guest code was running: an earlier call trapped and was unwound by the host.
const IN_GUEST: u32 = 1 << 3;
/// The gate counts exports on the stack above its low byte.
const DEPTH_ONE: u32 = 1 << 8;
/// The gate's low byte: the flag bits above, every one of which keeps exports out. The entry
/// check tests the whole byte for zero, a byte load and a branch (`i32.const`, `i32.load8_u`,
/// `i32.eqz`, `br_if` on wasm); a mask of the four bits would cost two more instructions.
const FLAGS: u32 = DEPTH_ONE - 1;
const _: () = assert!((NOT_INITIALIZED | POISONED | EXITED | IN_GUEST) & !FLAGS == 0);

/// Why later calls must trap.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Poison {
    None,
    /// A panic reached the top of an export or task.
    Panic,
    /// A call was unwound by a trap without returning.
    Aborted,
}

/// The module's entry state; one per instance (wasm32-wasip1 has one thread).
pub(crate) struct State {
    /// Flag bits and the export depth; see the constants above.
    gate: Cell<u32>,
    pub(crate) poison: Cell<Poison>,
    /// The innermost export running, for trap and panic messages.
    export: Cell<&'static str>,
}

thread_local! {
    pub(crate) static STATE: State = const {
        State {
            gate: Cell::new(NOT_INITIALIZED),
            poison: Cell::new(Poison::None),
            export: Cell::new(""),
        }
    };
}

/// The name of the innermost export running, or `""` outside any export.
pub(crate) fn current_export() -> &'static str {
    STATE.with(|s| s.export.get())
}

/// How many exports (and a command's main) are on the stack.
pub(crate) fn depth() -> usize {
    STATE.with(|s| (s.gate.get() / DEPTH_ONE) as usize)
}

/// True once `_initialize` (or `_start`) has begun.
pub(crate) fn initialized() -> bool {
    STATE.with(|s| s.gate.get() & NOT_INITIALIZED == 0)
}

/// Marks the instance initialized and runs `hooks` as guest code (a trap inside them poisons
/// the instance like a trap inside an export).
pub(crate) fn initializing(hooks: impl FnOnce()) {
    STATE.with(|s| {
        s.gate.set((s.gate.get() & !NOT_INITIALIZED) | IN_GUEST);
        let outer = s.export.replace("_initialize");
        hooks();
        s.gate.set(s.gate.get() & !IN_GUEST);
        s.export.set(outer);
    })
}

/// A command's main has returned: later export calls trap.
pub(crate) fn mark_exited() {
    STATE.with(|s| s.gate.set(s.gate.get() | EXITED));
}

/// A panic reached the top: later calls trap.
pub(crate) fn poison_by_panic() {
    STATE.with(|s| {
        s.poison.set(Poison::Panic);
        s.gate.set(s.gate.get() | POISONED);
    })
}

/// An export on the stack; leaving restores the outer export's name.
struct Entered {
    outer: &'static str,
}

#[inline(always)]
fn enter(name: &'static str) -> Entered {
    STATE.with(|s| {
        let gate = s.gate.get();
        if gate & FLAGS != 0 {
            refuse(s, name);
        }
        s.gate.set(gate + DEPTH_ONE + IN_GUEST);
        Entered { outer: s.export.replace(name) }
    })
}

impl Drop for Entered {
    #[inline(always)]
    fn drop(&mut self) {
        STATE.with(|s| {
            s.gate.set(s.gate.get() - DEPTH_ONE - IN_GUEST);
            s.export.set(self.outer);
        })
    }
}

#[cold]
#[inline(never)]
fn refuse(s: &State, name: &str) -> ! {
    let gate = s.gate.get();
    if gate & POISONED == 0 && gate & IN_GUEST != 0 {
        s.poison.set(Poison::Aborted);
        s.gate.set(gate | POISONED);
        trap(format_args!(
            "module poisoned: an earlier call did not return (it trapped); export \"{name}\" \
             cannot run; create a new instance (if this call came from inside a host import, \
             declare that import with #[wasmimport]: only then is re-entering allowed)"
        ))
    }
    match s.poison.get() {
        Poison::Panic => trap(format_args!(
            "module poisoned by an earlier panic: export \"{name}\" cannot run; create a new \
             instance"
        )),
        Poison::Aborted => trap(format_args!(
            "module poisoned: an earlier call did not return (it trapped); export \"{name}\" \
             cannot run; create a new instance"
        )),
        Poison::None => {}
    }
    if gate & EXITED != 0 {
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
/// no heap allocation; it counts in `task_count()` through the export depth.
#[inline(always)]
pub fn call_sync<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    let _entered = enter(name);
    f()
}

/// Runs an `async fn` export as a task on the executor until it completes.
pub fn call_async<F>(name: &'static str, fut: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    let _entered = enter(name);
    executor::block_on(name, fut)
}

/// A `#[wasmimport]` host call in flight: an export entered while it lasts is a re-entrant
/// call, allowed. Holds the gate as it was before the call.
pub struct HostCall(u32);

impl HostCall {
    /// Marks the start of a host call; the returned guard marks its end.
    #[inline(always)]
    pub fn enter() -> HostCall {
        STATE.with(|s| {
            let gate = s.gate.get();
            s.gate.set(gate & !IN_GUEST);
            HostCall(gate)
        })
    }
}

impl Drop for HostCall {
    #[inline(always)]
    fn drop(&mut self) {
        STATE.with(|s| {
            // Every export the host made from inside this call has returned, unless one was
            // unwound by a trap that the host caught (a JS `catch` around it, say) before
            // returning here: then the executor may be mid-update, and nothing may run on.
            if s.gate.get() | (self.0 & IN_GUEST) != self.0 {
                aborted_inside_host_call(s);
            }
            s.gate.set(self.0);
        })
    }
}

#[cold]
#[inline(never)]
fn aborted_inside_host_call(s: &State) -> ! {
    if s.gate.get() & POISONED != 0 && s.poison.get() == Poison::Panic {
        trap(format_args!("module poisoned by an earlier panic; create a new instance"))
    }
    s.poison.set(Poison::Aborted);
    s.gate.set(s.gate.get() | POISONED);
    // The name left behind is the export that was unwound.
    trap(format_args!(
        "module poisoned: export \"{}\", called from inside a host import, did not return (it \
         trapped, and the host went on); the call that made the host call cannot go on; create \
         a new instance",
        s.export.get()
    ))
}
