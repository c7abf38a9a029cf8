//! What the executor promises beyond running tasks: nothing left queued by a call, timers
//! under calls that keep yielding, wakers that use the runtime themselves, and panics in tasks
//! that name where the task was spawned.

use crate::KEPT;
use futures::channel::{mpsc, oneshot};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, SinkExt, StreamExt};
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;
use wasmexport::time::{Sleep, sleep};
use wasmexport::{spawn, task_count, wasmexport, yield_now};

// Stale wakes and leftover queue entries.

/// The smallest future that wakes itself and completes in the same poll.
fn wake_and_finish() -> impl Future<Output = u32> {
    poll_fn(|cx| {
        cx.waker().wake_by_ref();
        Poll::Ready(1)
    })
}

#[wasmexport]
async fn self_wake_ready() -> u32 {
    wake_and_finish().await
}

/// `FuturesUnordered` where one child completes another: it wakes the call's waker and is done
/// in the same poll.
#[wasmexport]
async fn futures_unordered() -> u32 {
    let (tx, rx) = oneshot::channel::<u32>();
    let mut set = FuturesUnordered::new();
    set.push(async move { rx.await.unwrap_or(100) }.boxed_local());
    set.push(
        async move {
            let _ = tx.send(2);
            1
        }
        .boxed_local(),
    );
    let mut sum = 0;
    while let Some(x) = set.next().await {
        sum += x;
    }
    sum
}

/// Keeps the waker of this call, which returns at once.
#[wasmexport]
async fn keep_waker() -> u32 {
    poll_fn(|cx| {
        KEPT.set(Some(cx.waker().clone()));
        Poll::Ready(1)
    })
    .await
}

/// One call of a mix of the futures ecosystem's patterns, by `i % 6`; returns a value the
/// host checks (`i % 6 + 1`).
#[wasmexport]
async fn mix(i: u32) -> u32 {
    match i % 6 {
        0 => futures_unordered().await - 2,
        1 => {
            let (a, b) = futures::join!(
                async {
                    yield_now().await;
                    1
                },
                spawn(async { 1 })
            );
            a + b
        }
        2 => {
            let (tx, rx) = oneshot::channel::<u32>();
            spawn(async move {
                let _ = tx.send(3);
            })
            .detach();
            let mut rx = rx.fuse();
            let mut never = std::future::pending::<u32>().boxed_local().fuse();
            futures::select! {
                x = rx => x.unwrap_or(0),
                x = never => x,
            }
        }
        3 => {
            let (mut tx, mut rx) = mpsc::channel::<u32>(1);
            spawn(async move {
                for x in [1, 3] {
                    let _ = tx.send(x).await;
                }
            })
            .detach();
            let mut sum = 0;
            while let Some(x) = rx.next().await {
                sum += x;
            }
            sum
        }
        4 => {
            let (tx, rx) = async_channel::bounded::<u32>(1);
            spawn(async move {
                let _ = tx.send(5).await;
            })
            .detach();
            rx.recv().await.unwrap_or(0)
        }
        _ => {
            let mut sum = 0;
            for _ in 0..6 {
                sum += wake_and_finish().await;
            }
            sum
        }
    }
}

// Timers while a call keeps yielding.

/// Yields until a task sleeping `ms` has finished: the call never waits, so only a look at the
/// clock while it yields lets the timer fire.
#[wasmexport]
async fn yield_until_timer(ms: u32) -> i32 {
    let h = spawn(async move {
        sleep(Duration::from_millis(ms.into())).await;
        7
    });
    while !h.is_finished() {
        yield_now().await;
    }
    h.await
}

thread_local! {
    static TIMER_FIRED: Cell<bool> = const { Cell::new(false) };
}

/// Starts a task that sets a flag when a `ms` timer fires; returns once the timer is armed.
#[wasmexport]
async fn arm_timer(ms: u32) {
    TIMER_FIRED.set(false);
    spawn(async move {
        sleep(Duration::from_millis(ms.into())).await;
        TIMER_FIRED.set(true);
    })
    .detach();
    yield_now().await;
}

