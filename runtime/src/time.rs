//! Timers on wasip1's monotonic clock, or on the host's clock that [`set_clock`] wires in on
//! wasm32-unknown-unknown (see [no WASI](crate::_no_wasi)).
//!
//! A timer only fires while the module is entered. The executor looks at the clock when a call
//! starts to wait, before a call that woke itself (a `yield_now`, say) goes on, every 64 tasks
//! run while a timer is armed, and when nothing is ready; then it blocks the thread in
//! `poll_oneoff` (what `std::thread::sleep` does on wasm32-wasip1) until the earliest deadline.
//! So a call that keeps yielding cannot hide a due timer. Between export calls nothing runs: a timer due then fires
//! when the next call waits or yields, and its task runs before that call goes on.
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
//! # // What an async export does with `run` on wasm, run here on the host.
//! # wasmexport::__private::initialize();
//! # wasmexport::__private::call_async("run", run());
//! ```

use crate::local::per_thread;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

pub use crate::wait::set_max_wait;

/// A point on the clock of timers: [`std::time::Instant`], except on wasm32-unknown-unknown,
/// where std has no clock and this is the runtime's own type, a count of nanoseconds on the
/// clock given to [`set_clock`] (see [no WASI](crate::_no_wasi)).
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub use std::time::Instant;

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
pub use crate::wait::Instant;

/// Sets the clock of timers on wasm32-unknown-unknown: `now_ns` returns the host's monotonic
/// time in nanoseconds (typically a [`#[wasmimport]`](macro@crate::wasmimport) of the host's
/// `performance.now()` times 1e6). Call it before the first [`sleep`], for example from a
/// [`#[wasmexport::init]`](macro@crate::init) fn; a later call replaces the clock.
///
/// Without WASI there is no clock and no way to block: without `set_clock`, [`sleep`],
/// [`sleep_until`]'s poll and [`Instant::now`] trap with a `wasmexport:` line saying so, and
/// timers fire only while the module is entered, through [`drive`](crate::drive) or the calls
/// of a pending export's host (see [no WASI](crate::_no_wasi)).
///
/// On every other target (WASI, and host-side tests) the clock is the system's monotonic clock
/// and this does nothing, so that a crate built for both needs no `cfg`.
///
/// ```
/// use wasmexport::wasmimport;
///
/// #[wasmimport(module = "host", name = "now_ns")]
/// fn host_now_ns() -> u64;
///
/// fn now_ns() -> u64 {
///     // SAFETY: the host's import takes nothing and returns a plain integer.
///     unsafe { host_now_ns() }
/// }
///
/// #[wasmexport::init]
/// fn setup() {
///     wasmexport::time::set_clock(now_ns);
/// }
/// # fn main() {}
/// ```
pub fn set_clock(now_ns: fn() -> u64) {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    crate::wait::set_clock(now_ns);
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    let _ = now_ns;
}

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
    block_until: fn(Instant),
}

static CLOCK: Clock = Clock { now, block_until: wait_until };

thread_local! {
    static TIMERS: RefCell<Timers> = const {
        RefCell::new(Timers { armed: BTreeMap::new(), next_id: 0, clock: None })
    };
}

per_thread! {
    /// How many timers are armed: the run loop's look at the clock, when none is, costs a load
    /// and a branch, inlined (not a call that borrows the table).
    static ARMED: Cell<usize> = Cell::new(0);
}

/// Keeps [`ARMED`] in step with the table, after each change of it.
fn count_armed(t: &Timers) {
    ARMED.with(|a| a.set(t.armed.len()));
    crate::gate::set_timers(!t.armed.is_empty());
}

/// True if a timer is armed.
#[inline(always)]
pub(crate) fn any_armed() -> bool {
    ARMED.with(Cell::get) != 0
}

/// Wakes every timer that is due; true if any was.
#[inline(always)]
pub(crate) fn fire_expired() -> bool {
    any_armed() && fire_due()
}

/// [`fire_expired`] once a timer is armed.
#[inline(never)]
fn fire_due() -> bool {
    let due: Vec<Waker> = TIMERS.with(|t| {
        let mut t = t.borrow_mut();
        let Some((&(first, _), _)) = t.armed.first_key_value() else { return Vec::new() };
        let Some(clock) = t.clock else { return Vec::new() };
        let now = (clock.now)();
        if first > now {
            return Vec::new();
        }
        let later = t.armed.split_off(&(now, u64::MAX));
        let due = std::mem::replace(&mut t.armed, later).into_values().collect();
        count_armed(&t);
        due
    });
    let fired = !due.is_empty();
    due.into_iter().for_each(Waker::wake);
    fired
}

/// The earliest armed deadline.
pub(crate) fn next_deadline() -> Option<Instant> {
    TIMERS.with(|t| t.borrow().armed.first_key_value().map(|(&(d, _), _)| d))
}

/// How long until the earliest armed deadline (zero if it has passed), if one is armed.
#[inline(always)]
pub(crate) fn until_next() -> Option<Duration> {
    if !any_armed() {
        return None;
    }
    until_armed()
}

