//! Pending calls, host completions and drives, natively (the engine tests run them on wasm).

use crate::call::{call_async, call_sync};
use crate::gate::HostCall;
use crate::pending;
use crate::test_support::on_fresh_thread;
use crate::{JoinHandle, spawn, yield_now};
use futures::FutureExt;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// What the host's `wasmexport_drive` call does.
fn host_drive() -> i32 {
    call_sync("wasmexport_drive", pending::drive)
}

fn complete(token: i32, value: i32) -> i32 {
    call_sync("wasmexport_complete", || pending::complete(token, value))
}

#[test]
fn a_pending_call_that_yields_tells_the_host_to_drive_again_at_once() {
    on_fresh_thread(|| {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        let status = call_sync("p", move || {
            pending::start("p", move |_id| async move {
                yield_now().await;
                yield_now().await;
                d.set(true);
            })
        });
        assert_eq!(status & 3, 2, "WAIT: {status:#x}");
        assert_ne!(status & 8, 0, "the host is told to ask when to drive: {status:#x}");
        // Each drive runs the call once more, and says "again, at once" while it is ready.
        assert_eq!(host_drive(), 0);
        assert!(!done.get());
        assert_eq!(host_drive(), -1, "done, and nothing armed");
        assert!(done.get());
    });
}

#[test]
fn a_call_entered_during_a_drive_can_wait_for_a_task_the_drive_deferred() {
    on_fresh_thread(|| {
        let slot: Rc<RefCell<Option<JoinHandle<u32>>>> = Rc::new(RefCell::new(None));
        let got = Rc::new(Cell::new(0));
        let (s, g) = (slot.clone(), got.clone());
        call_sync("setup", move || {
            // Deferred by the drive below as it yields.
            let task = spawn(async {
                yield_now().await;
                5u32
            });
            *s.borrow_mut() = Some(task);
            spawn(async move {
                let task = s.borrow_mut().take().unwrap();
                // SAFETY: a host import that calls an async export, left right after.
                let host = unsafe { HostCall::enter() };
                g.set(call_async("awaits_the_deferred_task", task));
                host.leave();
            })
            .detach();
        });
        host_drive();
        assert_eq!(got.get(), 5);
    });
}

#[test]
fn a_drive_made_inside_a_task_leaves_the_outer_drives_deferred_tasks_alone() {
    on_fresh_thread(|| {
        let polls = Rc::new(Cell::new(0u32));
        call_sync("setup", || {
            for _ in 0..2 {
                let p = polls.clone();
                spawn(async move {
                    for _ in 0..1000 {
                        p.set(p.get() + 1);
                        crate::drive();
                        yield_now().await;
                    }
                })
                .detach();
            }
        });
        host_drive();
        assert!(polls.get() <= 4, "one host drive polled the tasks {} times", polls.get());
    });
}

#[test]
fn a_completion_for_a_future_dropped_before_its_first_poll_is_ignored() {
    on_fresh_thread(|| {
        drop(pending::value(7));
        complete(7, 111);
        let later = call_sync("x", || pending::value(7).now_or_never());
        assert_eq!(later, None, "a new wait on token 7 got the stale value {later:?}");
    });
}

#[test]
fn a_pending_call_left_waiting_when_its_thread_exits_is_dropped_quietly() {
    // A guest's host-side test that ends with a pending call still waiting: the thread's state
    // is torn down outside any call, which is no deadlock.
    on_fresh_thread(|| {
        let status = call_sync("p", || {
            pending::start("p", |_id| async {
                crate::time::sleep(std::time::Duration::from_secs(3600)).await;
            })
        });
        assert_eq!(status & 3, 2);
    });
    on_fresh_thread(|| {
        let status = call_sync("p", || {
            pending::start("p", |_id| async {
                pending::value(99).await;
            })
        });
        assert_eq!(status & 3, 2);
    });
}

#[test]
fn a_negative_buffer_length_reserves_nothing() {
    on_fresh_thread(|| {
        assert_eq!(call_sync("wasmexport_buffer", || pending::buffer(2, -1)), 0);
    });
}

#[test]
fn a_pending_call_counts_once_in_task_count_during_its_own_call_too() {
    on_fresh_thread(|| {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let before = call_sync("count", crate::task_count);
        let status = call_sync("p", move || {
            pending::start("p", move |_id| async move {
                s.borrow_mut().push(crate::task_count());
                yield_now().await;
                s.borrow_mut().push(crate::task_count());
            })
        });
        assert_eq!(status & 3, 2, "WAIT: {status:#x}");
        assert_eq!(call_sync("count", crate::task_count), before + 1, "the call's task");
        host_drive();
        // During its own call: the call, once. During the drive: the call and the drive.
        assert_eq!(*seen.borrow(), [before, before + 1]);
        assert_eq!(call_sync("count", crate::task_count), before);
    });
}
