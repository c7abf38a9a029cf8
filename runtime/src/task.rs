//! Background tasks: their allocation, state and wakers, and handles to them.
//!
//! A task is one allocation from the [pool](crate::pool): a [`Header`] followed by the future
//! or, once it completes, its output (which the [`JoinHandle`] takes from there: no channel).
//! The executor's ready queue links the headers of queued tasks through [`Header::next`].
//!
//! The module runs on one thread (wasm32-wasip1 without threads), so the state is plain
//! `Cell`s. A `Waker` may still be sent to another thread by type: on targets with threads (the
//! crate's own host-side tests) every waker operation checks that it runs on the task's thread
//! and aborts the process otherwise, before it touches anything. A task is not the
//! general-purpose `async-task` crate because that allocates through the global allocator,
//! which a library cannot choose, and keeps atomic state for threads the module does not have.
//!
//! References: the ready queue holds one while the task is queued, the handle one, each waker
//! one. The last one to go drops what is left (the future of a task nobody can wake any more)
//! and frees the allocation. An output is stored only while the handle is alive, and the handle
//! takes it or drops it.

use crate::executor::{self, Origin};
use crate::pool;
use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// Queued, or to be queued (at most one queue entry per task).
const SCHEDULED: u8 = 1;
/// The future is gone: it completed (its output is stored, unless nobody could take it) or
/// unwound.
const DONE: u8 = 2;
/// The handle is alive and has not taken the output.
const HANDLE: u8 = 4;
/// Being polled: a wake then only sets `SCHEDULED`, and `run` queues the task after the poll
/// (queued during it, a nested call's run loop would poll it again from inside its own poll).
const RUNNING: u8 = 8;
/// The output is stored, for the handle to take.
const OUTPUT: u8 = 16;
/// The task is a pending export's call: dropped unfinished because nothing references it any
/// more (no waker is left to wake it), it is a deadlock.
const CALL: u8 = 32;

/// The start of every task's allocation.
pub(crate) struct Header {
    state: Cell<u8>,
    refs: Cell<usize>,
    /// The next task in the ready queue.
    pub(crate) next: Cell<*const Header>,
    /// The handle's waker, to wake when the task completes.
    awaiter: Cell<Option<Waker>>,
    vtable: &'static TaskVTable,
    pub(crate) origin: Origin,
    /// The thread the task belongs to, on targets that have more than one.
    #[cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
    thread: std::thread::ThreadId,
}

impl Header {
    /// Makes `waker` the one to wake when the task completes, unless the one there wakes the
    /// same.
    #[inline(always)]
    fn set_awaiter(&self, waker: &Waker) {
        let waker = match self.awaiter.take() {
            Some(w) if w.will_wake(waker) => w,
            old => {
                // Dropped before the clone, as it is replaced (a waker's drop is user code,
                // which cannot reach the awaiter: only the handle does).
                drop(old);
                executor::clone_waker(waker)
            }
        };
        self.awaiter.set(Some(waker));
    }
}

/// The operations that depend on the future's type, and where its output is.
struct TaskVTable {
    /// Runs a task taken off the ready queue once; see [`run`].
    run: unsafe fn(NonNull<Header>),
    /// Drops the future (if the task is not done) or the stored output (if there is one).
    drop_stage: unsafe fn(NonNull<Header>),
    /// Drops what the task holds and frees it (the size class known at compile time).
    destroy: unsafe fn(NonNull<Header>),
    /// Where the output is stored, in bytes from the header: the handle reads it from there
    /// itself, with no call.
    output_at: usize,
}

/// The future until it is gone, then (if it completed and a handle is alive) its output. The
/// state bits say which: not `DONE`, the future; `OUTPUT`, the output; else nothing.
#[repr(C)]
union Stage<F: Future> {
    fut: ManuallyDrop<F>,
    out: ManuallyDrop<F::Output>,
}

