//! Tests of a task's output, its awaiter and its drops (natively; the `exec` guest's
//! `task_outputs` and `output_drops` run the same on wasm).

use crate::call::{call_async, call_sync};
use crate::test_support::on_fresh_thread;
use crate::{spawn, yield_now};
use std::cell::Cell;
use std::future::{Future, pending};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

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
