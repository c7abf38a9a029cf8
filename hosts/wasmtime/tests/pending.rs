//! Pending exports resolve with their results, of every result type, whether they complete
//! during their call or later; async host functions become guest futures that complete with a
//! number or with bytes, in any order; spawned tasks await them too.

mod common;

use common::{Imports, Op, patiently, start, task_count};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use wasmexport_host::{Completion, ErrorKind};

#[tokio::test]
async fn results_of_every_type_resolve_with_their_values() {
    patiently("results_of_every_type_resolve_with_their_values", async move {
        let host = start(Imports::default()).await;
        let call = |export: &'static str| format!("{export} (pending)");
        // Completes during its call (EXIT).
        let echo = host.call_pending::<_, i32>("echo", (7,));
        assert_eq!(patiently(&call("echo"), echo).await.unwrap(), 7);
        // Completes when the host's number comes (WAIT): 4 * 10 + 2.
        let add = host.call_pending::<_, i32>("add_later", (4, 2));
        assert_eq!(patiently(&call("add_later"), add).await.unwrap(), 42);
        let add = host.call_pending::<_, i32>("add_later", (-3, 0));
        assert_eq!(patiently(&call("add_later"), add).await.unwrap(), -30);
        // i64: the sum of the bytes 1..=4.
        let sum = host.call_pending::<_, i64>("bytes_sum", (4,));
        assert_eq!(patiently(&call("bytes_sum"), sum).await.unwrap(), 10);
        // u32 and f64.
        let len = host.call_pending::<_, u32>("bytes_len", (300,));
        assert_eq!(patiently(&call("bytes_len"), len).await.unwrap(), 300);
        let half = host.call_pending::<_, f64>("half", (5.0,));
        assert_eq!(patiently(&call("half"), half).await.unwrap(), 2.5);
        // No result.
        let unit = host.call_pending::<_, ()>("unit_later", ());
        patiently(&call("unit_later"), unit).await.unwrap();
        assert_eq!(task_count(&host).await, 1, "every call's task is gone");
    })
    .await
}

#[tokio::test]
async fn a_call_that_yields_resolves() {
    patiently("a_call_that_yields_resolves", async move {
        let host = start(Imports::default()).await;
        // Its task yields during the call's drive, so it is still ready when the call returns.
        let yielded = host.call_pending::<_, i32>("yielded", (5,));
        assert_eq!(patiently("yielded (pending)", yielded).await.unwrap(), 5);
    })
    .await
}

/// One operation the guest started: its argument, and how the test completes it.
type Started = (i32, oneshot::Sender<Completion>);

/// Imports whose `number(x)` and `bytes(n)` wait for the test to complete them through the
/// senders that `rx` hands out.
fn held() -> (Imports, mpsc::UnboundedReceiver<Started>) {
    let (tx, rx) = mpsc::unbounded_channel::<Started>();
    let op = move |x: i32| -> Op {
        let (done, wait) = oneshot::channel();
        tx.send((x, done)).expect("the test is waiting");
        Box::pin(async move { wait.await.expect("the test completes every operation") })
    };
    let op = Arc::new(op);
    let imports = Imports { number: op.clone(), bytes: op };
    (imports, rx)
}

#[tokio::test]
async fn host_operations_complete_later_and_in_any_order() {
    patiently("host_operations_complete_later_and_in_any_order", async move {
        let (imports, mut started) = held();
        let host = start(imports).await;
        let calls: Vec<_> = (1..=3)
            .map(|x| {
                let host = host.clone();
                tokio::spawn(async move { host.call_pending::<_, i32>("add_later", (x, x)).await })
            })
            .collect();
        let mut ops = Vec::new();
        for _ in 0..3 {
            ops.push(started.recv().await.unwrap());
        }
        // Every call returned to the host and waits for its operation.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(calls.iter().all(|c| !c.is_finished()));
        assert_eq!(task_count(&host).await, 4, "three pending calls and this one");
        // Completed last to first, each with its own value.
        ops.sort_by_key(|(x, _)| *x);
        for (x, done) in ops.into_iter().rev() {
            done.send(Completion::Value(x * 100)).unwrap();
        }
        for (x, call) in (1..=3).zip(calls) {
            assert_eq!(call.await.unwrap().unwrap(), x * 100 + x);
        }
        assert_eq!(task_count(&host).await, 1);
    })
    .await
}

/// Calls `bytes_sum` and completes its operation with `completion`; the call's result.
async fn bytes_sum_of(
    host: &wasmexport_host::Host,
    started: &mut mpsc::UnboundedReceiver<Started>,
    completion: Completion,
) -> i64 {
    let host = host.clone();
    let call = tokio::spawn(async move { host.call_pending::<_, i64>("bytes_sum", (0,)).await });
    let (_, done) = started.recv().await.unwrap();
    done.send(completion).unwrap();
    call.await.unwrap().unwrap()
}

#[tokio::test]
async fn bytes_arrive_as_ok_and_numbers_as_err() {
    patiently("bytes_arrive_as_ok_and_numbers_as_err", async move {
        let (imports, mut started) = held();
        let host = start(imports).await;
        let rx = &mut started;
        // A megabyte of 0xff.
        assert_eq!(
            bytes_sum_of(&host, rx, Completion::Bytes(vec![0xff; 1 << 20])).await,
            255 << 20
        );
        assert_eq!(bytes_sum_of(&host, rx, Completion::Bytes(vec![1, 2, 3])).await, 6);
        // A number completes `pending::bytes` with `Err(number)`: -1000 - 5.
        assert_eq!(bytes_sum_of(&host, rx, Completion::Value(5)).await, -1005);
        // No bytes are bytes too: `Ok` of nothing, not `Err(0)`.
        assert_eq!(bytes_sum_of(&host, rx, Completion::Bytes(Vec::new())).await, 0);
        assert_eq!(bytes_sum_of(&host, rx, Completion::Value(0)).await, -1000);
        assert_eq!(task_count(&host).await, 1);
    })
    .await
}

#[tokio::test]
async fn spawned_tasks_await_host_operations() {
    patiently("spawned_tasks_await_host_operations", async move {
        let host = start(Imports::default()).await;
        // 50 tasks, each awaiting `number(i)` = i * 10.
        let sum: u64 = host.call_pending("spawn_sum", (50, 0)).await.unwrap();
        assert_eq!(sum, (0..50).map(|i| i * 10).sum::<u64>());
        assert_eq!(task_count(&host).await, 1, "the spawned tasks finished");
    })
    .await
}

#[tokio::test]
async fn mismatched_calls_are_refused_and_leave_the_instance_usable() {
    patiently("mismatched_calls_are_refused_and_leave_the_instance_usable", async move {
        let host = start(Imports::default()).await;
        let refused = [
            // The result is an i32, not an i64.
            host.call_pending::<_, i64>("echo", (1,)).await.unwrap_err(),
            // The parameter is an i32.
            host.call_pending::<_, i32>("echo", (1i64,)).await.unwrap_err(),
            // Not a pending export.
            host.call_pending::<_, u32>("task_count", ()).await.unwrap_err(),
            host.call_pending::<_, i32>("no_such_export", ()).await.unwrap_err(),
        ];
        for e in refused {
            assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
        }
        assert_eq!(host.call_pending::<_, i32>("echo", (9,)).await.unwrap(), 9);
    })
    .await
}
