//! Timers on wasip1's monotonic clock.
//!
//! A timer only fires while the module is entered: the executor looks at the clock between
//! tasks, and when nothing is ready it blocks the thread in `poll_oneoff` (what
//! `std::thread::sleep` does on wasm32-wasip1) until the earliest deadline. Between export
//! calls nothing runs, so a timer due then fires at the start of the next call that waits.
//!
//! ```
//! use std::time::Duration;
//! use wasmexport::time::{sleep, timeout};
//!
//! async fn slow() -> u32 {
//!     sleep(Duration::from_millis(50)).await;
//!     7
//! }
//!
//! # async fn run() {
//! assert_eq!(timeout(Duration::from_secs(1), slow()).await, Ok(7));
//! assert!(timeout(Duration::from_millis(1), slow()).await.is_err());
//! # }
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Armed timers, by deadline; the `u64` tells apart timers with the same deadline.
struct Timers {
    armed: BTreeMap<(Instant, u64), Waker>,
    next_id: u64,
    /// Set by the first timer armed; see [`Clock`].
    clock: Option<&'static Clock>,
}

/// The executor reads the clock and blocks in `poll_oneoff` only through this, which only
/// [`Sleep`] refers to: a module that never sleeps links neither, and so does not import WASI's
/// `clock_time_get` and `poll_oneoff` (every import costs each instantiation: under Node, a
/// `node:wasi` import costs about as much as instantiating a whole hand-written module).
struct Clock {
    now: fn() -> Instant,
    sleep: fn(Duration),
}

static CLOCK: Clock = Clock { now: Instant::now, sleep: std::thread::sleep };

thread_local! {
    static TIMERS: RefCell<Timers> = const {
        RefCell::new(Timers { armed: BTreeMap::new(), next_id: 0, clock: None })
    };
}

/// Wakes every timer that is due; true if any was.
pub(crate) fn fire_expired() -> bool {
    if TIMERS.with(|t| t.borrow().armed.is_empty()) {
        return false;
    }
    let due: Vec<Waker> = TIMERS.with(|t| {
        let mut t = t.borrow_mut();
        let Some((&(first, _), _)) = t.armed.first_key_value() else { return Vec::new() };
        let Some(clock) = t.clock else { return Vec::new() };
        let now = (clock.now)();
        if first > now {
            return Vec::new();
        }
        let later = t.armed.split_off(&(now, u64::MAX));
        std::mem::replace(&mut t.armed, later).into_values().collect()
    });
    let fired = !due.is_empty();
    due.into_iter().for_each(Waker::wake);
    fired
}

/// The earliest armed deadline.
pub(crate) fn next_deadline() -> Option<Instant> {
    TIMERS.with(|t| t.borrow().armed.first_key_value().map(|(&(d, _), _)| d))
}

/// Blocks the thread (in `poll_oneoff` on wasip1) until `deadline`.
pub(crate) fn block_until(deadline: Instant) {
    // A deadline exists only once a timer was armed, which set the clock.
    let Some(clock) = TIMERS.with(|t| t.borrow().clock) else { return };
    let now = (clock.now)();
    if deadline > now {
        (clock.sleep)(deadline - now);
    }
}

/// Waits until `duration` has passed.
///
/// The timer runs on the monotonic clock and fires only while the module is entered (see the
/// [module docs](self)).
pub fn sleep(duration: Duration) -> Sleep {
    let now = Instant::now();
    // A deadline past what `Instant` can hold is as good as never.
    let deadline =
        now.checked_add(duration).unwrap_or(now + Duration::from_secs(86_400 * 365 * 100));
    sleep_until(deadline)
}

/// Waits until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline, key: None }
}

/// The future of [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    key: Option<(Instant, u64)>,
}

impl Sleep {
    /// When this sleep ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    fn disarm(&mut self) {
        if let Some(key) = self.key.take() {
            let _ = TIMERS.try_with(|t| t.borrow_mut().armed.remove(&key));
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.disarm();
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let key = TIMERS.with(|t| {
            let mut t = t.borrow_mut();
            if let Some(key) = self.key
                && let Some(waker) = t.armed.get_mut(&key)
            {
                waker.clone_from(cx.waker());
                return key;
            }
            let key = (deadline, t.next_id);
            t.next_id += 1;
            t.clock = Some(&CLOCK);
            t.armed.insert(key, cx.waker().clone());
            key
        });
        self.key = Some(key);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// The error of [`timeout`]: the time ran out first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Awaits `fut` for at most `duration`: `Ok(output)`, or `Err(Elapsed)` if the time ran out
/// first (then `fut` is dropped).
pub async fn timeout<F: Future>(duration: Duration, fut: F) -> Result<F::Output, Elapsed> {
    let mut fut = pin!(fut);
    let mut timer = sleep(duration);
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match Pin::new(&mut timer).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
