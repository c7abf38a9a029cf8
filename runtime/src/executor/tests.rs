//! The panic line's place for tasks, natively: which task runs, where it was spawned, and by
//! which export, also across nested calls.

use super::panic_place;
use crate::call::{call_async, call_sync};
use crate::gate::{self, HostCall};
use crate::test_support::on_fresh_thread;
use crate::{spawn, yield_now};
use std::cell::RefCell;
use std::rc::Rc;

fn place() -> String {
    panic_place(gate::current_export()).to_string()
}

#[test]
fn the_panic_place_names_the_running_task_or_the_innermost_export() {
    on_fresh_thread(|| {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let log = seen.clone();
        let spawned_at = call_sync("first", move || {
            let at = (line!() + 1, file!());
            spawn(async move {
                // Runs during "later", but was spawned by "first".
                yield_now().await;
                log.borrow_mut().push(place());
                // SAFETY: what a host function that calls exports does; left right after.
                let host = unsafe { HostCall::enter() };
                log.borrow_mut().push(call_sync("inner", place));
                log.borrow_mut().push(call_async("nested", async { place() }));
                host.leave();
                log.borrow_mut().push(place());
                let grandchild = spawn(async { place() }).await;
                log.borrow_mut().push(grandchild);
            })
            .detach();
            at
        });
        call_async("later", async {
            for _ in 0..10 {
                yield_now().await;
            }
        });
        assert_eq!(place(), "outside any export");
        let seen = seen.borrow();
        let (line, file) = spawned_at;
        let task = format!("in a task spawned at {file}:{line}:13 by export \"first\"");
        assert_eq!(seen[0], task);
        assert_eq!(seen[1], "in export \"inner\"");
        assert_eq!(seen[2], "in export \"nested\"");
        assert_eq!(seen[3], task, "after the nested calls returned");
        assert!(seen[4].ends_with("by export \"first\""), "{}", seen[4]);
        assert_ne!(seen[4], task);
    });
}

#[test]
fn a_task_spawned_by_a_task_keeps_its_parents_export_whatever_the_names_addresses() {
    on_fresh_thread(|| {
        let seen = Rc::new(RefCell::new(String::new()));
        let log = seen.clone();
        call_sync("first", move || {
            spawn(async move {
                yield_now().await;
                let grandchild = spawn(async { place() }).await;
                *log.borrow_mut() = grandchild;
            })
            .detach();
        });
        // What an async export's shim does: the name it enters with and the name its loop runs
        // with are two literals, which need not share an address.
        let (entered, looping): (&'static str, &'static str) =
            (String::from("later").leak(), String::from("later").leak());
        let call = crate::call::AsyncCall::enter(entered);
        crate::call::block_on(looping, async {
            for _ in 0..10 {
                yield_now().await;
            }
        });
        drop(call);
        let seen = seen.borrow();
        assert!(seen.ends_with("by export \"first\""), "{seen}");
    });
}