#[repr(C)]
struct Task<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
}

impl<F: Future + 'static> Task<F> {
    const VTABLE: TaskVTable = TaskVTable {
        run: Self::run,
        drop_stage: Self::drop_stage,
        destroy: Self::destroy,
        output_at: std::mem::offset_of!(Task<F>, stage),
    };

    /// # Safety (for this fn and those below)
    ///
    /// `h` is the header of a live `Task<F>` on this thread, and no reference into its stage
    /// is alive.
    unsafe fn stage(h: NonNull<Header>) -> *mut Stage<F> {
        // SAFETY: `Task` is `repr(C)` with the header first, so the header's address is the
        // task's; the stage is only reached through this raw pointer.
        unsafe { (*h.cast::<Task<F>>().as_ptr()).stage.get() }
    }

    /// Polls the task once, unless it is done, then drops the queue's reference (or queues it
    /// again with that reference, if it was woken during the poll).
    ///
    /// # Safety
    ///
    /// Also: the caller hands over the reference the ready queue held.
    unsafe fn run(h: NonNull<Header>) {
        // SAFETY: the queue's reference keeps it alive.
        let header = unsafe { h.as_ref() };
        let state = header.state.get();
        if state & DONE == 0 {
            header.state.set((state & !SCHEDULED) | RUNNING);
            // The reference is the queue's, lent to the poll: the waker is not dropped.
            // SAFETY: `TASK_WAKER`'s contract (below); `h` is a live task.
            let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(h)) });
            let mut cx = Context::from_waker(&waker);
            // A poll that unwinds (only where panics unwind: the crate's host-side tests)
            // leaves the task done without an output, so its handle reports the panic.
            struct Unwinding<F: Future + 'static>(NonNull<Header>, PhantomData<F>);
            impl<F: Future + 'static> Drop for Unwinding<F> {
                fn drop(&mut self) {
                    // SAFETY: the task is alive (the queue's reference is held until below).
                    // A task that completed before the unwind (an awaiter's wake panicked)
                    // keeps its output; one that did not loses its future (which marks it
                    // done only once it is gone: a handle dropped by the future's drop must
                    // not drop it a second time).
                    unsafe {
                        if self.0.as_ref().state.get() & DONE == 0 {
                            Task::<F>::drop_stage(self.0);
                        }
                        release(self.0);
                    }
                }
            }
            let unwinding = Unwinding::<F>(h, PhantomData);
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
                executor::push_yielded(h);
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
            executor::wake(awaiter);
        }
    }

    unsafe fn drop_stage(h: NonNull<Header>) {
        // SAFETY: see `stage`.
        let (header, stage) = unsafe { (h.as_ref(), Self::stage(h)) };
        let state = header.state.get();
        if state & DONE == 0 {
            // The future ended (done, and one task fewer) also if its destructor unwinds, so
            // it is never dropped twice.
            struct Ended<'a>(&'a Header);
            impl Drop for Ended<'_> {
                fn drop(&mut self) {
                    self.0.state.set(self.0.state.get() | DONE);
                    executor::task_ended();
                }
            }
            let ended = Ended(header);
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
                executor::call_abandoned(&header.origin);
            }
            Self::drop_stage(h);
            drop(h.as_ref().awaiter.take());
            pool::release(h.cast(), Layout::new::<Task<F>>());
        }
    }
}

/// Allocates a task running `fut`, queued once (by the caller) and held by its handle; `call`
/// marks a pending export's call.
pub(crate) fn new_task<F>(fut: F, origin: Origin, call: bool) -> NonNull<Header>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let vtable = &Task::<F>::VTABLE;
    let p = pool::allocate(Layout::new::<Task<F>>()).cast::<Task<F>>();
    let task = Task {
        header: Header {
            state: Cell::new(SCHEDULED | HANDLE | if call { CALL } else { 0 }),
            refs: Cell::new(2),
            next: Cell::new(ptr::null()),
            awaiter: Cell::new(None),
            vtable,
            origin,
            #[cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
            thread: std::thread::current().id(),
        },
        stage: UnsafeCell::new(Stage { fut: ManuallyDrop::new(fut) }),
    };
    // SAFETY: `p` is a fresh allocation with the task's layout.
    unsafe { p.write(task) };
    p.cast()
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
        unsafe { destroy(h) }
    }
}

