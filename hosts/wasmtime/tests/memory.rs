//! Memory stays flat: the module's linear memory after a million pending round trips (call,
//! WAIT, host operation, completion, `[task-return]`), a thousand in flight, is what it was
//! after the first thousand.

mod common;

use common::{Imports, Op, patiently, start, task_count};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use wasmexport_host::{Completion, Host};

/// Calls in flight at once.
const IN_FLIGHT: u32 = 1000;

/// Makes `total` round trips, `IN_FLIGHT` at a time, and checks each result.
async fn round_trips(host: &Host, total: u32) {
    let mut calls = JoinSet::new();
    for lane in 0..IN_FLIGHT {
        let host = host.clone();
        calls.spawn(async move {
            let mut i = lane;
            while i < total {
                let x = (i % 1000) as i32;
                let got = host.call_pending::<_, i32>("add_later", (x, 1)).await.unwrap();
                assert_eq!(got, x * 10 + 1);
                i += IN_FLIGHT;
            }
        });
    }
    while let Some(lane) = calls.join_next().await {
        lane.unwrap();
    }
}

async fn memory_after(total: u32) {
    // The first thousand calls all wait in the module at once (their operations complete when
    // the last has started): the most that are ever pending below, so the heap's high-water
    // mark is reached before the first measure. Later operations complete at once.
    let started = Arc::new(AtomicU32::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let imports = Imports {
        number: Arc::new({
            let (started, gate) = (started.clone(), gate.clone());
            move |x| -> Op {
                let first = started.fetch_add(1, Ordering::Relaxed) < IN_FLIGHT;
                let gate = gate.clone();
                Box::pin(async move {
                    if first {
                        let _pass = gate.acquire().await.expect("the gate stays open");
                    }
                    Completion::Value(x * 10)
                })
            }
        }),
        ..Imports::default()
    };
    let host = start(imports).await;
    let warm_up = tokio::spawn({
        let host = host.clone();
        async move { round_trips(&host, IN_FLIGHT).await }
    });
    while task_count(&host).await < IN_FLIGHT + 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gate.add_permits(IN_FLIGHT as usize);
    warm_up.await.unwrap();
    let warm = host.memory_size().await.unwrap();
    round_trips(&host, total).await;
    let after = host.memory_size().await.unwrap();
    assert_eq!(after, warm, "linear memory after 1,000 round trips and after {total} more");
    assert_eq!(task_count(&host).await, 1);
}

/// The bounded variant that every test run makes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_is_flat_over_a_hundred_thousand_round_trips() {
    patiently("memory_is_flat_over_a_hundred_thousand_round_trips", async move {
        memory_after(100_000).await;
    })
    .await
}

/// A million: `cargo test --release -p wasmexport-host --test memory -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a million round trips: run with --release -- --ignored"]
async fn memory_is_flat_over_a_million_round_trips() {
    memory_after(1_000_000).await;
}
