//! A host's user abusing the library: calls dropped before their results come, a pending export
//! called as a plain one, the protocol's exports called by hand, a guest task that never stops
//! yielding, hosts dropped with timers and operations outstanding, a start that fails after
//! starting operations, async host functions that panic, fail or use tokio while they start,
//! results delivered before their call's status, traps among many calls in flight, a call that
//! never returns. Each call resolves, with its result or an `Error`, and nothing is left
//! running.

mod common;

use common::{Imports, Op, gated, patiently, staggered, start, task_count, ticker};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};
use wasmexport_host::{Completion, ErrorKind, Host};

/// Polls `done` every few milliseconds until it holds; fails naming `what` after 5 seconds.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let begin = Instant::now();
    while !done().await {
        assert!(begin.elapsed() < Duration::from_secs(5), "{what}: not within 5 seconds");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Sets its flag when dropped: shows that a host operation's future was dropped (aborted).
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Imports whose `number(x)` never completes; the flag is set once every such future that was
/// started has been dropped, and `started` counts them.
fn never_completing() -> (Imports, Arc<AtomicBool>, Arc<AtomicU32>) {
    let dropped = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicU32::new(0));
    let imports = Imports {
        number: Arc::new({
            let (dropped, started) = (dropped.clone(), started.clone());
            move |_| -> Op {
                started.fetch_add(1, Ordering::SeqCst);
                let flag = DropFlag(dropped.clone());
                Box::pin(async move {
                    let _flag = flag;
                    std::future::pending::<Completion>().await
                })
            }
        }),
        ..Imports::default()
    };
    (imports, dropped, started)
}

/// The number of tasks alive on the current runtime.
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_calls_leave_nothing_behind_and_kept_calls_get_their_own_results() {
    patiently("dropped_calls_leave_nothing_behind", async move {
        // `number(x)` completes with x * 10 after 0 to 2 ms.
        let host = start(staggered(3)).await;
        let mut lanes = JoinSet::new();
        for lane in 0..4 {
            let host = host.clone();
            lanes.spawn(async move {
                for i in 0..500 {
                    let x = lane * 1000 + i;
                    let call = host.call_pending::<_, i32>("add_later", (x, 1));
                    if i % 2 == 0 {
                        // Dropped after its first poll, which sent the call.
                        let _ = timeout(Duration::ZERO, call).await;
                    } else {
                        assert_eq!(call.await.unwrap(), x * 10 + 1, "call {x}");
                    }
                }
            });
        }
        while let Some(lane) = lanes.join_next().await {
            lane.unwrap();
        }
        // The dropped calls' tasks finish in the module, and their results go nowhere.
        eventually("the dropped calls' tasks finish", async || task_count(&host).await == 1).await;
        assert_eq!(host.call_pending::<_, i32>("add_later", (5, 5)).await.unwrap(), 55);
    })
    .await
}

