//! The clock and the wait of wasm32-unknown-unknown, which has no WASI: the time is the host's,
//! read through the fn given to `time::set_clock`, and nothing can block.
//!
//! std's `Instant::now` panics on this target ("time not implemented on this platform"), and
//! std offers no other way to make an `Instant`, so deadlines here are the runtime's own type.
// The crate's own tests build this module on the host, where only the tests use it.
#![cfg_attr(test, allow(dead_code))]

use crate::local::per_thread;
use std::cell::Cell;
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

per_thread! {
    /// The host's clock, in nanoseconds: the fn given to `time::set_clock`.
    static CLOCK: Cell<Option<fn() -> u64>> = Cell::new(None);
}

/// See `wasmexport::time::set_clock`.
pub(crate) fn set_clock(now_ns: fn() -> u64) {
    CLOCK.with(|c| c.set(Some(now_ns)));
}

/// A point on the host's monotonic clock, in nanoseconds since the clock's own origin: what
/// `std::time::Instant` is on other targets, with the same methods (those this target can
/// have). Only [`Instant::now`] reads the clock; the rest is arithmetic.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The latest point the type can hold: a deadline past it is as good as never.
    pub(crate) const MAX: Instant = Instant(u64::MAX);

    /// Now, on the clock given to [`set_clock`](crate::time::set_clock).
    ///
    /// Without one, this traps with a `wasmexport:` line saying to set one (and the instance is
    /// poisoned, as after any trap inside a call).
    pub fn now() -> Instant {
        match CLOCK.with(Cell::get) {
            Some(now_ns) => Instant(now_ns()),
            None => no_clock(),
        }
    }

    /// The nanoseconds since the clock's origin: the value its `now_ns` fn returned.
    pub fn as_nanos(&self) -> u64 {
        self.0
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_sub(earlier.0).map(Duration::from_nanos)
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// The time since `self`, on the host's clock (which [`Instant::now`] reads).
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self + duration`, or `None` past what the type holds (584 years of nanoseconds).
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        let nanos = u64::try_from(duration.as_nanos()).ok()?;
        self.0.checked_add(nanos).map(Instant)
    }

    /// `self - duration`, or `None` before the clock's origin.
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        let nanos = u64::try_from(duration.as_nanos()).ok()?;
        self.0.checked_sub(nanos).map(Instant)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({} ns)", self.0)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    /// Past what the type holds, as `std::time::Instant` does.
    fn add(self, duration: Duration) -> Instant {
        self.checked_add(duration).expect("overflow when adding duration to instant")
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        *self = *self + duration;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    /// Before the clock's origin, as `std::time::Instant` does.
    fn sub(self, duration: Duration) -> Instant {
        self.checked_sub(duration).expect("overflow when subtracting duration from instant")
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, duration: Duration) {
        *self = *self - duration;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Zero if `earlier` is later, as `std::time::Instant` does.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

#[cold]
#[inline(never)]
fn no_clock() -> ! {
    crate::gate::trap_poisoning(format_args!(
        "timers need a clock, and wasm32-unknown-unknown has none: give the runtime the host's \
         monotonic time in nanoseconds with wasmexport::time::set_clock(now_ns) (a fn that calls \
         a #[wasmimport] of the host's clock), from a #[wasmexport::init] fn"
    ))
}

/// The executor has nothing to run and waits for `deadline`; without WASI nothing can block
/// the thread, so this traps, naming the ways out.
#[cold]
#[inline(never)]
pub(crate) fn block_until(deadline: Instant) {
    let _ = deadline;
    crate::gate::trap_poisoning(format_args!(
        "export \"{}\" waits for a timer with nothing else to do, and wasm32-unknown-unknown \
         cannot block: let the host's event loop run the timers: call wasmexport::drive() from an \
         export the host calls again (a tick), or make the export #[wasmexport(pending)]",
        crate::gate::current_export()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_nanoseconds_with_std_s_arithmetic() {
        let t = Instant(1_000);
        assert_eq!(t + Duration::from_nanos(500), Instant(1_500));
        assert_eq!(t - Duration::from_nanos(400), Instant(600));
        assert_eq!(Instant(1_500) - t, Duration::from_nanos(500));
        assert_eq!(t - Instant(1_500), Duration::ZERO, "saturates, as std's does");
        assert_eq!(t.checked_duration_since(Instant(1_500)), None);
        assert_eq!(t.checked_sub(Duration::from_nanos(1_001)), None);
        assert_eq!(Instant(u64::MAX - 1).checked_add(Duration::from_nanos(2)), None);
        assert_eq!(t.checked_add(Duration::MAX), None, "past u64 nanoseconds");
        assert!(Instant(1) < Instant(2) && Instant::MAX > Instant(u64::MAX - 1));
    }

    fn fixed_clock() -> u64 {
        42_000_000
    }

    #[test]
    fn now_reads_the_clock_it_was_given() {
        std::thread::spawn(|| {
            set_clock(fixed_clock);
            assert_eq!(Instant::now(), Instant(42_000_000));
            assert_eq!(Instant(41_000_000).elapsed(), Duration::from_millis(1));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn now_without_a_clock_traps_saying_to_set_one() {
        // Off wasm a trap is a panic with the line; a thread of its own keeps the poison there.
        let err = std::thread::spawn(Instant::now).join().unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.starts_with("wasmexport: timers need a clock"), "{msg}");
        assert!(msg.contains("wasmexport::time::set_clock"), "{msg}");
    }
}
