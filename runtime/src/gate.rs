//! The module's entry state, a leaf every other module may use: whether exports may run
//! (initialized, not poisoned, not already inside guest code), why not, the name of the export
//! on the stack (for traps and panics), and the marks of host calls in flight. Poisoning and
//! the traps that poison live here too, so that the executor and the tasks report a misuse
//! without knowing who handles it.
//!
//! Beside the gate sit two marks the executor and the timers keep (a task is queued, a timer
//! is armed), so that a host's drive with nothing to do costs one load and a branch.
//!
//! Everything the entry check needs is one byte of one word, [`State::gate`], so a plain `fn`
//! export costs an address, a byte load and a branch on top of the user's code: three wasm
//! instructions, since LLVM drops the gate's updates around a body that cannot observe them
//! (the benchmarks measure it within noise of a raw export's time, on wasmtime and on V8).

use crate::trap::{trap, trap_static};
use std::cell::Cell;
use std::fmt;

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
/// Gate bit: `_initialize` (or a command's `_start`) has begun and not finished. Set together
/// with `IN_GUEST` in one store, so that a trap at any instruction of the initialization leaves
/// either nothing begun or this bit set: with `IN_GUEST` still set, the initialization was cut
/// short; with it clear, the call came from a host import that the initialization made.
const INITIALIZING: u32 = 1 << 4;
/// The gate's low byte: the flag bits above, every one of which keeps exports out.
const FLAGS: u32 = 0xff;
/// The gate's second byte is 1 exactly when no flag is set, else 0: every write of the gate
/// goes through [`settle`], or changes it by a sum that keeps this so. The entry check tests
/// that byte: an address, a byte load and a branch taken when it is non-zero (`i32.const`,
/// `i32.load8_u`, `br_if` on wasm). A test of the flag byte for zero costs an `i32.eqz` more,
/// as LLVM lays the cold refusal out first and branches over it.
const READY: u32 = 1 << 8;
const READY_BYTE: u32 = 0xff00;
/// The gate counts exports on the stack above its two low bytes.
const DEPTH_ONE: u32 = 1 << 16;
const _: () =
    assert!((NOT_INITIALIZED | POISONED | EXITED | IN_GUEST | INITIALIZING) & !FLAGS == 0);

/// `gate` with its ready byte set from its flags.
#[inline(always)]
const fn settle(gate: u32) -> u32 {
    if gate & FLAGS == 0 { (gate & !READY_BYTE) | READY } else { gate & !READY_BYTE }
}

/// Why later calls must trap: recorded before every trap this crate causes inside a call, so
/// that the calls after it say what happened rather than guess.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Poison {
    None,
    /// A panic reached the top of an export or task.
    Panic,
    /// The deadlock trap, in this export.
    Deadlock(&'static str),
    /// Another trap of this crate's (a misuse it caught), in this export.
    Trap(&'static str),
    /// A call was unwound by a trap without returning.
    Aborted,
}

/// The module's entry state; one per instance (wasm32-wasip1 has one thread).
///
/// Its first bytes hold the two marks of work that a drive must not skip, then the gate, so
/// that a host's drive with nothing to do reads the marks and the gate's flag byte in one
/// load ([`idle_from_host`]). The marks are kept beside the gate, not in it, because a host
/// call restores the gate word as it was before it (and a nested export may queue a task or
/// arm a timer meanwhile).
#[repr(C)]
pub(crate) struct State {
    /// Never read: it puts the marks right before the gate's flag byte.
    _lead: u8,
    /// 1 while the executor's ready queue holds a task, else 0 (the executor keeps it).
    queued: Cell<u8>,
    /// 1 while a timer is armed, else 0 (the timer table keeps it).
    timers: Cell<u8>,
    /// Always zero: the third byte of the four [`idle_from_host`] reads.
    _zero: u8,
    /// Flag bits and the export depth; see the constants above. Its low byte, the flags,
    /// comes first in memory (wasm is little-endian).
    gate: Cell<u32>,
    pub(crate) poison: Cell<Poison>,
    /// The innermost export running, for trap and panic messages.
    export: Cell<&'static str>,
}

const _: () = assert!(
    std::mem::offset_of!(State, queued) == 1
        && std::mem::offset_of!(State, timers) == 2
        && std::mem::offset_of!(State, _zero) == 3
        && std::mem::offset_of!(State, gate) == 4
);

thread_local! {
    pub(crate) static STATE: State = const {
        State {
            _lead: 0,
            queued: Cell::new(0),
            timers: Cell::new(0),
            _zero: 0,
            gate: Cell::new(NOT_INITIALIZED),
            poison: Cell::new(Poison::None),
            export: Cell::new(""),
        }
    };
}

/// The name of the innermost export running, or `""` outside any export.
#[inline]
pub(crate) fn current_export() -> &'static str {
    STATE.with(|s| s.export.get())
}

