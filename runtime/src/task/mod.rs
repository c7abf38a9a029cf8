//! Background tasks: their allocation, state, references and wakers, and handles to them.
//!
//! This module knows nothing of the executor. What a task needs from whoever runs it comes in
//! through [`Schedule`], a trait the executor implements: where a woken task goes, what happens
//! when a future is dropped, and the executor's fast paths for its own wakers. The module runs
//! on one thread (wasm32-wasip1 without threads), so the state is plain `Cell`s. A `Waker` may
//! still be sent to another thread by type: on targets with threads (the crate's own host-side
//! tests) every waker operation checks that it runs on the task's thread and aborts the process
//! otherwise, before it touches anything. A task is not the general-purpose `async-task` crate
//! because that allocates through the global allocator, which a library cannot choose, and
//! keeps atomic state for threads the module does not have.
//!
//! # Fields of a task
//!
//! A task is one allocation from [the pool](crate::pool): a `Task<F, S>`, which is a [`Header`]
//! followed by the *stage*, a union of the future and its output.
//!
//! * `state`: the bits below.
//! * `refs`: how many references to the task exist (see *References*).
//! * `next`: the link of the scheduler's intrusive lists (its ready queue), used only by the
//!   holder of the task's [`Notified`].
//! * `awaiter`: the waker of whoever awaits the [`JoinHandle`], to wake when the task completes.
//! * `vtable`: the operations that depend on `F` and `S`, and where the output is stored.
//! * `origin`: where the task was spawned and by which export, for panic messages.
//!
//! # State
//!
//! * `SCHEDULED`: the task is queued, or will be as its poll ends. At most one queue entry.
//! * `RUNNING`: being polled. A wake then only sets `SCHEDULED`, and the poll's end queues the
//!   task (through [`Schedule::yielded`]); queued during the poll, a nested run loop (an export
//!   the task called through the host) would poll it again from inside its own poll.
//! * `DONE`: the future is gone: it completed, it unwound, or the task was dropped unfinished.
//!   Nothing polls a done task again.
//! * `HANDLE`: the handle is alive and has not taken the output.
//! * `OUTPUT`: the stage holds the output, for the handle to take.
//! * `CALL`: the task is a pending export's call: dropped unfinished, it is a deadlock
//!   ([`Schedule::abandoned`]).
//!
//! The rules that tie them:
//!
//! * Not `DONE`: the stage holds the future, pinned. `DONE` without `OUTPUT`: it holds nothing.
//!   `OUTPUT` implies `DONE` and `HANDLE` (an output is stored only while a handle can take it;
//!   the handle takes it or drops it, clearing both).
//! * `SCHEDULED` without `RUNNING`: a [`Notified`] for the task exists (in the queue), holding
//!   a reference. `SCHEDULED` with `RUNNING`: the poll's end turns it into a `Notified`.
//! * `RUNNING | DONE` can remain after a poll that unwound (only where panics unwind: the crate's
//!   host-side tests); nothing looks at `RUNNING` once `DONE` is set.
//! * `DONE` is set once and never cleared; `SCHEDULED` is cleared only as a poll starts.
//!
//! # References
//!
//! The queue holds one while the task is queued (its [`Notified`]), the handle one while it is
//! alive, each waker one. The last one to go drops what is left (the future of a task nobody
//! can wake any more, or an output nobody took) and frees the allocation. An output is stored
//! only while the handle is alive.

mod join;
mod waker;

pub use join::{JoinHandle, YieldNow};

use crate::pool;
use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll, Waker};

/// Queued, or to be queued; see the module docs for this and the other bits.
const SCHEDULED: u8 = 1;
/// The future is gone.
const DONE: u8 = 2;
/// The handle is alive and has not taken the output.
const HANDLE: u8 = 4;
/// Being polled.
const RUNNING: u8 = 8;
/// The output is stored, for the handle to take.
const OUTPUT: u8 = 16;
/// A pending export's call.
const CALL: u8 = 32;

