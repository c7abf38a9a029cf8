//! What fails: a panic in a task fails every pending call with the runtime's line and poisons
//! the instance; a pending call that nothing can wake traps as a deadlock naming its export; a
//! `[task-return]` for a call id the host never saw is an error; a panicking host future
//! poisons the instance instead of leaving the guest waiting.

mod common;

use common::{Imports, Op, gated, patiently, start};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use wasmexport_host::{ErrorKind, Host};

/// Starts `n` calls of `add_later` that wait at the gate.
async fn waiting_calls(host: &Host, n: i32) -> JoinSet<Result<i32, wasmexport_host::Error>> {
    let mut calls = JoinSet::new();
    for i in 0..n {
        let host = host.clone();
        calls.spawn(async move { host.call_pending::<_, i32>("add_later", (100 + i, 0)).await });
    }
    // Until every call has returned to the host with WAIT.
    while common::task_count(host).await < n as u32 + 1 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    calls
}

#[tokio::test]
async fn a_panic_fails_the_pending_calls_and_poisons_the_instance() {
    patiently("a_panic_fails_the_pending_calls_and_poisons_the_instance", async move {
        let (imports, gate) = gated();
        let host = start(imports).await;
        let mut waiting = waiting_calls(&host, 5).await;
        // `boom(1)` waits for `number(1)` (10), then panics: during `wasmexport_complete`.
        let boom = host.call_pending::<_, i32>("boom", (1,)).await.unwrap_err();
        assert_eq!(boom.kind(), ErrorKind::Trap);
        let line = boom.guest_line().expect("the runtime's panic line");
        assert!(line.starts_with("wasmexport:"), "{line}");
        assert!(line.contains("boom after the host's number 10"), "{line}");
        assert!(line.contains("boom"), "the line names the export: {line}");
        while let Some(call) = waiting.join_next().await {
            let e = call.unwrap().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Trap, "{e}");
            assert_eq!(e.guest_line(), Some(line));
        }
        // Every later call fails without running, and the gate's operations were aborted.
        for e in [
            host.call_pending::<_, i32>("echo", (1,)).await.unwrap_err(),
            host.call::<(), u32>("task_count", ()).await.unwrap_err(),
            host.drive().await.unwrap_err(),
        ] {
            assert_eq!(e.kind(), ErrorKind::Poisoned, "{e}");
            assert!(e.to_string().contains("boom after the host's number 10"), "{e}");
        }
        gate.add_permits(100);
    })
    .await
}

#[tokio::test]
async fn a_pending_call_nothing_can_wake_traps_as_a_deadlock_naming_it() {
    patiently("a_pending_call_nothing_can_wake_traps_as_a_deadlock_naming_it", async move {
        let (imports, _gate) = gated();
        let host = start(imports).await;
        let mut waiting = waiting_calls(&host, 2).await;
        let e = host.call_pending::<_, i32>("stuck", ()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Trap);
        let line = e.guest_line().expect("the runtime's deadlock line");
        assert!(line.starts_with("wasmexport: all tasks are asleep - deadlock!"), "{line}");
        assert!(line.contains("\"stuck\""), "the line names the export: {line}");
        assert!(e.to_string().contains(line));
        while let Some(call) = waiting.join_next().await {
            assert_eq!(call.unwrap().unwrap_err().kind(), ErrorKind::Trap);
        }
        let later = host.call_pending::<_, i32>("echo", (1,)).await.unwrap_err();
        assert_eq!(later.kind(), ErrorKind::Poisoned);
    })
    .await
}

/// A hand-written module whose `bogus` delivers a result for call id 12345 and returns EXIT
/// for call id 1, whose plain `stray` delivers one for call id 99, and whose `twice` returns
/// WAIT for call id 5 every time.
const BOGUS: &str = r#"
(module
  (import "wasmexport" "[task-return]bogus" (func $return (param i32 i32)))
  (import "wasmexport" "[task-return]twice" (func (param i32)))
  (memory (export "memory") 1)
  (func (export "bogus") (result i32)
    (call $return (i32.const 12345) (i32.const 7))
    (i32.const 16))
  (func (export "stray")
    (call $return (i32.const 99) (i32.const 7)))
  (func (export "twice") (result i32)
    (i32.const 0x52))
  (func (export "wasmexport_drive") (result i32) (i32.const -1))
  (func (export "wasmexport_complete") (param i32 i32) (result i32) (i32.const -1))
  (func (export "wasmexport_buffer") (param i32 i32) (result i32) (i32.const 0)))
"#;

#[tokio::test]
async fn a_result_for_a_call_id_the_host_never_saw_is_an_error() {
    patiently("a_result_for_a_call_id_the_host_never_saw_is_an_error", async move {
        let module = wasmtime::Module::new(&wasmtime::Engine::default(), BOGUS).unwrap();
        for export in ["bogus", "stray"] {
            let host = Host::builder(&module).start().await.unwrap();
            let e = match export {
                "bogus" => host.call_pending::<_, i32>("bogus", ()).await.unwrap_err(),
                _ => host.call::<(), ()>("stray", ()).await.unwrap_err(),
            };
            assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
            let id = if export == "bogus" { "12345" } else { "99" };
            assert!(e.to_string().contains(&format!("call id {id}")), "{e}");
            assert!(e.to_string().contains("never saw"), "{e}");
            let later = host.call_pending::<_, i32>("bogus", ()).await.unwrap_err();
            assert_eq!(later.kind(), ErrorKind::Poisoned);
        }
    })
    .await
}

#[tokio::test]
async fn a_panicking_host_future_fails_the_calls_instead_of_leaving_them_waiting() {
    patiently(
        "a_panicking_host_future_fails_the_calls_instead_of_leaving_them_waiting",
        async move {
            let imports = Imports {
                number: Arc::new(|x| -> Op {
                    Box::pin(async move {
                        tokio::task::yield_now().await;
                        panic!("the host's number {x} is out of stock");
                    })
                }),
                ..Imports::default()
            };
            let host = start(imports).await;
            let e = host.call_pending::<_, i32>("add_later", (3, 0)).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::HostPanic, "{e}");
            assert!(e.to_string().contains("host.number"), "{e}");
            assert!(e.to_string().contains("the host's number 3 is out of stock"), "{e}");
            let later = host.call_pending::<_, i32>("echo", (1,)).await.unwrap_err();
            assert_eq!(later.kind(), ErrorKind::Poisoned);
        },
    )
    .await
}

#[tokio::test]
async fn two_pending_calls_with_one_id_are_an_error() {
    patiently("two_pending_calls_with_one_id_are_an_error", async move {
        let module = wasmtime::Module::new(&wasmtime::Engine::default(), BOGUS).unwrap();
        let host = Host::builder(&module).start().await.unwrap();
        let first = tokio::spawn({
            let host = host.clone();
            async move { host.call_pending::<_, ()>("twice", ()).await }
        });
        tokio::task::yield_now().await;
        let e = host.call_pending::<_, ()>("twice", ()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
        assert!(e.to_string().contains("call id 5"), "{e}");
        // The first call could no more be told apart: it fails too.
        assert_eq!(first.await.unwrap().unwrap_err().kind(), ErrorKind::Protocol);
    })
    .await
}