/// How many exports (and a command's main) are on the stack.
#[inline(always)]
pub(crate) fn depth() -> usize {
    STATE.with(|s| (s.gate.get() / DEPTH_ONE) as usize)
}

/// Marks whether the executor's ready queue holds a task.
#[inline(always)]
pub(crate) fn set_queued(queued: bool) {
    STATE.with(|s| s.queued.set(u8::from(queued)))
}

/// Marks whether a timer is armed.
#[inline(always)]
pub(crate) fn set_timers(armed: bool) {
    STATE.with(|s| s.timers.set(u8::from(armed)))
}

/// True if a drive called by the host has nothing to do and may return at once without
/// entering: no flag keeps exports out (as for any export, at any depth: from a host import
/// too), no task is queued and no timer is armed. On wasm32 that is one 4-byte load, of the
/// marks, the zero byte and the gate's flag byte, and a test for zero.
#[inline(always)]
pub(crate) fn idle_from_host() -> bool {
    STATE.with(|s| {
        #[cfg(target_family = "wasm")]
        {
            // SAFETY: `State` is `repr(C)`: bytes 1 to 4 are `queued`, `timers`, `_zero` and
            // the low byte of `gate` (little-endian), all initialized integers. The `Cell`s
            // are read through a pointer from a shared reference, as `Cell::get` reads them,
            // and nothing writes them during the read (one thread).
            let word =
                unsafe { std::ptr::from_ref(s).cast::<u8>().add(1).cast::<u32>().read_unaligned() };
            word == 0
        }
        #[cfg(not(target_family = "wasm"))]
        {
            s.gate.get() & FLAGS == 0 && s.queued.get() == 0 && s.timers.get() == 0
        }
    })
}

/// Begins the initialization that `entry` (`_initialize` or `_start`) runs: true if it is to
/// run now, false if it has finished already. Traps if an earlier one did not finish, or if this
/// call came from inside it (a host import that an init hook called).
pub(crate) fn begin_init(entry: &'static str) -> bool {
    STATE.with(|s| {
        let gate = s.gate.get();
        if gate & INITIALIZING != 0 {
            init_unfinished(gate, entry);
        }
        if gate & NOT_INITIALIZED == 0 {
            return false;
        }
        s.gate.set(settle(gate | INITIALIZING | IN_GUEST));
        s.export.set(entry);
        true
    })
}

/// The initialization has run to its end: exports may run from now on.
pub(crate) fn finish_init() {
    STATE.with(|s| {
        s.gate.set(settle(s.gate.get() & !(NOT_INITIALIZED | INITIALIZING | IN_GUEST)));
        s.export.set("");
    })
}

