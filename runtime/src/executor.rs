//! The cooperative single-threaded executor (SPEC E1-E7).
//!
//! Tasks are allocated and woken by `async-task`; the ready queue, the run loop, timers and
//! nesting are ours. The run loop runs only inside an export call: it polls ready tasks until the
//! call's own task completes, then returns to the host at once, leaving every other task
//! suspended until the next call (Go's semantics). An export entered from a host import starts
//! a nested run loop over the same queue, which ends when the nested call's task completes.

use crate::{task::JoinHandle, time, trap::trap};
use async_task::Runnable;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

struct Executor {
    ready: RefCell<VecDeque<Runnable>>,
    /// Tasks alive: spawned, async calls, and plain calls running (`task_count()`).
    tasks: Cell<usize>,
}

thread_local! {
    static EXECUTOR: Executor = const {
        Executor { ready: RefCell::new(VecDeque::new()), tasks: Cell::new(0) }
    };
}

/// How many ready tasks run between two looks at the clock while the queue stays busy, so
/// that timers fire even when tasks keep yielding.
const CLOCK_EVERY: u32 = 64;

fn schedule(runnable: Runnable) {
    // `try_with`: on a host thread that is exiting, a task woken from a destructor is dropped.
    let _ = EXECUTOR.try_with(|e| e.ready.borrow_mut().push_back(runnable));
}

fn pop_ready() -> Option<Runnable> {
    EXECUTOR.with(|e| e.ready.borrow_mut().pop_front())
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

/// A plain `fn` export's task: it completes in its first poll, so it runs in place and is only
/// counted (no allocation, no queue).
pub(crate) struct InlineTask(#[allow(dead_code)] Alive);

impl InlineTask {
    #[inline(always)]
    pub(crate) fn start() -> InlineTask {
        InlineTask(Alive::new())
    }
}

/// The number of tasks alive; see [`crate::task_count`].
pub(crate) fn task_count() -> usize {
    EXECUTOR.with(|e| e.tasks.get())
}

/// Starts a background task; see [`crate::spawn`].
pub(crate) fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let alive = Alive::new();
    let (runnable, task) = async_task::spawn_local(
        async move {
            let _alive = alive;
            fut.await
        },
        schedule,
    );
    // Like `go f()`: it runs when the executor next runs, not now.
    runnable.schedule();
    JoinHandle::new(task)
}

/// Runs an async export's future as a task until it completes (E1, E3-E7).
pub(crate) fn block_on<F>(export: &'static str, fut: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    let alive = Alive::new();
    let (runnable, mut task) = async_task::spawn_local(
        async move {
            let _alive = alive;
            fut.await
        },
        schedule,
    );
    runnable.run();
    if !task.is_finished() {
        // The call waits: like Go's scheduler when a goroutine blocks, look at the clock once
        // so that timers due since the last call queue their tasks before anything else runs.
        time::fire_expired();
    }
    let mut since_clock = 0;
    loop {
        if task.is_finished() {
            return match Pin::new(&mut task).poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(out) => out,
                Poll::Pending => {
                    trap(format_args!("export \"{export}\": finished task has no output"))
                }
            };
        }
        if let Some(next) = pop_ready() {
            next.run();
            since_clock += 1;
            if since_clock == CLOCK_EVERY {
                since_clock = 0;
                time::fire_expired();
            }
            continue;
        }
        since_clock = 0;
        if time::fire_expired() {
            continue;
        }
        match time::next_deadline() {
            // E5: nothing is ready but a timer is armed: block in poll_oneoff until it is due.
            Some(deadline) => time::block_until(deadline),
            // E6.
            None => trap(format_args!(
                "all tasks are asleep - deadlock! export \"{export}\" is waiting for something \
                 that no task or timer can deliver"
            )),
        }
    }
}