/// What a task needs from the scheduler that runs it.
pub trait Schedule: 'static {
    /// Queues a task that was woken.
    fn schedule(task: Notified);
    /// Queues a task that was woken while it was polled (it yielded), as its poll ends.
    fn yielded(task: Notified);
    /// A task's future was dropped: it completed, unwound, or was dropped unfinished.
    fn future_dropped();
    /// A pending export's call is being dropped unfinished because nothing references it any
    /// more: no waker is left that could wake it. If this returns, the task is dropped.
    fn abandoned(origin: &Origin);
    /// Wakes `waker`, the awaiter of a task that completed.
    #[inline(always)]
    fn wake(waker: Waker) {
        waker.wake()
    }
    /// A clone of `waker`, to be the awaiter of a task.
    #[inline(always)]
    fn clone_waker(waker: &Waker) -> Waker {
        waker.clone()
    }
}

/// Where a task was spawned, and by which export (for a task spawned by a task: the export
/// that spawned the first of them). Kept in the task's allocation, for panic messages.
#[derive(Clone, Copy, Debug)]
pub struct Origin {
    pub(crate) at: &'static Location<'static>,
    pub(crate) export: &'static str,
}

/// The start of every task's allocation; see the module docs.
pub struct Header {
    state: Cell<u8>,
    refs: Cell<usize>,
    next: Cell<*const Header>,
    awaiter: Cell<Option<Waker>>,
    vtable: &'static TaskVTable,
    origin: Origin,
    /// The thread the task belongs to, on targets that have more than one.
    #[cfg(not(wasmexport_one_thread))]
    thread: std::thread::ThreadId,
}

/// The operations that depend on the future's type and the scheduler, and where the output is.
struct TaskVTable {
    /// Polls the task once; see [`Notified::run`].
    run: unsafe fn(NonNull<Header>),
    /// Drops the future (if the task is not done) or the stored output (if there is one).
    drop_stage: unsafe fn(NonNull<Header>),
    /// Drops what the task holds and frees it (the size class known at compile time).
    destroy: unsafe fn(NonNull<Header>),
    /// Where the output is stored, in bytes from the header: the handle reads it from there
    /// itself, with no call.
    output_at: usize,
}

/// The future until it is gone, then (if it completed and a handle is alive) its output; the
/// state bits say which.
#[repr(C)]
union Stage<F: Future> {
    fut: ManuallyDrop<F>,
    out: ManuallyDrop<F::Output>,
}

#[repr(C)]
struct Task<F: Future, S> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
    _scheduler: PhantomData<fn() -> S>,
}

/// The scheduler's reference to a task it is to poll: made when the task is woken (or
/// spawned), consumed by [`run`](Self::run), and released if dropped unrun.
#[derive(Debug)]
pub struct Notified(NonNull<Header>);

impl Notified {
    /// Polls the task once, unless it is done, then gives its reference back to the scheduler
    /// (if it was woken during the poll) or drops it.
    #[inline(always)]
    pub(crate) fn run(self) {
        let h = self.into_raw();
        // SAFETY: the reference the `Notified` held is handed to `run`, which consumes it.
        unsafe { (h.as_ref().vtable.run)(h) }
    }

    /// Where the task was spawned; it lives as long as the task.
    #[inline(always)]
    pub(crate) fn origin(&self) -> *const Origin {
        // SAFETY: the reference keeps the task alive.
        unsafe { &raw const (*self.0.as_ptr()).origin }
    }

    /// The link of the scheduler's list that task `h` is on (null at the end).
    ///
    /// # Safety
    ///
    /// `h` came from [`into_raw`](Self::into_raw), and the reference it kept is still held (by
    /// the list), for as long as the link is used.
    #[inline(always)]
    pub(crate) unsafe fn next_of<'a>(h: NonNull<Header>) -> &'a Cell<*const Header> {
        // SAFETY: the caller's: the list's reference keeps the task alive.
        unsafe { &(*h.as_ptr()).next }
    }

