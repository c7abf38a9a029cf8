//! [`JoinHandle`], the handle to a task's output, and [`YieldNow`].

use super::{DONE, HANDLE, Header, OUTPUT, Origin, Schedule, release};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// A handle to a task's output, whose scheduler is `S`: see the crate's `JoinHandle`, which
/// names the executor as `S`.
pub struct JoinHandle<T, S> {
    /// The task, until its output is taken.
    task: Option<NonNull<Header>>,
    _output: PhantomData<(T, fn() -> S)>,
}

impl<T, S> fmt::Debug for JoinHandle<T, S> {
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

impl<T, S> JoinHandle<T, S> {
    /// Takes the handle's reference to `task`.
    ///
    /// # Safety
    ///
    /// The caller owns a reference to the live task `task`, which it gives to the handle, and
    /// the task's output is a `T`: the handle reads a `T` where the task's vtable says the
    /// output is.
    pub(super) unsafe fn new(task: NonNull<Header>) -> Self {
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
impl<T, S> Unpin for JoinHandle<T, S> {}

// SAFETY: where `wasmexport_one_thread` is set (build.rs: wasm without threads) there is one
// thread, so a handle never reaches another (as `async-task`'s handle, it is `Send` and `Sync`
// there if its output is `Send`). Elsewhere it stays on the task's thread: its state is not
// thread-safe.
#[cfg(wasmexport_one_thread)]
unsafe impl<T: Send, S> Send for JoinHandle<T, S> {}
// SAFETY: as above; `&JoinHandle` only reads whether the task is done.
#[cfg(wasmexport_one_thread)]
unsafe impl<T: Send, S> Sync for JoinHandle<T, S> {}

impl<T, S: Schedule> Future for JoinHandle<T, S> {
    type Output = T;

    // Always inlined: an export that awaits a handle then has its whole poll in its loop (a
    // call of its own costs the round trip about a hundred wasm instructions).
    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let Some(h) = self.task else {
            crate::gate::trap_poisoning(format_args!("a JoinHandle was polled after it completed"))
        };
        // SAFETY: the handle's reference keeps the task alive.
        let header = unsafe { h.as_ref() };
        let state = header.state.get();
        if state & DONE == 0 {
            // The waker to wake when the task completes, unless the one there wakes the same.
            // A waker's clone and drop are user code, which may complete the task (a host call
            // that re-enters the module): the new awaiter is in place before the old one goes,
            // so such a completion wakes it, and this handle is polled again.
            match header.awaiter.take() {
                Some(w) if w.will_wake(cx.waker()) => header.awaiter.set(Some(w)),
                old => {
                    header.awaiter.set(Some(S::clone_waker(cx.waker())));
                    drop(old);
                }
            }
            return Poll::Pending;
        }
        header.state.set(state & !(HANDLE | OUTPUT));
        self.task = None;
        if state & OUTPUT == 0 {
            // SAFETY: the handle's reference, dropped.
            unsafe { release(h) };
            crate::gate::trap_poisoning(format_args!(
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

impl<T, S> Drop for JoinHandle<T, S> {
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