/// `name` was called while the initialization had begun and not finished.
#[cold]
#[inline(never)]
fn init_unfinished(gate: u32, name: &str) -> ! {
    let entry = if cfg!(feature = "command") { "_start" } else { "_initialize" };
    if gate & IN_GUEST != 0 {
        trap(format_args!(
            "initialization failed: {entry} did not finish (a trap or a panic cut it short), \
             so \"{name}\" cannot run; create a new instance"
        ))
    }
    trap(format_args!(
        "\"{name}\" called while {entry} runs (from a host import that initialization code \
         called): exports run only once initialization has finished"
    ))
}

/// A command's main has returned: later export calls trap.
pub(crate) fn mark_exited() {
    STATE.with(|s| s.gate.set(settle(s.gate.get() | EXITED)));
}

/// A panic reached the top: later calls trap.
pub(crate) fn poison_by_panic() {
    poison(Poison::Panic);
}

/// Poisons the instance for `why`, unless it is poisoned already (the first cause is the one
/// later calls report).
fn poison(why: Poison) {
    STATE.with(|s| {
        if s.gate.get() & POISONED == 0 {
            s.poison.set(why);
            s.gate.set(settle(s.gate.get() | POISONED));
        }
    })
}

/// The deadlock trap: the call's task waits, nothing is ready and no timer is armed. Poisons
/// the instance (the executor's queue and the call's frames are left as they are) and traps.
#[cold]
#[inline(never)]
pub(crate) fn deadlock(export: &'static str) -> ! {
    poison(Poison::Deadlock(export));
    trap(format_args!(
        "all tasks are asleep - deadlock! export \"{export}\" is waiting for something that no \
         task or timer can deliver"
    ))
}

/// The deadlock trap of a pending export's call that nothing can ever wake: every waker of its
/// task is gone. Poisons the instance and traps.
#[cold]
#[inline(never)]
pub(crate) fn pending_deadlock(export: &'static str) -> ! {
    poison(Poison::Deadlock(export));
    trap(format_args!(
        "all tasks are asleep - deadlock! pending export \"{export}\" is waiting for something \
         that nothing can ever deliver (no waker of its task is left: no timer, host operation, \
         task or channel can wake it)"
    ))
}

/// Traps from inside a call for a misuse this crate caught, poisoning the instance first.
#[cold]
#[inline(never)]
pub(crate) fn trap_poisoning(msg: fmt::Arguments<'_>) -> ! {
    poison(Poison::Trap(current_export()));
    trap(msg)
}

/// An export on the stack; leaving restores the outer export's name.
#[derive(Debug)]
pub(crate) struct Entered {
    outer: &'static str,
}

#[inline(always)]
pub(crate) fn enter(name: &'static str) -> Entered {
    STATE.with(|s| {
        let gate = s.gate.get();
        if gate & READY_BYTE == 0 {
            refuse(s, name);
        }
        // SAFETY: the ready byte is 1 exactly when no flag is set (see `READY`). Told so, LLVM
        // sees that leaving (below) restores the gate it read here, and drops both updates
        // around a body that cannot observe them.
        unsafe { std::hint::assert_unchecked(gate & (FLAGS | READY_BYTE) == READY) };
        s.gate.set(gate + DEPTH_ONE + IN_GUEST - READY);
        Entered { outer: s.export.replace(name) }
    })
}

impl Drop for Entered {
    #[inline(always)]
    fn drop(&mut self) {
        STATE.with(|s| {
            let gate = s.gate.get() - DEPTH_ONE - IN_GUEST;
            // Where panics abort, nothing that sets a flag inside a call returns (poisoning
            // traps), so the call leaves no flag behind and the sum restores the ready byte.
            // Where they unwind (the crate's host-side tests), a panic that poisoned the
            // instance passes here: the byte follows the flags.
            s.gate.set(if cfg!(panic = "unwind") { settle(gate) } else { gate + READY });
            s.export.set(self.outer);
        })
    }
}