    /// The task as a pointer, keeping the reference: for an intrusive list.
    #[inline(always)]
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).0
    }

    /// The `Notified` that [`into_raw`](Self::into_raw) gave up.
    ///
    /// # Safety
    ///
    /// `h` came from `into_raw`, and this is the only `from_raw` for it.
    #[inline(always)]
    pub(crate) unsafe fn from_raw(h: NonNull<Header>) -> Notified {
        Notified(h)
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // SAFETY: the `Notified`'s reference, dropped once.
        unsafe { release(self.0) }
    }
}

/// Allocates a task running `fut` scheduled by `S`, with the reference the scheduler is to
/// queue and the handle; `call` marks a pending export's call.
#[inline(always)]
pub(crate) fn spawn<F, S>(
    fut: F,
    origin: Origin,
    call: bool,
) -> (Notified, JoinHandle<F::Output, S>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let p = pool::allocate(Layout::new::<Task<F, S>>()).cast::<Task<F, S>>();
    let task = Task::<F, S> {
        header: Header {
            state: Cell::new(SCHEDULED | HANDLE | if call { CALL } else { 0 }),
            refs: Cell::new(2),
            next: Cell::new(ptr::null()),
            awaiter: Cell::new(None),
            vtable: &Task::<F, S>::VTABLE,
            origin,
            #[cfg(not(wasmexport_one_thread))]
            thread: std::thread::current().id(),
        },
        stage: UnsafeCell::new(Stage { fut: ManuallyDrop::new(fut) }),
        _scheduler: PhantomData,
    };
    // SAFETY: `p` is a fresh allocation with the task's layout.
    unsafe { p.write(task) };
    let h = p.cast::<Header>();
    // SAFETY: two references were made, one each; the task's output is an `F::Output`.
    unsafe { (Notified(h), JoinHandle::new(h)) }
}