/// 1 if the timer of `arm_timer` has fired by the time one `yield_now` resumes.
#[wasmexport]
async fn yield_sees_timer() -> i32 {
    yield_now().await;
    i32::from(TIMER_FIRED.get())
}

// Wakers that run code of their own inside the runtime.

/// A waker whose clone, wake and drop use the runtime (spawn, a timer, `task_count`), and whose
/// last drop also drops an armed `Sleep` it owns.
struct Meddler {
    inner: Waker,
    victim: RefCell<Option<Pin<Box<Sleep>>>>,
}

impl Drop for Meddler {
    fn drop(&mut self) {
        meddle();
        drop(self.victim.take());
    }
}

/// Uses the runtime: counts tasks, spawns one, arms and disarms a timer.
fn meddle() {
    let _ = task_count();
    spawn(async {}).detach();
    let mut timer = Box::pin(sleep(Duration::from_secs(3600)));
    let _ = timer.as_mut().poll(&mut Context::from_waker(Waker::noop()));
}

fn armed_sleep(d: Duration) -> Pin<Box<Sleep>> {
    let mut timer = Box::pin(sleep(d));
    let _ = timer.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    timer
}

static MEDDLER: RawWakerVTable = RawWakerVTable::new(
    |data| {
        meddle();
        // SAFETY: `data` is an `Rc<Meddler>` from `meddler`, alive while this waker is.
        unsafe { Rc::increment_strong_count(data.cast::<Meddler>()) };
        RawWaker::new(data, &MEDDLER)
    },
    |data| {
        meddle();
        // SAFETY: as above; `wake` consumes this waker's count.
        let m = unsafe { Rc::from_raw(data.cast::<Meddler>()) };
        m.inner.wake_by_ref();
    },
    |data| {
        meddle();
        // SAFETY: as above.
        unsafe { &*data.cast::<Meddler>() }.inner.wake_by_ref();
    },
    // SAFETY: as above; `drop` releases this waker's count.
    |data| unsafe { Rc::decrement_strong_count(data.cast::<Meddler>()) },
);

fn meddler(inner: &Waker, victim: Option<Pin<Box<Sleep>>>) -> Waker {
    let m = Rc::new(Meddler { inner: inner.clone(), victim: RefCell::new(victim) });
    // SAFETY: the vtable keeps the `Rc` count right; this module has one thread.
    unsafe { Waker::from_raw(RawWaker::new(Rc::into_raw(m).cast(), &MEDDLER)) }
}

/// Polls timers with meddling wakers: one that the timer table holds the last reference to
/// (replacing it drops a `Sleep`), and one that wakes the call when its timer fires. Returns
/// `task_count()` once done.
#[wasmexport]
async fn meddling_wakers() -> u32 {
    let mut timer = pin!(sleep(Duration::from_millis(5)));
    poll_fn(|cx| {
        let w = meddler(cx.waker(), Some(armed_sleep(Duration::from_secs(60))));
        let _ = timer.as_mut().poll(&mut Context::from_waker(&w));
        Poll::Ready(())
    })
    .await;
    // Polled with the call's own waker, the timer drops the meddler, and with it a `Sleep`.
    timer.await;
    let mut timer = pin!(sleep(Duration::from_millis(2)));
    poll_fn(|cx| {
        let w = meddler(cx.waker(), Some(armed_sleep(Duration::from_secs(60))));
        timer.as_mut().poll(&mut Context::from_waker(&w))
    })
    .await;
    spawn(async { yield_now().await }).await;
    task_count() as u32
}

// Panics in tasks name where the task was spawned.

/// Starts a task that panics when it runs (in whatever call runs it).
#[wasmexport]
fn spawn_panicker() {
    spawn(async { panic!("boom") }).detach(); // spawn site: spawn_panicker
}

/// Starts a task that starts the task that panics.
#[wasmexport]
fn spawn_spawner() {
    spawn(async {
        yield_now().await;
        spawn(async { panic!("deep") }).detach(); // spawn site: spawn_spawner
    })
    .detach();
}
