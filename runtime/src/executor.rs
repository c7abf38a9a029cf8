//! The cooperative single-threaded executor (SPEC E1-E7).
//!
//! Spawned tasks are allocated and woken by `async-task`; the ready queue, the run loop, timers
//! and nesting are ours. The run loop runs only inside an export call: it polls ready tasks until
//! the call's own future completes, then returns to the host at once, leaving every other task
//! suspended until the next call (Go's semantics). An export entered from a host import starts a
//! nested run loop over the same queue, which ends when the nested call's future completes.
//!
//! An async export's own future is not a heap task: it lives pinned on the export's stack frame
//! and is woken through a waker that holds only its nesting level (see [`CallWake`]). That saves
//! an allocation and a free per call, about a fifth of a background-task round trip. It cannot
//! be an `async-task` task because those must be `'static` and heap-allocated.

use crate::{task::JoinHandle, time};
use async_task::Runnable;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// What the ready queue holds: a spawned task, or the future of the async call at a nesting
/// level.
enum Ready {
    Task(Runnable),
    Call(usize),
}

/// Where the future of the async call at one nesting level stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CallWake {
    /// Being polled, or waiting for a wake.
    Idle,
    /// Woken: a `Ready::Call` for it is in the queue.
    Queued,
    /// Woken, and its queue entry was taken by a nested run loop, which cannot poll it: the
    /// call's own loop polls it once the nested call has returned.
    Deferred,
}

struct Executor {
    ready: RefCell<VecDeque<Ready>>,
    /// The async calls on the stack, outermost first.
    calls: RefCell<Vec<CallWake>>,
    /// How many of `calls` are `Deferred` (rare: only after nesting), so that the run loop
    /// checks for them with one load.
    deferred: Cell<usize>,
    /// Spawned tasks alive (`task_count()` adds the exports on the stack).
    tasks: Cell<usize>,
}

thread_local! {
    static EXECUTOR: Executor = const {
        Executor {
            ready: RefCell::new(VecDeque::new()),
            calls: RefCell::new(Vec::new()),
            deferred: Cell::new(0),
            tasks: Cell::new(0),
        }
    };
}

/// How many ready tasks run between two looks at the clock while the queue stays busy, so
/// that timers fire even when tasks keep yielding.
const CLOCK_EVERY: u32 = 64;

fn schedule(runnable: Runnable) {
    // `try_with`: on a host thread that is exiting, a task woken from a destructor is dropped.
    let _ = EXECUTOR.try_with(|e| e.ready.borrow_mut().push_back(Ready::Task(runnable)));
}

fn pop_ready() -> Option<Ready> {
    EXECUTOR.with(|e| e.ready.borrow_mut().pop_front())
}

/// Wakes the async call at nesting level `level`; a waker that outlived its call wakes nothing,
/// or (if another call now runs at that level) causes one spurious poll, which futures allow.
fn wake_call(level: usize) {
    let _ = EXECUTOR.try_with(|e| {
        let mut calls = e.calls.borrow_mut();
        if let Some(state @ CallWake::Idle) = calls.get_mut(level) {
            *state = CallWake::Queued;
            drop(calls);
            e.ready.borrow_mut().push_back(Ready::Call(level));
        }
    });
}

/// The waker of the async call at a nesting level: its data is the level, not a pointer.
static CALL_WAKER: RawWakerVTable = RawWakerVTable::new(
    |data| RawWaker::new(data, &CALL_WAKER),
    |data| wake_call(data as usize),
    |data| wake_call(data as usize),
    |_| {},
);

fn call_waker(level: usize) -> Waker {
    // SAFETY: the vtable's functions never dereference `data` (it is a level number, cast to a
    // pointer only to fit `RawWaker`), clone returns a waker with the same vtable, and nothing
    // in them is thread-bound beyond the thread-local they reach with `try_with`.
    unsafe { Waker::from_raw(RawWaker::new(level as *const (), &CALL_WAKER)) }
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

/// The number of tasks alive; see [`crate::task_count`]. Every export on the stack is one
/// (its task lives exactly as long as the call), so exports are counted by their depth and
/// not here: a plain `fn` export then costs no counting at all.
pub(crate) fn task_count() -> usize {
    EXECUTOR.with(|e| e.tasks.get()) + crate::call::depth()
}

/// Starts a background task; see [`crate::spawn`].
pub(crate) fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let alive = Alive::new();
    let fut = async move {
        let _alive = alive;
        fut.await
    };
    // wasm32-wasip1 without the atomics feature has exactly one thread, so `spawn_local`'s
    // check that every poll and drop happens on the spawning thread (a thread-id lookup each
    // time, and 8 bytes per task) cannot fail there and is left out.
    #[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
    // SAFETY: `spawn_unchecked` requires a non-`Send` future, its output, its `Runnable` and
    // its wakers to stay on the spawning thread: this target has only one thread. The future
    // is `'static` and `schedule` is a `'static` fn.
    let (runnable, task) = unsafe { async_task::spawn_unchecked(fut, schedule) };
    #[cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
    let (runnable, task) = async_task::spawn_local(fut, schedule);
    // Like `go f()`: it runs when the executor next runs, not now.
    runnable.schedule();
    JoinHandle::new(task)
}