/// Says why export `name` cannot run, and traps.
///
/// This may run right after a trap unwound a call, with `__stack_pointer` left anywhere (below
/// the start of memory after the shadow stack ran out): it uses no stack (every message is
/// static pieces and names, written by [`trap_static`]), and the shims call it before anything
/// else of theirs.
#[cold]
#[inline(never)]
fn refuse(s: &State, name: &'static str) -> ! {
    let gate = s.gate.get();
    if gate & INITIALIZING != 0 {
        init_unfinished(gate, name);
    }
    if gate & POISONED == 0 && gate & IN_GUEST != 0 {
        // `poison`'s work, written out: through its own access to the state, this fn gets a
        // stack frame and an out-of-line call (checked with wasm-objdump).
        s.poison.set(Poison::Aborted);
        s.gate.set(settle(gate | POISONED));
        trap_static(
            "module poisoned: an earlier call did not return (it trapped); export \"",
            name,
            "\" cannot run; create a new instance (if this call came from inside a host import, \
             declare that import with #[wasmimport]: only then is re-entering allowed)",
            "",
            "",
        )
    }
    const CANNOT_RUN: &str = "\" cannot run; create a new instance";
    match s.poison.get() {
        Poison::Panic => {
            trap_static("module poisoned by an earlier panic: export \"", name, CANNOT_RUN, "", "")
        }
        Poison::Deadlock(by) => trap_static(
            "module poisoned by a deadlock in export \"",
            by,
            "\": export \"",
            name,
            CANNOT_RUN,
        ),
        Poison::Trap(by) => trap_static(
            "module poisoned by an earlier trap in export \"",
            by,
            "\": export \"",
            name,
            CANNOT_RUN,
        ),
        Poison::Aborted => trap_static(
            "module poisoned: an earlier call did not return (it trapped); export \"",
            name,
            CANNOT_RUN,
            "",
            "",
        ),
        Poison::None => {}
    }
    if gate & EXITED != 0 {
        trap_static(
            "export \"",
            name,
            "\" called after the command's main returned: a command's exports run only while \
             _start runs (called from a host import); to call exports again and again, build a \
             reactor (crate-type = [\"cdylib\"], without the `command` feature)",
            "",
            "",
        )
    }
    let entry = if cfg!(feature = "command") { "_start" } else { "_initialize" };
    trap_static(
        "export \"",
        name,
        "\" called before runtime initialization: call ",
        entry,
        " first",
    )
}

/// A `#[wasmimport]` host call in flight: an export entered while it lasts is a re-entrant
/// call, allowed. [`HostCall::enter`] marks it before the host function is called,
/// [`HostCall::leave`] ends it right after.
#[derive(Debug)]
pub struct HostCall {
    /// The gate word, in the thread-local state (one per instance on wasm32-wasip1).
    gate: *mut u32,
    /// The gate as it was before the call.
    before: u32,
    /// The gate as the call set it.
    during: u32,
}

impl HostCall {
    /// Marks the start of a host call.
    ///
    /// # Safety
    ///
    /// The caller calls [`leave`](Self::leave) on the value returned, right after the host
    /// function returns, and runs nothing else in between: no guest code, no destructor, no
    /// other call. Between the two, the gate says that no guest code runs, which is what lets
    /// the host call an export; entry checks rely on it (the ready byte, and the poisoning of
    /// an instance whose call was unwound by a trap), so guest code running in that window
    /// would let an export run on top of it. Marks are left in the order they were made.
    #[inline(always)]
    pub unsafe fn enter() -> HostCall {
        STATE.with(|s| {
            let before = s.gate.get();
            let gate = s.gate.as_ptr();
            let during = settle(before & !IN_GUEST);
            s.gate.set(during);
            HostCall { gate, before, during }
        })
    }