#[tokio::test]
async fn a_pending_export_called_as_a_plain_one_is_refused() {
    patiently("a_pending_export_called_as_a_plain_one_is_refused", async move {
        let host = start(Imports::default()).await;
        // `echo` delivers its result during the call, `add_later` later: through `call`, the
        // host would see results for call ids it never handed out.
        let e = host.call::<(i32,), i32>("echo", (1,)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
        assert!(e.to_string().contains("call_pending"), "{e}");
        let e = host.call::<(i32, i32), i32>("add_later", (1, 2)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
        // Nothing ran: the instance is as it was.
        assert_eq!(task_count(&host).await, 1);
        assert_eq!(host.call_pending::<_, i32>("add_later", (1, 2)).await.unwrap(), 12);
    })
    .await
}

#[tokio::test]
async fn driving_through_the_protocol_exports_by_hand_keeps_the_timer() {
    patiently("driving_through_the_protocol_exports_by_hand_keeps_the_timer", async move {
        let host = start(Imports::default()).await;
        let woken = async || host.call::<(), u32>("sleepers_woken", ()).await.unwrap();
        // A plain export's task runs at the next drive, and arms a 30 ms timer there.
        host.call::<(u32,), ()>("spawn_sleeper", (30,)).await.unwrap();
        let ms = host.call::<(), i32>("wasmexport_drive", ()).await.unwrap();
        assert!((1..=30).contains(&ms), "the sleeper's timer: {ms} ms");
        eventually("the timer armed in a drive by hand fires", async || woken().await == 1).await;
        // `wasmexport_complete` drives too (a token the library never hands out: negative).
        host.call::<(u32,), ()>("spawn_sleeper", (30,)).await.unwrap();
        let ms = host.call::<(i32, i32), i32>("wasmexport_complete", (-5, 0)).await.unwrap();
        assert!((1..=30).contains(&ms), "the sleeper's timer: {ms} ms");
        eventually("the timer armed in a completion by hand fires", async || woken().await == 2)
            .await;
        assert_eq!(host.drive().await.unwrap(), None);
    })
    .await
}

#[tokio::test]
async fn a_task_that_keeps_yielding_leaves_the_runtime_and_other_calls_running() {
    patiently("a_task_that_keeps_yielding_leaves_the_runtime_running", async move {
        let baseline = alive_tasks();
        let host = start(Imports::default()).await;
        let (ticks, ticker) = ticker(Duration::from_millis(2));
        // Yields for ever: the module asks to be driven again at once, every time.
        let spinning = tokio::spawn({
            let host = host.clone();
            async move { host.call_pending::<_, u32>("spin", (u32::MAX,)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        for x in 0..20 {
            assert_eq!(host.call_pending::<_, i32>("add_later", (x, 0)).await.unwrap(), x * 10);
        }
        let before = ticks.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let ticked = ticks.load(Ordering::Relaxed) - before;
        assert!(ticked >= 5, "the runtime ran other tasks meanwhile ({ticked} ticks in 60 ms)");
        assert!(!spinning.is_finished());
        ticker.abort();
        spinning.abort();
        let _ = spinning.await;
        // With the last handle gone, the driver and the timer task stop, spinning guest or not.
        drop(host);
        eventually("the host's tasks end", async || alive_tasks() == baseline).await;
    })
    .await
}

#[tokio::test]
async fn dropping_the_host_ends_its_timer_and_its_operations() {
    patiently("dropping_the_host_ends_its_timer_and_its_operations", async move {
        let baseline = alive_tasks();
        let (imports, dropped, started) = never_completing();
        let host = start(imports).await;
        // An operation that never completes, and a timer an hour away, both for dropped calls.
        let _ = timeout(Duration::ZERO, host.call_pending::<_, i32>("add_later", (1, 1))).await;
        let hour = 3_600_000u32;
        let _ = timeout(Duration::ZERO, host.call_pending::<_, u32>("sleep_ms", (hour,))).await;
        assert_eq!(task_count(&host).await, 3);
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert!(!dropped.load(Ordering::SeqCst));
        drop(host);
        eventually("the operation's future is dropped", async || dropped.load(Ordering::SeqCst))
            .await;
        eventually("the host's tasks end", async || alive_tasks() == baseline).await;
    })
    .await
}

/// A module whose `_initialize` starts a host operation and then traps.
const INIT_TRAPS: &str = r#"
(module
  (import "host" "fetch" (func $fetch (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_initialize")
    (drop (call $fetch (i32.const 1)))
    unreachable)
  (func (export "wasmexport_drive") (result i32) (i32.const -1))
  (func (export "wasmexport_complete") (param i32 i32) (result i32) (i32.const -1))
  (func (export "wasmexport_buffer") (param i32 i32) (result i32) (i32.const 0)))
"#;

#[tokio::test]
async fn a_start_that_fails_aborts_the_operations_it_started() {
    patiently("a_start_that_fails_aborts_the_operations_it_started", async move {
        let module = wasmtime::Module::new(&wasmtime::Engine::default(), INIT_TRAPS).unwrap();
        let dropped = Arc::new(AtomicBool::new(false));
        let mut builder = Host::builder(&module);
        builder
            .async_import("host", "fetch", {
                let dropped = dropped.clone();
                move |_| {
                    let flag = DropFlag(dropped.clone());
                    Ok(async move {
                        let _flag = flag;
                        std::future::pending::<Completion>().await
                    })
                }
            })
            .unwrap();
        let e = builder.start().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Trap, "{e}");
        eventually("the operation's future is dropped", async || dropped.load(Ordering::SeqCst))
            .await;
    })
    .await
}

/// Imports whose `number(x)` panics while it starts (before it returns its future) for
/// `x == 7`, completes at once for other `x < 100`, and waits at the returned gate otherwise.
fn panicking_at_start() -> (Imports, Arc<Semaphore>) {
    let (mut imports, gate) = gated();
    let number = imports.number;
    imports.number = Arc::new(move |x| -> Op {
        assert_ne!(x, 7, "the host has no number 7");
        number(x)
    });
    (imports, gate)
}

#[tokio::test]
async fn a_panic_while_an_async_host_function_starts_fails_the_calls_and_poisons() {
    patiently("a_panic_while_an_async_host_function_starts", async move {
        let (imports, _gate) = panicking_at_start();
        let host = start(imports).await;
        let waiting = tokio::spawn({
            let host = host.clone();
            async move { host.call_pending::<_, i32>("add_later", (100, 0)).await }
        });
        eventually("the waiting call is pending", async || task_count(&host).await == 2).await;
        let e = host.call_pending::<_, i32>("add_later", (7, 0)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::HostPanic, "{e}");
        assert!(e.to_string().contains("host.number"), "{e}");
        assert!(e.to_string().contains("the host has no number 7"), "{e}");
        let other = waiting.await.unwrap().unwrap_err();
        assert_eq!(other.kind(), ErrorKind::HostPanic, "{other}");
        let later = host.call_pending::<_, i32>("echo", (1,)).await.unwrap_err();
        assert_eq!(later.kind(), ErrorKind::Poisoned, "{later}");
        assert!(later.to_string().contains("the host has no number 7"), "{later}");
    })
    .await
}

#[tokio::test]
async fn an_async_host_function_may_use_tokio_while_it_starts() {
    patiently("an_async_host_function_may_use_tokio_while_it_starts", async move {
        let imports = Imports {
            number: Arc::new(|x| -> Op {
                // Both need the runtime's context: a timer and a task, made before the future.
                let delay = tokio::time::sleep(Duration::from_millis(1));
                let task = tokio::spawn(async move { x * 10 });
                Box::pin(async move {
                    delay.await;
                    Completion::Value(task.await.expect("the spawned task"))
                })
            }),
            ..Imports::default()
        };
        let host = start(imports).await;
        assert_eq!(host.call_pending::<_, i32>("add_later", (4, 2)).await.unwrap(), 42);
    })
    .await
}

#[tokio::test]
async fn an_async_host_function_that_refuses_to_start_traps_with_its_error() {
    patiently("an_async_host_function_that_refuses_to_start", async move {
        let gate = Arc::new(Semaphore::new(0));
        let host = {
            let mut builder = Host::builder(&common::module());
            builder.forward_stderr(false);
            builder
                .async_import("host", "number", {
                    let gate = gate.clone();
                    move |call| {
                        let x = call.i32(0)?;
                        if x == 13 {
                            wasmtime::bail!("the host refuses number 13");
                        }
                        let gate = gate.clone();
                        Ok(async move {
                            let _pass = gate.acquire().await;
                            Completion::Value(x)
                        })
                    }
                })
                .unwrap();
            builder
                .async_import("host", "bytes", |_| Ok(async { Completion::Bytes(Vec::new()) }))
                .unwrap();
            builder.start().await.unwrap()
        };
        let waiting = tokio::spawn({
            let host = host.clone();
            async move { host.call_pending::<_, i32>("add_later", (1, 0)).await }
        });
        eventually("the waiting call is pending", async || task_count(&host).await == 2).await;
        let e = host.call_pending::<_, i32>("add_later", (13, 0)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Trap, "{e}");
        assert!(e.to_string().contains("the host refuses number 13"), "{e}");
        assert_eq!(waiting.await.unwrap().unwrap_err().kind(), ErrorKind::Trap);
        let later = host.drive().await.unwrap_err();
        assert_eq!(later.kind(), ErrorKind::Poisoned, "{later}");
        // The waiting call's operation was aborted: opening the gate completes nothing.
        gate.add_permits(10);
    })
    .await
}

/// A module whose pending `early(x)` delivers its result (x + 1) for call id 3 during the call
/// and still returns WAIT for it, and whose `late()` delivers call 4's result during a later
/// `wasmexport_drive`.
const EARLY: &str = r#"
(module
  (import "wasmexport" "[task-return]early" (func $early (param i32 i32)))
  (import "wasmexport" "[task-return]late" (func $late (param i32)))
  (memory (export "memory") 1)
  (global $late_pending (mut i32) (i32.const 0))
  (func (export "early") (param $x i32) (result i32)
    (call $early (i32.const 3) (i32.add (local.get $x) (i32.const 1)))
    (i32.const 0x32))
  (func (export "late") (result i32)
    (global.set $late_pending (i32.const 1))
    ;; WAIT | TIMER: the host is to drive, and the drive delivers.
    (i32.const 0x4a))
  (func (export "wasmexport_drive") (result i32)
    (if (global.get $late_pending)
      (then
        (global.set $late_pending (i32.const 0))
        (call $late (i32.const 4))))
    (i32.const -1))
  (func (export "wasmexport_complete") (param i32 i32) (result i32) (i32.const -1))
  (func (export "wasmexport_buffer") (param i32 i32) (result i32) (i32.const 0)))
"#;

#[tokio::test]
async fn results_delivered_before_the_wait_or_at_the_drive_it_asks_for_resolve() {
    patiently("results_delivered_before_the_wait_resolve", async move {
        let module = wasmtime::Module::new(&wasmtime::Engine::default(), EARLY).unwrap();
        let host = Host::builder(&module).start().await.unwrap();
        assert_eq!(host.call_pending::<_, i32>("early", (41,)).await.unwrap(), 42);
        host.call_pending::<_, ()>("late", ()).await.unwrap();
        // Call 3 again: its first call resolved, so the id is free.
        assert_eq!(host.call_pending::<_, i32>("early", (1,)).await.unwrap(), 2);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_among_hundreds_of_calls_in_flight_resolves_every_one() {
    patiently("a_trap_among_hundreds_of_calls_in_flight_resolves_every_one", async move {
        // `number(x)` completes after 0 to 4 ms.
        let host = start(staggered(5)).await;
        let mut calls = JoinSet::new();
        for i in 0..400 {
            let host = host.clone();
            calls.spawn(async move {
                if i == 200 {
                    (i, host.call_pending::<_, i32>("boom", (1,)).await)
                } else {
                    (i, host.call_pending::<_, i32>("add_later", (i, 0)).await)
                }
            });
        }
        let mut failed = 0;
        while let Some(joined) = calls.join_next().await {
            match joined.unwrap() {
                (i, Ok(v)) => assert_eq!(v, i * 10, "call {i}"),
                (i, Err(e)) => {
                    assert!(
                        matches!(e.kind(), ErrorKind::Trap | ErrorKind::Poisoned),
                        "call {i}: {e}"
                    );
                    failed += 1;
                }
            }
        }
        assert!(failed >= 1, "at least `boom` failed");
        assert_eq!(host.drive().await.unwrap_err().kind(), ErrorKind::Poisoned);
    })
    .await
}

/// A module whose pending `forever()` never returns, and whose pending `wait()` waits for ever
/// (WAIT, call id 1).
const FOREVER: &str = r#"
(module
  (import "wasmexport" "[task-return]forever" (func (param i32 i32)))
  (import "wasmexport" "[task-return]wait" (func (param i32)))
  (memory (export "memory") 1)
  (func (export "forever") (result i32)
    (loop (br 0))
    (i32.const 0))
  (func (export "wait") (result i32) (i32.const 0x12))
  (func (export "wasmexport_drive") (result i32) (i32.const -1))
  (func (export "wasmexport_complete") (param i32 i32) (result i32) (i32.const -1))
  (func (export "wasmexport_buffer") (param i32 i32) (result i32) (i32.const 0)))
"#;

#[tokio::test]
async fn an_epoch_deadline_set_on_the_store_interrupts_a_call_that_never_returns() {
    patiently("an_epoch_deadline_interrupts_a_call_that_never_returns", async move {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let module = wasmtime::Module::new(&engine, FOREVER).unwrap();
        // Without a deadline, every call into the store traps at once.
        let plain = Host::builder(&module).start().await.unwrap();
        let e = plain.call_pending::<_, ()>("wait", ()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Trap, "{e}");
        // A watchdog: the store goes on at each tick until `stop` is set.
        let stop = Arc::new(AtomicBool::new(false));
        let mut builder = Host::builder(&module);
        builder.configure_store({
            let stop = stop.clone();
            move |store| {
                store.set_epoch_deadline(1);
                store.epoch_deadline_callback(move |_| {
                    if stop.load(Ordering::SeqCst) {
                        wasmtime::bail!("the watchdog stopped the call");
                    }
                    Ok(wasmtime::UpdateDeadline::Continue(1))
                });
            }
        });
        let host = builder.start().await.unwrap();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(2)).await;
                engine.increment_epoch();
            }
        });
        let waiting = tokio::spawn({
            let host = host.clone();
            async move { host.call_pending::<_, ()>("wait", ()).await }
        });
        let forever = tokio::spawn({
            let host = host.clone();
            async move { host.call_pending::<_, i32>("forever", ()).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!forever.is_finished() && !waiting.is_finished());
        stop.store(true, Ordering::SeqCst);
        let e = forever.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Trap, "{e}");
        assert!(e.to_string().contains("the watchdog stopped the call"), "{e}");
        assert_eq!(waiting.await.unwrap().unwrap_err().kind(), ErrorKind::Trap);
        assert_eq!(host.drive().await.unwrap_err().kind(), ErrorKind::Poisoned);
        ticker.abort();
    })
    .await
}

#[test]
fn the_handles_and_errors_cross_threads() {
    fn shared<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    fn boxable<E: std::error::Error + Send + Sync + 'static>() {}
    shared::<Host>();
    shared::<wasmexport_host::Error>();
    boxable::<wasmexport_host::Error>();
    fn sendable<F: std::future::Future + Send>(_: F) {}
    fn calls(host: &Host) {
        sendable(host.call_pending::<(i32,), i32>("echo", (1,)));
        sendable(host.call::<(), u32>("task_count", ()));
        sendable(host.drive());
        sendable(host.memory_size());
    }
    let _ = calls;
}

/// A module whose pending `deep()` recurses 100 million calls deep.
const DEEP: &str = r#"
(module
  (import "wasmexport" "[task-return]deep" (func (param i32)))
  (memory (export "memory") 1)
  (func $down (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
      (else (i32.const 0))))
  (func (export "deep") (result i32)
    (drop (call $down (i32.const 100000000)))
    (i32.const 0))
  (func (export "wasmexport_drive") (result i32) (i32.const -1))
  (func (export "wasmexport_complete") (param i32 i32) (result i32) (i32.const -1))
  (func (export "wasmexport_buffer") (param i32 i32) (result i32) (i32.const 0)))
"#;

#[tokio::test]
async fn a_guest_stack_larger_than_the_default_thread_traps_with_a_driver_stack_to_match() {
    patiently("a_guest_stack_larger_than_the_default_thread", async move {
        // 16 MiB of wasm stack: on the default 8 MiB driver thread, the process would abort.
        let mut config = wasmtime::Config::new();
        config.async_stack_size(24 << 20).max_wasm_stack(16 << 20);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let module = wasmtime::Module::new(&engine, DEEP).unwrap();
        let mut builder = Host::builder(&module);
        builder.driver_stack_size(32 << 20);
        let host = builder.start().await.unwrap();
        let e = host.call_pending::<_, ()>("deep", ()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Trap, "{e}");
        assert!(e.to_string().contains("call stack exhausted"), "{e}");
    })
    .await
}
