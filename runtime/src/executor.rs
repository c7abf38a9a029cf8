//! The cooperative single-threaded executor.
//!
//! Spawned tasks are allocated and woken by `async-task`; the ready queue, the run loop, timers
//! and nesting are ours. The run loop runs only inside an export call: it polls ready tasks until
//! the call's own future completes, then returns to the host at once, leaving every other task
//! suspended until the next call (Go's semantics). An export entered from a host import starts a
//! nested run loop over the same queue, which ends when the nested call's future completes.
//!
//! An async export's own future is not a heap task: it lives pinned on the export's stack frame
//! and is woken through a waker that holds only the call's id. That saves an allocation and a
//! free per call, about a fifth of a background-task round trip. It cannot be an `async-task`
//! task because those must be `'static` and heap-allocated.
//!
//! The ready queue holds spawned tasks only. A call's wake is a mark on the call itself: the
//! queue position at the time of the wake (its *ticket*), so that the call is polled again once
//! every task that was ready before the wake has run, as if it had been queued behind them. So
//! nothing is ever queued for a call, nothing can be left behind when it returns, and a call is
//! polled at most once per wake. A waker that outlived its call finds no call with its id and
//! wakes nothing. An outer call woken while a nested call runs keeps its mark until its own loop
//! runs again.
//!
//! No user code (a future, or a waker's clone, wake or drop) runs while the executor holds a
//! borrow of its state: every borrow below is a push, a pop or a field update.

use crate::{task::JoinHandle, time};
use async_task::Runnable;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// Where a task was spawned, and by which export (for a task spawned by a task: the export
/// that spawned the first of them). Kept in the task's allocation, for panic messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origin {
    pub(crate) at: &'static Location<'static>,
    pub(crate) export: &'static str,
}

/// An async call on the stack.
struct Call {
    /// Unique among the calls on the stack.
    id: usize,
    /// Woken: the call is polled again once `Executor::taken` reaches this.
    ticket: Option<u64>,
}

/// `Executor::due_at` when the innermost call is not woken.
const NOT_WOKEN: u64 = u64::MAX;

struct Executor {
    ready: RefCell<VecDeque<Runnable<Origin>>>,
    /// How many tasks have been taken off `ready` so far: `taken + ready.len()` is the ticket
    /// of a wake now.
    taken: Cell<u64>,
    /// The async calls on the stack, outermost first.
    calls: RefCell<Vec<Call>>,
    /// The innermost call's ticket (or `NOT_WOKEN`), which its run loop reads after every task.
    due_at: Cell<u64>,
    /// The id of the last call entered.
    last_id: Cell<usize>,
    /// Spawned tasks alive (`task_count()` adds the exports on the stack).
    tasks: Cell<usize>,
    /// The origin of the task being polled by the innermost run loop, or null. It lives in the
    /// task's allocation, which outlives the poll.
    running: Cell<*const Origin>,
    /// The export whose run loop is the innermost.
    looping: Cell<&'static str>,
}

thread_local! {
    static EXECUTOR: Executor = const {
        Executor {
            ready: RefCell::new(VecDeque::new()),
            taken: Cell::new(0),
            calls: RefCell::new(Vec::new()),
            due_at: Cell::new(NOT_WOKEN),
            last_id: Cell::new(0),
            tasks: Cell::new(0),
            running: Cell::new(std::ptr::null()),
            looping: Cell::new(""),
        }
    };
}

/// How many ready tasks run between two looks at the clock while the queue stays busy, so
/// that timers fire even when tasks keep yielding.
const CLOCK_EVERY: u32 = 64;

fn schedule(runnable: Runnable<Origin>) {
    // `try_with`: on a host thread that is exiting, a task woken from a destructor is dropped.
    let _ = EXECUTOR.try_with(|e| e.ready.borrow_mut().push_back(runnable));
}

fn pop_ready() -> Option<Runnable<Origin>> {
    EXECUTOR.with(|e| {
        let task = e.ready.borrow_mut().pop_front()?;
        e.taken.set(e.taken.get() + 1);
        Some(task)
    })
}

/// Polls a task once, noting which task runs (for panic messages).
fn run(task: Runnable<Origin>) {
    EXECUTOR.with(|e| e.running.set(task.metadata()));
    task.run();
    EXECUTOR.with(|e| e.running.set(std::ptr::null()));
}

/// Wakes the async call with id `id`, if it is still on the stack.
fn wake_call(id: usize) {
    let _ = EXECUTOR.try_with(|e| {
        let ticket = e.taken.get() + e.ready.borrow().len() as u64;
        let mut calls = e.calls.borrow_mut();
        // From the innermost call, which most wakes are for; a stale id is not found.
        let innermost = calls.len();
        if let Some((at, call)) = calls.iter_mut().enumerate().rev().find(|(_, c)| c.id == id)
            && call.ticket.is_none()
        {
            call.ticket = Some(ticket);
            if at + 1 == innermost {
                e.due_at.set(ticket);
            }
        }
    });
}

