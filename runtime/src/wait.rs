//! Blocking the thread until a deadline, for the idle executor.
//!
//! On wasm32-wasip1 this is one `poll_oneoff` call with a single subscription to the monotonic
//! clock, the call `std::thread::sleep` makes too, but with its answer checked: WASI hosts
//! differ here, and some have no clock subscriptions in `poll_oneoff`. Where it fails, std's
//! sleep panics with an assertion about errno values; where it returns at once without the
//! clock's event, std's sleep returns early and the executor would spin until the deadline (or
//! forever, if the host's clock does not move). This module traps instead, with a `wasmexport:`
//! line that names the host's answer.
//!
//! There is also an opt-in cap on how long one blocking wait lasts, so that a host can
//! interrupt a sleep ([`set_max_wait`]). When nothing is ready and a timer is armed, the executor blocks in `poll_oneoff` until the
//! timer is due. A host's epoch or fuel interruption (wasmtime's `epoch_interruption`, which is
//! Extism's `timeout_ms`) only takes effect when wasm code runs, not while the host blocks in
//! its own `poll_oneoff`: a 1.5 s sleep under a 300 ms timeout runs its 1.5 s. With a cap, the
//! executor blocks at most that long at a time and then checks its timers again, which runs a
//! little wasm, where the host's interruption lands.
//!
//! On wasm32-unknown-unknown there is neither a clock nor a way to block: the clock is the
//! host's, given to `time::set_clock`, deadlines are nanoseconds on it (this module's
//! [`Instant`]), and a call that would block traps with a `wasmexport:` line naming the ways
//! out (see [no WASI](crate::_no_wasi)).

use std::cell::Cell;
use std::time::Duration;
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
use std::time::Instant;

// Also in the crate's own tests, which check its arithmetic and its traps on the host.
#[cfg(any(all(target_family = "wasm", target_os = "unknown"), test))]
mod no_wasi;
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
pub use no_wasi::Instant;
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
pub(crate) use no_wasi::{block_until, set_clock};

/// The shortest cap: a shorter one would make waiting a busy loop.
const MIN: Duration = Duration::from_millis(1);

thread_local!(static MAX_WAIT: Cell<Option<Duration>> = const { Cell::new(None) });

/// Caps one blocking wait of the executor at `max` (at least 1 ms); `None`, the default,
/// waits in one piece.
///
/// With a cap, a long sleep is waited in slices of `max`, and the module runs a few wasm
/// instructions between them: a host's epoch interruption (Extism's `timeout_ms`) then ends
/// the call within about one slice instead of when the sleep is over. Each slice costs one
/// `poll_oneoff` round trip through the host: with 10 ms slices, about 15 to 35 ms of CPU per
/// second of sleep on wasmtime-based hosts (Extism's runtime, wasmtime-wasi), against well
/// under 1 ms without a cap. Nothing else changes: timers fire when they are due.
///
/// ```
/// use std::time::Duration;
///
/// #[wasmexport::init]
/// fn setup() {
///     // Extism's timeout can end a call that sleeps within about 10 ms.
///     wasmexport::time::set_max_wait(Some(Duration::from_millis(10)));
/// }
/// # fn main() {}
/// ```
pub fn set_max_wait(max: Option<Duration>) {
    MAX_WAIT.set(max.map(|m| m.max(MIN)));
}

/// Blocks the thread until `deadline` (returns at once if it has passed), or for at most the
/// cap that [`set_max_wait`] set: each look at the clock is a host call, so the one that starts
/// the wait also sets where the cap ends it.
// The crate's own tests wait on a fake clock instead.
#[cfg_attr(test, allow(dead_code))]
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub(crate) fn block_until(deadline: Instant) {
    let mut now = Instant::now();
    let end = match MAX_WAIT.get() {
        Some(max) => now.checked_add(max).map_or(deadline, |end| end.min(deadline)),
        None => deadline,
    };
    while now < end {
        sleep_for(end - now);
        now = Instant::now();
    }
}