    /// Marks the end of the host call; to be called right after the host function returns.
    ///
    /// Raw loads and stores, no call on the way (`#[inline(always)]` fns are inlined in debug
    /// builds too): a debug build makes every other helper a real call, and an engine may stop
    /// the module on entry to any call (wasmtime checks fuel and epochs there). A stop between
    /// the host function's return and the end of the mark would leave the instance looking
    /// like a host call still in flight, so that the next call would run on top of the
    /// unwound one instead of trapping.
    #[inline(always)]
    pub fn leave(self) {
        // SAFETY: `gate` points at the gate word of the thread-local state, which outlives
        // every call on this thread (wasm32-wasip1 has one), and no reference to it is live:
        // the state is only reached through `Cell`s.
        unsafe {
            // Every export the host made from inside this call has returned, unless one was
            // unwound by a trap that the host caught (a JS `catch` around it, say) before
            // returning here: then the executor may be mid-update, and nothing may run on.
            if *self.gate != self.during {
                aborted_inside_host_call();
            }
            *self.gate = self.before;
        }
    }
}

/// Like [`refuse`], this may run with the linear-memory stack unusable (the nested call that
/// was unwound may have been the one that exhausted it): it uses none.
#[cold]
#[inline(never)]
fn aborted_inside_host_call() -> ! {
    STATE.with(|s| {
        const CANNOT_GO_ON: &str =
            "the call that made the host call cannot go on; create a new instance";
        if s.gate.get() & POISONED != 0 {
            match s.poison.get() {
                Poison::Panic => {
                    trap_static("module poisoned by an earlier panic; ", CANNOT_GO_ON, "", "", "")
                }
                Poison::Deadlock(by) => trap_static(
                    "module poisoned by a deadlock in export \"",
                    by,
                    "\"; ",
                    CANNOT_GO_ON,
                    "",
                ),
                Poison::Trap(by) => trap_static(
                    "module poisoned by an earlier trap in export \"",
                    by,
                    "\"; ",
                    CANNOT_GO_ON,
                    "",
                ),
                Poison::Aborted | Poison::None => {}
            }
        }
        s.poison.set(Poison::Aborted);
        s.gate.set(settle(s.gate.get() | POISONED));
        // The name left behind is the export that was unwound.
        trap_static(
            "module poisoned: export \"",
            s.export.get(),
            "\", called from inside a host import, did not return (it trapped, and the host \
             went on); ",
            CANNOT_GO_ON,
            "",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{call_async, call_sync};

    /// The gate's ready byte is 1 exactly when no flag is set; returns whether it is set.
    fn ready() -> bool {
        STATE.with(|s| {
            let gate = s.gate.get();
            let ready = gate & READY_BYTE;
            assert!(ready == 0 || ready == READY, "ready byte {ready:#x}");
            assert_eq!(ready != 0, gate & FLAGS == 0, "gate {gate:#x}");
            ready != 0
        })
    }

    #[test]
    fn the_ready_byte_follows_the_flags_through_every_change() {
        std::thread::spawn(|| {
            assert!(!ready());
            assert!(begin_init("_initialize"));
            assert!(!ready());
            // SAFETY: left below, with only checks of the gate in between.
            let host = unsafe { HostCall::enter() };
            assert!(!ready(), "a host import made by initialization code");
            host.leave();
            finish_init();
            assert!(ready());
            call_sync("outer", || {
                assert!(!ready());
                // SAFETY: what a host function that calls exports does, then left.
                let host = unsafe { HostCall::enter() };
                assert!(ready(), "re-entry from a #[wasmimport] is allowed");
                call_sync("inner", || assert!(!ready()));
                call_async("inner_async", async { assert!(!ready()) });
                assert!(ready());
                host.leave();
                assert!(!ready());
            });
            assert!(ready());
            let unwound = std::panic::catch_unwind(|| {
                call_sync("panics", || {
                    poison_by_panic();
                    panic!("the export panics");
                })
            });
            assert!(unwound.is_err());
            assert!(!ready(), "a poisoned instance lets no export in");
            mark_exited();
            assert!(!ready());
        })
        .join()
        .unwrap();
    }
}
