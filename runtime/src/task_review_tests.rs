//! Review tests of the hand-written task (natively).

use crate::call::{HostCall, call_async, call_sync};
use crate::test_support::on_fresh_thread;
use crate::{JoinHandle, spawn, yield_now};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// A task that wakes itself and then calls the host, which calls an async export: the nested
/// call's run loop must not poll the task again while its poll is still on the stack.
struct WakesSelfThenNests {
    depth: Rc<Cell<u32>>,
    reentered: Rc<Cell<bool>>,
    polls: u32,
}

impl Future for WakesSelfThenNests {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Only raw reads before the re-entrancy check (a re-entered poll aliases `self`).
        let depth = self.depth.get() + 1;
        self.depth.set(depth);
        if depth > 1 {
            self.reentered.set(true);
            cx.waker().wake_by_ref();
            self.depth.set(depth - 1);
            return Poll::Pending;
        }
        let this = unsafe { self.get_unchecked_mut() };
        this.polls += 1;
        let out = if this.polls == 1 {
            cx.waker().wake_by_ref();
            let host = HostCall::enter();
            call_async("nested", yield_now());
            host.leave();
            Poll::Pending
        } else {
            Poll::Ready(())
        };
        this.depth.set(depth - 1);
        out
    }
}

#[test]
fn task_review_a_task_woken_during_its_poll_is_not_polled_by_a_nested_loop() {
    on_fresh_thread(|| {
        let depth = Rc::new(Cell::new(0));
        let reentered = Rc::new(Cell::new(false));
        let fut = WakesSelfThenNests { depth, reentered: reentered.clone(), polls: 0 };
        call_async("outer", async move { spawn(fut).await });
        assert!(!reentered.get(), "the task was polled from inside its own poll");
    });
}

/// A future that panics when polled and, when dropped, drops its own task's handle.
struct PanicsAndDropsOwnHandle {
    handle: *const RefCell<Option<JoinHandle<()>>>,
    drops: *const Cell<u32>,
}

impl Future for PanicsAndDropsOwnHandle {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        panic!("task_review: the task panics");
    }
}

impl Drop for PanicsAndDropsOwnHandle {
    fn drop(&mut self) {
        // SAFETY: both are leaked, so a second drop (the bug) touches only these counters.
        unsafe {
            (*self.drops).set((*self.drops).get() + 1);
            let h = (*self.handle).borrow_mut().take();
            drop(h);
        }
    }
}

#[test]
fn task_review_a_task_that_unwinds_drops_its_future_once() {
    on_fresh_thread(|| {
        let handle: &'static RefCell<Option<JoinHandle<()>>> =
            Box::leak(Box::new(RefCell::new(None)));
        let drops: &'static Cell<u32> = Box::leak(Box::new(Cell::new(0)));
        let before = crate::executor::spawned_alive();
        call_sync("spawner", || {
            let h = spawn(PanicsAndDropsOwnHandle { handle, drops });
            *handle.borrow_mut() = Some(h);
        });
        let r = std::panic::catch_unwind(|| call_async("runs", yield_now()));
        assert!(r.is_err(), "the task's panic unwinds out of the call");
        assert_eq!(drops.get(), 1, "the future was dropped {} times", drops.get());
        assert_eq!(crate::executor::spawned_alive(), before, "task count");
    });
}

/// A future that completes and then panics when dropped.
struct DropPanics;

impl Future for DropPanics {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

impl Drop for DropPanics {
    fn drop(&mut self) {
        panic!("task_review: the future's drop panics");
    }
}

#[test]
fn task_review_a_future_whose_drop_panics_still_ends_its_task() {
    on_fresh_thread(|| {
        let before = crate::executor::spawned_alive();
        call_sync("spawner", || spawn(DropPanics).detach());
        assert_eq!(crate::executor::spawned_alive(), before + 1);
        let r = std::panic::catch_unwind(|| call_async("runs", yield_now()));
        assert!(r.is_err(), "the drop's panic unwinds out of the call");
        assert_eq!(crate::executor::spawned_alive(), before, "task count");
    });
}

/// A task that panics when polled.
struct Panics;

impl Future for Panics {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        panic!("task_review: the task panics");
    }
}

/// Spawns a task when dropped and notes its handle's `Debug`, which names the export the new
/// task counts as spawned by.
struct SpawnsOnDrop(Rc<RefCell<String>>);

impl Drop for SpawnsOnDrop {
    fn drop(&mut self) {
        let handle = spawn(async {});
        *self.0.borrow_mut() = format!("{handle:?}");
    }
}

#[test]
fn task_review_a_task_that_unwinds_is_not_taken_for_the_running_one_after() {
    on_fresh_thread(|| {
        call_sync("spawner", || spawn(Panics).detach());
        let seen = Rc::new(RefCell::new(String::new()));
        let guard = SpawnsOnDrop(seen.clone());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            call_async("runs", async move {
                let _guard = guard;
                yield_now().await;
            })
        }));
        assert!(r.is_err(), "the task's panic unwinds out of the call");
        // The export's future is dropped as the panic unwinds out of the call, after the
        // panicking task (detached, so freed by then) has stopped running.
        let seen = seen.borrow();
        assert!(seen.contains("export: \"runs\""), "spawned while unwinding: {seen}");
    });
}