/// [`until_next`] once a timer is armed.
#[inline(never)]
fn until_armed() -> Option<Duration> {
    let (deadline, clock) = TIMERS.with(|t| {
        let t = t.borrow();
        Some((t.armed.first_key_value()?.0.0, t.clock?))
    })?;
    Some(deadline.saturating_duration_since((clock.now)()))
}

/// Blocks the thread (in `poll_oneoff` on wasip1) until `deadline`, or for at most the cap that
/// `set_max_wait` set.
pub(crate) fn block_until(deadline: Instant) {
    // A deadline exists only once a timer was armed, which set the clock.
    let Some(clock) = TIMERS.with(|t| t.borrow().clock) else { return };
    (clock.block_until)(deadline);
}

/// The real wait, through [`CLOCK`].
#[cfg(not(test))]
fn wait_until(deadline: Instant) {
    crate::wait::block_until(deadline);
}

/// The monotonic clock (on wasm32-unknown-unknown, the host's, or a trap).
#[cfg(not(test))]
fn now() -> Instant {
    Instant::now()
}

#[cfg(test)]
use fake_clock::{block_until as wait_until, now};

/// The crate's own tests run timers on a clock of their own, one per thread, which they move
/// by hand, which "blocking" moves to the deadline at once, and which ticks 50 µs per read.
#[cfg(test)]
pub(crate) mod fake_clock {
    use std::cell::Cell;
    use std::time::{Duration, Instant};

    thread_local! {
        static NOW: Cell<Option<Instant>> = const { Cell::new(None) };
    }

    /// Each look at the clock moves it on a little, as real time passes while a call spins.
    pub(crate) fn now() -> Instant {
        NOW.with(|n| {
            let now = n.get().unwrap_or_else(Instant::now);
            n.set(Some(now + Duration::from_micros(50)));
            now
        })
    }

    pub(crate) fn advance(by: Duration) {
        NOW.with(|n| n.set(Some(now() + by)));
    }

    pub(crate) fn block_until(deadline: Instant) {
        if deadline > now() {
            NOW.with(|n| n.set(Some(deadline)));
        }
    }
}

/// Waits until `duration` has passed.
///
/// The timer runs on the monotonic clock and fires only while the module is entered (see the
/// [module docs](self)).
pub fn sleep(duration: Duration) -> Sleep {
    let now = now();
    // A deadline past what `Instant` can hold is as good as never.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    let never = || now + Duration::from_secs(86_400 * 365 * 100);
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    let never = || Instant::MAX;
    let deadline = now.checked_add(duration).unwrap_or_else(never);
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
            let waker = TIMERS.try_with(|t| {
                let mut t = t.borrow_mut();
                let waker = t.armed.remove(&key);
                count_armed(&t);
                waker
            });
            // Dropped here, after the borrow: a waker's drop is user code, which may use timers.
            drop(waker);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if now() >= self.deadline {
            self.disarm();
            return Poll::Ready(());
        }
        // Cloning and dropping wakers is user code, which may use timers itself: neither
        // happens while the timer table is borrowed.
        if let Some(key) = self.key
            && TIMERS.with(|t| t.borrow().armed.get(&key).is_some_and(|w| w.will_wake(cx.waker())))
        {
            return Poll::Pending;
        }
        let waker = cx.waker().clone();
        let deadline = self.deadline;
        let key = self.key;
        let (key, replaced) = TIMERS.with(|t| {
            let mut t = t.borrow_mut();
            let key = key.unwrap_or_else(|| {
                t.next_id += 1;
                (deadline, t.next_id)
            });
            t.clock = Some(&CLOCK);
            let replaced = t.armed.insert(key, waker);
            count_armed(&t);
            (key, replaced)
        });
        self.key = Some(key);
        drop(replaced);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Noop;

    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    fn armed() -> usize {
        ARMED.with(Cell::get)
    }

    #[test]
    fn the_armed_count_follows_the_timer_table() {
        let (a, b) = (Waker::from(Arc::new(Noop)), Waker::from(Arc::new(Noop)));
        let mut soon = Box::pin(sleep(Duration::from_millis(10)));
        let mut late = Box::pin(sleep(Duration::from_secs(10)));
        assert!(!any_armed());
        assert!(soon.as_mut().poll(&mut Context::from_waker(&a)).is_pending());
        assert!(late.as_mut().poll(&mut Context::from_waker(&a)).is_pending());
        assert_eq!(armed(), 2);
        // Polled again, with the same waker or another: still one timer each.
        assert!(late.as_mut().poll(&mut Context::from_waker(&a)).is_pending());
        assert!(late.as_mut().poll(&mut Context::from_waker(&b)).is_pending());
        assert_eq!(armed(), 2);
        fake_clock::advance(Duration::from_millis(20));
        assert!(fire_expired(), "the due timer fires");
        assert_eq!(armed(), 1);
        assert!(soon.as_mut().poll(&mut Context::from_waker(&a)).is_ready());
        assert_eq!(armed(), 1);
        drop(late);
        assert_eq!(armed(), 0);
        assert!(!fire_expired());
    }
}