impl<F: Future + 'static, S: Schedule> Task<F, S> {
    const VTABLE: TaskVTable = TaskVTable {
        run: Self::run,
        drop_stage: Self::drop_stage,
        destroy: Self::destroy,
        output_at: std::mem::offset_of!(Task<F, S>, stage),
    };

    /// # Safety (for this fn and those below)
    ///
    /// `h` is the header of a live `Task<F, S>` on this thread, and no reference into its
    /// stage is alive.
    unsafe fn stage(h: NonNull<Header>) -> *mut Stage<F> {
        // SAFETY: `Task` is `repr(C)` with the header first, so the header's address is the
        // task's; the stage is only reached through this raw pointer.
        unsafe { (*h.cast::<Task<F, S>>().as_ptr()).stage.get() }
    }

    /// See [`Notified::run`]; the caller hands over the queue's reference.
    unsafe fn run(h: NonNull<Header>) {
        // SAFETY: the queue's reference keeps it alive.
        let header = unsafe { h.as_ref() };
        let state = header.state.get();
        if state & DONE == 0 {
            header.state.set((state & !SCHEDULED) | RUNNING);
            // The reference is the queue's, lent to the poll: the waker is not dropped.
            // SAFETY: `h` is a live task scheduled by `S`.
            let waker = ManuallyDrop::new(unsafe { waker::waker::<S>(h) });
            let mut cx = Context::from_waker(&waker);
            // A poll that unwinds (only where panics unwind: the crate's host-side tests)
            // leaves the task done without an output, so its handle reports the panic.
            struct Unwinding<F: Future + 'static, S: Schedule>(
                NonNull<Header>,
                PhantomData<(F, S)>,
            );
            impl<F: Future + 'static, S: Schedule> Drop for Unwinding<F, S> {
                fn drop(&mut self) {
                    // SAFETY: the task is alive (the queue's reference is held until below).
                    // A task that completed before the unwind (an awaiter's wake panicked)
                    // keeps its output; one that did not loses its future (which marks it
                    // done only once it is gone: a handle dropped by the future's drop must
                    // not drop it a second time).
                    unsafe {
                        if self.0.as_ref().state.get() & DONE == 0 {
                            Task::<F, S>::drop_stage(self.0);
                        }
                        release(self.0);
                    }
                }
            }
            let unwinding = Unwinding::<F, S>(h, PhantomData);
            // SAFETY: the task is not done, so the stage holds its future, pinned there.
            let fut = unsafe { Pin::new_unchecked(&mut *(*Self::stage(h)).fut) };
            if let Poll::Ready(out) = fut.poll(&mut cx) {
                // SAFETY: the future completed; `h` is alive.
                unsafe { Self::complete(h, out) };
            }
            std::mem::forget(unwinding);
            let state = header.state.get();
            header.state.set(state & !RUNNING);
            if state & (SCHEDULED | DONE) == SCHEDULED {
                // Woken during its poll: queued now, with the queue's reference.
                S::yielded(Notified(h));
                return;
            }
        }
        // SAFETY: the queue's reference, given to the caller.
        unsafe { release(h) }
    }

    /// The future completed with `out`: drops it, stores `out` if a handle can take it, and
    /// wakes the handle's awaiter.
    unsafe fn complete(h: NonNull<Header>, out: F::Output) {
        // SAFETY: the future's drop may run user code, which cannot reach the stage (only
        // this task's handle can, and it only reads a done task's stage).
        unsafe { Self::drop_stage(h) };
        // SAFETY: `h` is alive.
        let header = unsafe { h.as_ref() };
        let state = header.state.get();
        if state & HANDLE != 0 {
            // SAFETY: the future is gone, so the stage holds nothing to drop.
            unsafe { (&raw mut (*Self::stage(h)).out).write(ManuallyDrop::new(out)) };
            header.state.set(state | OUTPUT);
        } else {
            drop(out);
        }
        if let Some(awaiter) = header.awaiter.take() {
            S::wake(awaiter);
        }
    }

    unsafe fn drop_stage(h: NonNull<Header>) {
        // SAFETY: see `stage`.
        let (header, stage) = unsafe { (h.as_ref(), Self::stage(h)) };
        let state = header.state.get();
        if state & DONE == 0 {
            // The future ended (done, and one task fewer) also if its destructor unwinds, so
            // it is never dropped twice.
            struct Ended<'a, S: Schedule>(&'a Header, PhantomData<S>);
            impl<S: Schedule> Drop for Ended<'_, S> {
                fn drop(&mut self) {
                    self.0.state.set(self.0.state.get() | DONE);
                    S::future_dropped();
                }
            }
            let ended = Ended::<S>(header, PhantomData);
            // SAFETY: not done: the stage holds the future, dropped in place (it is pinned).
            unsafe { ManuallyDrop::drop(&mut (*stage).fut) };
            drop(ended);
        } else if state & OUTPUT != 0 {
            header.state.set(state & !OUTPUT);
            // SAFETY: `OUTPUT`: the stage holds the output, no longer marked as there.
            unsafe { ManuallyDrop::drop(&mut (*stage).out) };
        }
    }

    unsafe fn destroy(h: NonNull<Header>) {
        // SAFETY: see `stage`; nothing references the task any more (`release`), so it can go.
        unsafe {
            let header = h.as_ref();
            if header.state.get() & (DONE | CALL) == CALL {
                S::abandoned(&header.origin);
            }
            Self::drop_stage(h);
            drop(header.awaiter.take());
            pool::release(h.cast(), Layout::new::<Task<F, S>>());
        }
    }
}

/// Drops one reference; the last frees the task.
///
/// # Safety
///
/// The caller owns a reference to the live task `h`, and does not use it after.
unsafe fn release(h: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the header alive.
    let header = unsafe { h.as_ref() };
    let refs = header.refs.get() - 1;
    header.refs.set(refs);
    if refs == 0 {
        // SAFETY: no reference is left, so nothing reaches the task while it is torn down.
        unsafe { (header.vtable.destroy)(h) }
    }
}

#[cfg(test)]
mod tests;
