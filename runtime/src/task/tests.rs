//! Tests of the task, natively: its output, its awaiter and its drops (the `exec` guest's
//! `task_outputs` and `output_drops` run the same on wasm), polls and unwinding across nested
//! calls, and wakes that user code makes while the task's own code runs.

use crate::call::{call_async, call_sync};
use crate::gate::HostCall;
use crate::test_support::on_fresh_thread;
use crate::{JoinHandle, spawn, yield_now};
use std::cell::{Cell, RefCell};
use std::future::{Future, pending};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn a_dropped_handle_lets_go_of_its_awaiter_at_once() {
    on_fresh_thread(|| {
        let count = Arc::new(Noop);
        let waker = Waker::from(count.clone());
        call_sync("spawner", || {
            let mut handle = spawn(pending::<()>());
            let mut cx = Context::from_waker(&waker);
            assert!(Pin::new(&mut handle).poll(&mut cx).is_pending());
            assert_eq!(Arc::strong_count(&count), 3, "the task keeps a clone of the awaiter");
            drop(handle);
            // The task runs on (it never ends), but nobody awaits it any more.
            assert_eq!(Arc::strong_count(&count), 2, "the dropped handle still holds its awaiter");
        });
    });
}

#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(align(16))]
struct Align16(u64, u32);

#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(align(64))]
struct Align64([u8; 3]);

#[test]
fn outputs_of_every_size_and_alignment_come_back_whole() {
    on_fresh_thread(|| {
        call_async("outputs", async {
            // A small future with a big output, and the reverse (which yields first, so the
            // output is stored while the future's captures are gone).
            assert_eq!(spawn(async { [7u8; 300] }).await, [7u8; 300]);
            let captured = [3u8; 200];
            let sum = spawn(async move {
                yield_now().await;
                captured.iter().map(|&b| u32::from(b)).sum::<u32>()
            })
            .await;
            assert_eq!(sum, 600);
            assert_eq!(spawn(async { Align16(u64::MAX - 1, 9) }).await, Align16(u64::MAX - 1, 9));
            let a64 = spawn(async {
                yield_now().await;
                Align64([1, 2, 3])
            });
            let a64 = a64.await;
            assert_eq!(a64, Align64([1, 2, 3]));
            assert_eq!(std::ptr::from_ref(&a64).addr() % 64, 0);
            assert_eq!(spawn(async { 5u128 << 100 }).await, 5u128 << 100);
            assert_eq!(spawn(async { String::from("a task's output") }).await, "a task's output");
            spawn(async {}).await;
            // A handle awaited by another task, not by the export.
            let inner = spawn(async {
                yield_now().await;
                20
            });
            assert_eq!(spawn(async move { inner.await + 1 }).await, 21);
        });
    });
}

/// Counts its drops.
struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn an_output_is_dropped_once_by_whoever_ends_up_with_it() {
    on_fresh_thread(|| {
        let drops = Rc::new(Cell::new(0));
        let d = drops.clone();
        call_async("drops", async move {
            // Awaited: moved out to the awaiter, never dropped by the task.
            let c = Counted(d.clone());
            let out = spawn(async move { c }).await;
            assert_eq!(d.get(), 0);
            drop(out);
            assert_eq!(d.get(), 1);
            // Completed, then the handle is dropped: the stored output goes with it.
            let c = Counted(d.clone());
            let handle = spawn(async move { c });
            yield_now().await;
            assert!(handle.is_finished());
            assert_eq!(d.get(), 1, "the output is kept for the handle");
            drop(handle);
            assert_eq!(d.get(), 2, "dropping the handle drops the output");
            // Detached before it completes: dropped as it completes.
            let c = Counted(d.clone());
            spawn(async move { c }).detach();
            yield_now().await;
            assert_eq!(d.get(), 3);
        });
        assert_eq!(drops.get(), 3);
    });
}

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
        // SAFETY: the future is not moved out of; only its counters are written.
        let this = unsafe { self.get_unchecked_mut() };
        this.polls += 1;
        let out = if this.polls == 1 {
            cx.waker().wake_by_ref();
            // SAFETY: what a host function that calls exports does; left right after.
            let host = unsafe { HostCall::enter() };
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
fn a_task_woken_during_its_poll_is_not_polled_by_a_nested_loop() {
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
fn a_task_that_unwinds_drops_its_future_once() {
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
fn a_future_whose_drop_panics_still_ends_its_task() {
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
fn a_task_that_unwinds_is_not_taken_for_the_running_one_after() {
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

/// A waker whose last drop calls the host, which calls an async export of the module (a
/// re-entrant call that runs ready tasks).
struct ReentersWhenDropped;

impl Wake for ReentersWhenDropped {
    fn wake(self: Arc<Self>) {}
}

impl Drop for ReentersWhenDropped {
    fn drop(&mut self) {
        // SAFETY: what a host function that calls exports does; left right after.
        let host = unsafe { HostCall::enter() };
        call_async("nested", async {
            for _ in 0..10 {
                yield_now().await;
            }
        });
        host.leave();
    }
}

#[test]
fn a_task_that_completes_while_its_old_awaiter_is_dropped_is_not_lost() {
    on_fresh_thread(|| {
        let out = call_async("outer", async {
            let mut handle = spawn(async {
                for _ in 0..3 {
                    yield_now().await;
                }
                7
            });
            let mut polls = 0;
            std::future::poll_fn(|cx| {
                polls += 1;
                if polls == 1 {
                    // Awaited first through a waker whose drop completes the task.
                    let reentrant = Waker::from(Arc::new(ReentersWhenDropped));
                    let mut other = Context::from_waker(&reentrant);
                    assert!(Pin::new(&mut handle).poll(&mut other).is_pending());
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                // Replacing that awaiter drops it, which runs the task to its end: the new
                // awaiter must see it, or the call waits for a wake that already happened.
                Pin::new(&mut handle).poll(cx)
            })
            .await
        });
        assert_eq!(out, 7);
    });
}