/// Waits on the host's monotonic clock for `duration`, or traps if the host cannot.
#[cfg(all(target_os = "wasi", target_env = "p1"))]
fn sleep_for(duration: std::time::Duration) {
    // The preview 1 ABI's layouts (wasi_snapshot_preview1.witx), for wasm32, as bytes: a
    // struct's padding is never written, and the host reads every byte of the subscription
    // (pywasm reads the u32 clock id as a u64), so leftover stack bytes there would reach it.
    //
    // `subscription`, 48 bytes: userdata u64 @0, the tag u8 @8, then the clock variant at @16
    // (8-aligned): id u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40.
    // `event`, 32 bytes: userdata u64 @0, error u16 @8, type u8 @10, then `event_fd_readwrite`
    // (unused for a clock event) @16.
    #[repr(C, align(8))]
    struct Subscription([u8; 48]);
    #[repr(C, align(8))]
    struct Event([u8; 32]);
    const EVENTTYPE_CLOCK: u8 = 0;
    const CLOCKID_MONOTONIC: u32 = 1;
    /// Tells our event apart from anything a confused host might write.
    const USERDATA: u64 = 0x7761_736d_6578_7074; // "wasmexpt"

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        fn poll_oneoff(
            subscriptions: *const Subscription,
            events: *mut Event,
            count: usize,
            nevents: *mut usize,
        ) -> u16;
    }

    // Relative (flags 0), in nanoseconds; a wait past u64::MAX ns (584 years) is cut there, and
    // `block_until` waits again. Precision 0, and every padding byte 0.
    let timeout = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    let mut subscription = Subscription([0; 48]);
    subscription.0[..8].copy_from_slice(&USERDATA.to_le_bytes());
    subscription.0[8] = EVENTTYPE_CLOCK;
    subscription.0[16..20].copy_from_slice(&CLOCKID_MONOTONIC.to_le_bytes());
    subscription.0[24..32].copy_from_slice(&timeout.to_le_bytes());
    // The type byte starts as no event type, so that an event the host did not write is seen.
    let mut event = Event([0; 32]);
    event.0[10] = u8::MAX;
    let mut nevents = 0;
    // SAFETY: `subscription` is one valid subscription and `event` room for one event, both live
    // for the call and 8-aligned, and `nevents` is a valid place for the count: poll_oneoff
    // reads `count` (1) subscriptions and writes at most that many events and the count.
    let errno = unsafe { poll_oneoff(&subscription, &mut event, 1, &mut nevents) };
    if errno != 0 {
        cannot_wait(format_args!("failed with errno {errno}"));
    }
    let [u0, u1, u2, u3, u4, u5, u6, u7, e0, e1, kind, ..] = event.0;
    let userdata = u64::from_le_bytes([u0, u1, u2, u3, u4, u5, u6, u7]);
    let error = u16::from_le_bytes([e0, e1]);
    // The event, not `nevents`, says whether the clock fired: `@bjorn3/browser_wasi_shim`
    // writes the event but never the count (wasi-libc's sleep does not read it either).
    if userdata != USERDATA || kind != EVENTTYPE_CLOCK {
        cannot_wait(format_args!("returned without the clock's event ({nevents} events)"));
    }
    if error != 0 {
        cannot_wait(format_args!("returned the clock's event with errno {error}"));
    }
}

#[cfg(all(target_os = "wasi", target_env = "p1"))]
fn cannot_wait(answer: std::fmt::Arguments<'_>) -> ! {
    crate::trap::trap(format_args!(
        "the WASI host cannot wait for a timer: poll_oneoff with a clock subscription {answer}; \
         a call that waits for a timer with nothing else to do needs a host whose poll_oneoff \
         supports clock subscriptions; elsewhere, let the host's event loop run the timers: call \
         wasmexport::drive() from an export the host calls again (a tick), or make the export \
         #[wasmexport(pending)]"
    ))
}

/// Off wasip1 (host-side tests of a guest crate), std's sleep.
#[cfg(not(any(
    all(target_os = "wasi", target_env = "p1"),
    all(target_family = "wasm", target_os = "unknown")
)))]
fn sleep_for(duration: std::time::Duration) {
    std::thread::sleep(duration);
}