/// The waker of an async call: its data is the call's id, not a pointer.
static CALL_WAKER: RawWakerVTable = RawWakerVTable::new(
    |data| RawWaker::new(data, &CALL_WAKER),
    |data| wake_call(data as usize),
    |data| wake_call(data as usize),
    |_| {},
);

fn call_waker(id: usize) -> Waker {
    // SAFETY: the vtable's functions never dereference `data` (it is an id, cast to a pointer
    // only to fit `RawWaker`), clone returns a waker with the same vtable, and nothing in them
    // is thread-bound beyond the thread-local they reach with `try_with`.
    unsafe { Waker::from_raw(RawWaker::new(id as *const (), &CALL_WAKER)) }
}

/// Counts a task alive from its creation until its future is dropped.
struct Alive(());

impl Alive {
    fn new() -> Alive {
        EXECUTOR.with(|e| e.tasks.set(e.tasks.get() + 1));
        Alive(())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        let _ = EXECUTOR.try_with(|e| e.tasks.set(e.tasks.get() - 1));
    }
}

/// Spawned tasks whose future has not been dropped yet (see [`crate::task_count`]).
pub(crate) fn spawned_alive() -> usize {
    EXECUTOR.with(|e| e.tasks.get())
}

/// Starts a background task; see [`crate::spawn`]. `at` is where, and `export` the innermost
/// export on the stack, which a task spawned by a task replaces by that task's own export.
pub(crate) fn spawn<F>(
    fut: F,
    at: &'static Location<'static>,
    export: &'static str,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let export = match running_task(export) {
        Some(parent) => parent.export,
        None => export,
    };
    let alive = Alive::new();
    let fut = async move {
        let _alive = alive;
        fut.await
    };
    let builder = async_task::Builder::new().metadata(Origin { at, export });
    // wasm32-wasip1 without the atomics feature has exactly one thread, so `spawn_local`'s
    // check that every poll and drop happens on the spawning thread (a thread-id lookup each
    // time, and 8 bytes per task) cannot fail there and is left out.
    #[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
    // SAFETY: `spawn_unchecked` requires a non-`Send` future, its output, its `Runnable` and
    // its wakers to stay on the spawning thread: this target has only one thread. The future
    // is `'static` and `schedule` is a `'static` fn.
    let (runnable, task) = unsafe { builder.spawn_unchecked(move |_| fut, schedule) };
    #[cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
    let (runnable, task) = builder.spawn_local(move |_| fut, schedule);
    // Like `go f()`: it runs when the executor next runs, not now.
    runnable.schedule();
    JoinHandle::new(task)
}

/// The origin of the task being polled, if that task is the innermost guest code running: the
/// innermost export on the stack is `export`, and it is the export whose loop polls the task
/// (a plain `fn` export the task called through a host import is innermost otherwise; an async
/// one runs a loop of its own).
fn running_task(export: &'static str) -> Option<Origin> {
    EXECUTOR
        .try_with(|e| {
            let running = e.running.get();
            // SAFETY: a non-null `running` points into the allocation of the task being
            // polled, which lives until `run` resets it.
            let origin = unsafe { running.as_ref() }.copied()?;
            std::ptr::eq(e.looping.get(), export).then_some(origin)
        })
        .ok()
        .flatten()
}

/// Where a panic happened, for the panic hook's line: `in a task spawned at FILE:LINE:COL by
/// export "NAME"`, `in export "NAME"` or `outside any export`, given the innermost export.
pub(crate) fn panic_place(export: &'static str) -> impl fmt::Display {
    struct Place(&'static str, Option<Origin>);
    impl fmt::Display for Place {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match (self.1, self.0) {
                (Some(Origin { at, export }), _) => {
                    let (line, column) = (at.line(), at.column());
                    write!(f, "in a task spawned at {}:{line}:{column} ", at.file())?;
                    match export {
                        "" => f.write_str("outside any export"),
                        name => write!(f, "by export \"{name}\""),
                    }
                }
                (None, "") => f.write_str("outside any export"),
                (None, name) => write!(f, "in export \"{name}\""),
            }
        }
    }
    Place(export, running_task(export))
}

/// An async call on the stack; leaving (also by unwinding, in host-side tests) forgets it and
/// every call above it.
struct OnStack {
    id: usize,
    /// Where it is in `Executor::calls`.
    index: usize,
    /// The task that was running when the call was entered (a task that called the host, which
    /// called this export) and the export whose loop ran it: set aside until the call returns.
    outer_task: *const Origin,
    outer_loop: &'static str,
}

