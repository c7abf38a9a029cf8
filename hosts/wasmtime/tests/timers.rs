//! The guest's timers fire through tokio's timer: a guest sleep resolves after its duration,
//! while the runtime (a current-thread one) goes on running other tasks and other calls; an
//! earlier timer replaces a later one; timers in spawned tasks fire too.

mod common;

use common::{Imports, patiently, start, task_count, ticker};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::{Instant, timeout};

/// Far beyond any sleep here: a timer that never fires fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_guest_sleep_resolves_on_tokio_while_the_runtime_runs_other_tasks() {
    patiently("a_guest_sleep_resolves_on_tokio_while_the_runtime_runs_other_tasks", async move {
        let host = start(Imports::default()).await;
        let (ticks, ticker) = ticker(Duration::from_millis(10));
        let begin = Instant::now();
        let sleep = tokio::spawn({
            let host = host.clone();
            async move { host.call_pending::<_, u32>("sleep_ms", (300,)).await }
        });
        // Other calls go through while the guest sleeps.
        assert_eq!(host.call_pending::<_, i32>("add_later", (1, 1)).await.unwrap(), 11);
        assert!(!sleep.is_finished());
        let slept = timeout(PATIENCE, sleep).await.expect("the guest's timer fired").unwrap();
        assert_eq!(slept.unwrap(), 300);
        assert!(begin.elapsed() >= Duration::from_millis(300), "not before its deadline");
        // The ticker ran during the sleep on this one-thread runtime: nothing blocked it.
        let ticked = ticks.load(Ordering::Relaxed);
        assert!(
            ticked >= 3,
            "the runtime ran other tasks during the guest's sleep ({ticked} ticks)"
        );
        ticker.abort();
        assert_eq!(task_count(&host).await, 1);
    })
    .await
}

#[tokio::test]
async fn an_earlier_timer_replaces_a_later_one() {
    patiently("an_earlier_timer_replaces_a_later_one", async move {
        let host = start(Imports::default()).await;
        let long = tokio::spawn({
            let host = host.clone();
            async move { host.call_pending::<_, u32>("sleep_ms", (1500,)).await }
        });
        // Let the long call arm its timer first.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let short = timeout(PATIENCE, host.call_pending::<_, u32>("sleep_ms", (20,))).await;
        assert_eq!(short.expect("the short timer fired").unwrap(), 20);
        // The long call still sleeps in the module: the short one's timer fired on its own.
        assert_eq!(task_count(&host).await, 2, "the long call and this one");
        assert!(!long.is_finished());
        assert_eq!(timeout(PATIENCE, long).await.unwrap().unwrap().unwrap(), 1500);
    })
    .await
}

#[tokio::test]
async fn timers_in_spawned_tasks_fire() {
    patiently("timers_in_spawned_tasks_fire", async move {
        let host = start(Imports::default()).await;
        let begin = Instant::now();
        // 20 tasks, each sleeping 50 ms and then awaiting `number(i)` = i * 10.
        let sum = timeout(PATIENCE, host.call_pending::<_, u64>("spawn_sum", (20, 50))).await;
        assert_eq!(sum.expect("the tasks' timers fired").unwrap(), (0..20).map(|i| i * 10).sum());
        assert!(begin.elapsed() >= Duration::from_millis(50));
        assert_eq!(host.drive().await.unwrap(), None, "no timer is left armed");
    })
    .await
}
