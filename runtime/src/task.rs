//! Handles to background tasks.

use crate::executor::Origin;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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
    task: Option<async_task::Task<T, Origin>>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("JoinHandle");
        if let Some(task) = &self.task {
            let Origin { at, export } = task.metadata();
            d.field("spawned_at", &format_args!("{at}")).field("export", export);
        }
        d.field("finished", &self.is_finished()).finish()
    }
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: async_task::Task<T, Origin>) -> Self {
        JoinHandle { task: Some(task) }
    }

    /// Lets the task run on without a handle (the same as dropping the handle).
    pub fn detach(mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }

    /// True once the task has completed (its output is ready).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.task.as_mut() {
            Some(task) => {
                let out = std::task::ready!(Pin::new(task).poll(cx));
                self.task = None;
                Poll::Ready(out)
            }
            None => crate::call::trap_poisoning(format_args!(
                "a JoinHandle was polled after it completed"
            )),
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
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