impl OnStack {
    fn enter(export: &'static str) -> OnStack {
        EXECUTOR.with(|e| {
            let mut calls = e.calls.borrow_mut();
            let mut id = e.last_id.get().wrapping_add(1);
            // Ids grow, so a new one is unique on the stack, unless they wrapped around (after
            // 2^32 calls on wasm32) while an older call is still on it: then skip those in use.
            // A waker kept across 2^32 calls may then poll a call once more: allowed, if odd.
            if calls.last().is_some_and(|c| c.id >= id) {
                while calls.iter().any(|c| c.id == id) {
                    id = id.wrapping_add(1);
                }
            }
            e.last_id.set(id);
            calls.push(Call { id, ticket: None });
            e.due_at.set(NOT_WOKEN);
            OnStack {
                id,
                index: calls.len() - 1,
                outer_task: e.running.replace(std::ptr::null()),
                outer_loop: e.looping.replace(export),
            }
        })
    }

    /// True if the call was woken and every task ready before the wake has run since. Only
    /// the innermost call's loop runs, so the call is the innermost.
    #[inline]
    fn due(&self) -> bool {
        EXECUTOR.with(|e| e.taken.get() >= e.due_at.get())
    }

    /// True if the call was woken (by itself, if asked right after its poll).
    #[inline]
    fn woken(&self) -> bool {
        EXECUTOR.with(|e| e.due_at.get() != NOT_WOKEN)
    }

    /// Takes the call's wake, to poll it now.
    #[inline]
    fn take_wake(&self) {
        EXECUTOR.with(|e| {
            if let Some(call) = e.calls.borrow_mut().last_mut() {
                call.ticket = None;
            }
            e.due_at.set(NOT_WOKEN);
        })
    }

    /// Puts a woken call behind every task ready now (timers' tasks just woken, say).
    fn behind_ready_tasks(&self) {
        EXECUTOR.with(|e| {
            let end = e.taken.get() + e.ready.borrow().len() as u64;
            if let Some(Call { ticket: Some(t), .. }) = e.calls.borrow_mut().last_mut() {
                *t = end;
                e.due_at.set(end);
            }
        })
    }
}

impl Drop for OnStack {
    fn drop(&mut self) {
        let _ = EXECUTOR.try_with(|e| {
            let mut calls = e.calls.borrow_mut();
            calls.truncate(self.index);
            e.due_at.set(calls.last().and_then(|c| c.ticket).unwrap_or(NOT_WOKEN));
            e.running.set(self.outer_task);
            e.looping.set(self.outer_loop);
        });
    }
}

/// Runs an async export's future until it completes: other ready tasks run while it waits.
///
/// Inlined into the export's own fn that builds the future, so that the future is built where
/// it stays pinned: not inlined, it is built there and then moved into this fn's frame, two
/// copies of it on the shadow stack for each async call on the stack.
#[inline(always)]
pub(crate) fn block_on<F: Future>(export: &'static str, fut: F) -> F::Output {
    let call = OnStack::enter(export);
    let waker = call_waker(call.id);
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
        return out;
    }
    // The call waits: like Go's scheduler when a goroutine blocks, look at the clock, so that
    // timers due since the last call run before anything that was ready before them.
    if time::fire_expired() {
        call.behind_ready_tasks();
    }
    // Whether the clock was looked at since the call was last polled, or need not be: only a
    // call that woke itself can spin without a task running in between (tasks see the clock
    // every `CLOCK_EVERY`).
    let mut clock_seen = true;
    let mut since_clock = 0;
    loop {
        if call.due() {
            // Before the call goes on (after a `yield_now`, say), tasks of timers that are due
            // run first (Go's `Gosched` checks timers): else a call that keeps yielding would
            // never let the clock be read. Once per wake, so the call cannot be starved.
            if !clock_seen {
                clock_seen = true;
                if time::fire_expired() {
                    call.behind_ready_tasks();
                    continue;
                }
            }
            call.take_wake();
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
            clock_seen = !call.woken();
            continue;
        }
        match pop_ready() {
            Some(task) => {
                run(task);
                since_clock += 1;
                if since_clock == CLOCK_EVERY {
                    since_clock = 0;
                    time::fire_expired();
                }
            }
            // Nothing is ready, and the call is not woken (else it is due now): unless a timer
            // is due, wait for one, or nothing can come.
            None => {
                since_clock = 0;
                clock_seen = true;
                if !time::fire_expired() {
                    match time::next_deadline() {
                        // Nothing is ready but a timer is armed: block in poll_oneoff until
                        // it is due.
                        Some(deadline) => time::block_until(deadline),
                        // Nothing is ready and no timer can ever wake anything: deadlock.
                        None => crate::call::deadlock(export),
                    }
                }
            }
        }
    }
}

/// Between calls, nothing may be left for a call.
#[cfg(test)]
fn check_idle() {
    EXECUTOR.with(|e| {
        assert!(e.calls.borrow().is_empty(), "a call outlived its return");
        assert!(e.running.get().is_null(), "a task is marked running between calls");
    });
}

#[cfg(test)]
mod model;

#[cfg(test)]
mod tests;