unsafe fn destroy(h: NonNull<Header>) {
    // SAFETY: the task is live and unreferenced (`release`).
    unsafe { (h.as_ref().vtable.destroy)(h) }
}

/// Polls a task taken off the ready queue, then drops the queue's reference.
///
/// # Safety
///
/// `h` is a live task that the ready queue held a reference to, now the caller's.
#[inline(always)]
pub(crate) unsafe fn run(h: NonNull<Header>) {
    // SAFETY: the caller's; the queue's reference keeps the task alive.
    unsafe { (h.as_ref().vtable.run)(h) }
}

/// A task's waker: its data is the task's header.
static TASK_WAKER: RawWakerVTable = RawWakerVTable::new(
    |data| {
        let h = owned(data);
        // SAFETY: the waker's reference keeps the task alive.
        let header = unsafe { h.as_ref() };
        // Like `Rc`, abort rather than wrap around when wakers are cloned and leaked without end.
        let Some(refs) = header.refs.get().checked_add(1) else { std::process::abort() };
        header.refs.set(refs);
        raw_waker(h)
    },
    |data| {
        let h = owned(data);
        // SAFETY: the waker's reference is handed to the queue or dropped.
        unsafe {
            if !schedule(h) {
                release(h);
            }
        }
    },
    |data| {
        let h = owned(data);
        // SAFETY: the waker's reference keeps the task alive; a queued task gets its own (at
        // most one queue entry per task, so this cannot overflow).
        unsafe {
            if schedule(h) {
                let header = h.as_ref();
                header.refs.set(header.refs.get() + 1);
            }
        }
    },
    // SAFETY: the waker's reference, dropped.
    |data| unsafe { release(owned(data)) },
);

fn raw_waker(h: NonNull<Header>) -> RawWaker {
    RawWaker::new(h.as_ptr().cast_const().cast(), &TASK_WAKER)
}

/// The task of a waker's data, checked to belong to this thread where there are others.
#[inline(always)]
fn owned(data: *const ()) -> NonNull<Header> {
    // SAFETY: `TASK_WAKER`'s data is always a live task's header (each waker holds a reference).
    let h = unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) };
    #[cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
    // SAFETY: as above; `thread` is never written after the task is made.
    if unsafe { h.as_ref() }.thread != std::thread::current().id() {
        // Nothing of the task may be touched from here: it is not thread-safe.
        eprintln!("wasmexport: a task's waker was used on a thread other than the task's");
        std::process::abort();
    }
    h
}

/// Marks the task to be queued if it is neither queued nor done, and queues it unless it is
/// being polled (then `run` does, after the poll); true if it queued it (the queue then needs a
/// reference, which the caller provides).
///
/// # Safety
///
/// `h` is a live task of this thread.
unsafe fn schedule(h: NonNull<Header>) -> bool {
    // SAFETY: the caller's.
    let header = unsafe { h.as_ref() };
    let state = header.state.get();
    if state & (SCHEDULED | DONE) != 0 {
        return false;
    }
    header.state.set(state | SCHEDULED);
    if state & RUNNING != 0 {
        // `run` queues it after the poll, with the reference it holds.
        return false;
    }
    executor::push_ready(h);
    true
}