/// An async call's nesting level; leaving (also by unwinding, in host-side tests) forgets it
/// and every level above it.
struct Level(usize);

impl Level {
    fn enter() -> Level {
        EXECUTOR.with(|e| {
            let mut calls = e.calls.borrow_mut();
            calls.push(CallWake::Idle);
            Level(calls.len() - 1)
        })
    }

    /// Takes a wake that a nested run loop deferred to this level.
    #[inline]
    fn take_deferred(&self) -> bool {
        EXECUTOR.with(|e| {
            if e.deferred.get() == 0 {
                return false;
            }
            let mut calls = e.calls.borrow_mut();
            let deferred = calls[self.0] == CallWake::Deferred;
            if deferred {
                calls[self.0] = CallWake::Idle;
                e.deferred.set(e.deferred.get() - 1);
            }
            deferred
        })
    }

    /// Handles a call's queue entry: true if it is this level's, to be polled now.
    fn claim(&self, level: usize) -> bool {
        EXECUTOR.with(|e| {
            let mut calls = e.calls.borrow_mut();
            match calls.get_mut(level) {
                // A stale entry (the call was polled since) causes a spurious poll.
                Some(state) if level == self.0 => {
                    *state = CallWake::Idle;
                    true
                }
                // An outer call, which only its own loop can poll.
                Some(state) => {
                    if *state == CallWake::Queued {
                        *state = CallWake::Deferred;
                        e.deferred.set(e.deferred.get() + 1);
                    }
                    false
                }
                // A call that has returned.
                None => false,
            }
        })
    }
}

impl Drop for Level {
    fn drop(&mut self) {
        let _ = EXECUTOR.try_with(|e| {
            let mut calls = e.calls.borrow_mut();
            if e.deferred.get() != 0 {
                let gone = calls[self.0..].iter().filter(|&&c| c == CallWake::Deferred).count();
                e.deferred.set(e.deferred.get() - gone);
            }
            calls.truncate(self.0);
        });
    }
}

/// Runs an async export's future until it completes (E1, E3-E7).
///
/// Inlined into the export's own fn that builds the future, so that the future is built where
/// it stays pinned: not inlined, it is built there and then moved into this fn's frame, two
/// copies of it on the shadow stack for each async call on the stack.
#[inline(always)]
pub(crate) fn block_on<F: Future>(export: &'static str, fut: F) -> F::Output {
    let level = Level::enter();
    let waker = call_waker(level.0);
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
        return out;
    }
    // The call waits: like Go's scheduler when a goroutine blocks, look at the clock once so
    // that timers due since the last call queue their tasks before anything else runs.
    time::fire_expired();
    let mut since_clock = 0;
    loop {
        let mut poll_call = match pop_ready() {
            Some(Ready::Task(task)) => {
                task.run();
                since_clock += 1;
                if since_clock == CLOCK_EVERY {
                    since_clock = 0;
                    time::fire_expired();
                }
                false
            }
            Some(Ready::Call(l)) => level.claim(l),
            None => {
                since_clock = 0;
                // A call nested inside what ran last may have taken this call's wake: then
                // poll it. Else, unless a timer is due, wait for one, or nothing can come.
                let deferred = level.take_deferred();
                if !deferred && !time::fire_expired() {
                    match time::next_deadline() {
                        // E5: nothing is ready but a timer is armed: block in poll_oneoff until
                        // it is due.
                        Some(deadline) => time::block_until(deadline),
                        // E6.
                        None => crate::call::deadlock(export),
                    }
                }
                deferred
            }
        };
        // A call nested inside the task that just ran may have taken this call's wake.
        poll_call |= level.take_deferred();
        if poll_call && let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
