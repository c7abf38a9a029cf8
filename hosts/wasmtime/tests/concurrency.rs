//! Many pending calls at once: a thousand from as many tokio tasks on a multi-thread runtime,
//! and ten thousand that all wait in one instance at the same time.

mod common;

use common::{Imports, Op, patiently, staggered, start, task_count};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use wasmexport_host::Completion;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_calls_from_separate_tasks_each_get_their_own_result() {
    patiently("a_thousand_calls_from_separate_tasks_each_get_their_own_result", async move {
        // `number(x)` completes with x * 10 after 0 to 9 ms, so the calls finish out of order.
        let host = start(staggered(10)).await;
        let mut calls = JoinSet::new();
        for i in 0..1000 {
            let host = host.clone();
            calls.spawn(async move { (i, host.call_pending::<_, i32>("add_later", (i, i)).await) });
        }
        let mut seen = 0;
        while let Some(joined) = calls.join_next().await {
            let (i, result) = joined.unwrap();
            assert_eq!(result.unwrap(), i * 11, "call {i}");
            seen += 1;
        }
        assert_eq!(seen, 1000);
        assert_eq!(task_count(&host).await, 1);
    })
    .await
}

#[tokio::test]
async fn ten_thousand_calls_overlap_in_one_instance() {
    patiently("ten_thousand_calls_overlap_in_one_instance", async move {
        const CALLS: usize = 10_000;
        // Every `number(x)` waits at the gate until all the calls have started theirs.
        let started = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(0));
        let imports = Imports {
            number: Arc::new({
                let (started, gate) = (started.clone(), gate.clone());
                move |x| -> Op {
                    started.fetch_add(1, Ordering::Relaxed);
                    let gate = gate.clone();
                    Box::pin(async move {
                        let _pass = gate.acquire().await.expect("the gate stays open");
                        Completion::Value(x * 10)
                    })
                }
            }),
            ..Imports::default()
        };
        let host = start(imports).await;
        let mut calls = JoinSet::new();
        for i in 0..CALLS as i32 {
            let host = host.clone();
            calls.spawn(async move { (i, host.call_pending::<_, i32>("add_later", (i, 1)).await) });
        }
        while started.load(Ordering::Relaxed) < CALLS {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(task_count(&host).await as usize, CALLS + 1, "every call waits in the module");
        gate.add_permits(CALLS);
        while let Some(joined) = calls.join_next().await {
            let (i, result) = joined.unwrap();
            assert_eq!(result.unwrap(), i * 10 + 1, "call {i}");
        }
        assert_eq!(task_count(&host).await, 1);
    })
    .await
}