/// A handle to a task started by [`spawn`](crate::spawn).
///
/// Awaiting it gives the task's output. Dropping it detaches the task, which runs on: like a
/// goroutine, a task cannot be cancelled from outside. A panic in the task traps the module, so
/// there is no error case.
///
/// The type is not `#[must_use]`, as tokio's `JoinHandle` is not: `spawn(fut);` is `go f()`,
/// and the task runs whether or not its handle is kept. [`detach`](Self::detach) says the same
/// in so many words.
pub struct JoinHandle<T> {
    /// The task, until its output is taken.
    task: Option<NonNull<Header>>,
    _output: PhantomData<T>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("JoinHandle");
        if let Some(h) = self.task {
            // SAFETY: the handle's reference keeps the task alive.
            let Origin { at, export } = unsafe { h.as_ref() }.origin;
            d.field("spawned_at", &format_args!("{at}")).field("export", &export);
        }
        d.field("finished", &self.is_finished()).finish()
    }
}

impl<T> JoinHandle<T> {
    /// Takes the handle's reference to `task`, a task whose output is a `T`.
    pub(crate) fn new(task: NonNull<Header>) -> Self {
        JoinHandle { task: Some(task), _output: PhantomData }
    }

    /// Lets the task run on without a handle (the same as dropping the handle).
    pub fn detach(self) {}

    /// True once the task has completed (its output is ready).
    pub fn is_finished(&self) -> bool {
        // SAFETY: the handle's reference keeps the task alive.
        self.task.is_none_or(|h| unsafe { h.as_ref() }.state.get() & DONE != 0)
    }
}

// The handle is a pointer; the output is never pinned.
impl<T> Unpin for JoinHandle<T> {}

// SAFETY: on wasm32 without the atomics feature there is one thread, so a handle never
// reaches another (as `async-task`'s handle, it is `Send` and `Sync` there if its output is
// `Send`). Elsewhere it stays on the task's thread: its state is not thread-safe.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: as above; `&JoinHandle` only reads whether the task is done.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let Some(h) = self.task else {
            crate::call::trap_poisoning(format_args!("a JoinHandle was polled after it completed"))
        };
        // SAFETY: the handle's reference keeps the task alive.
        let header = unsafe { h.as_ref() };
        let state = header.state.get();
        if state & DONE == 0 {
            header.set_awaiter(cx.waker());
            return Poll::Pending;
        }
        header.state.set(state & !(HANDLE | OUTPUT));
        self.task = None;
        if state & OUTPUT == 0 {
            // SAFETY: the handle's reference, dropped.
            unsafe { release(h) };
            crate::call::trap_poisoning(format_args!(
                "a task awaited through its JoinHandle panicked"
            ))
        }
        // SAFETY: `OUTPUT`: the task's output, a `T` (`new`), is stored `output_at` bytes from
        // the header; no longer marked as there, it is moved out once.
        let out = unsafe { h.as_ptr().byte_add(header.vtable.output_at).cast::<T>().read() };
        // SAFETY: the handle's reference, dropped.
        unsafe { release(h) };
        Poll::Ready(out)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(h) = self.task {
            // SAFETY: the handle's reference keeps the task alive until `release`.
            unsafe {
                let header = h.as_ref();
                let state = header.state.get();
                header.state.set(state & !HANDLE);
                // Nobody awaits the task any more (dropped last: a waker's drop is user code).
                let awaiter = header.awaiter.take();
                // The handle's reference goes also if the output's drop unwinds.
                struct Release(NonNull<Header>);
                impl Drop for Release {
                    fn drop(&mut self) {
                        // SAFETY: the handle's reference, dropped once.
                        unsafe { release(self.0) }
                    }
                }
                let reference = Release(h);
                // An output nobody will take is dropped now.
                if state & OUTPUT != 0 {
                    (header.vtable.drop_stage)(h);
                }
                drop(reference);
                drop(awaiter);
            }
        }
    }
}

/// The future of [`yield_now`](crate::yield_now).
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow(bool);

impl YieldNow {
    pub(crate) fn new() -> Self {
        YieldNow(false)
    }
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
