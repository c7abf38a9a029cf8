//! An opt-in cap on how long one blocking wait lasts, so that a host can interrupt a sleep.
//!
//! When nothing is ready and a timer is armed, the executor blocks in `poll_oneoff` until the
//! timer is due. A host's epoch or fuel interruption (wasmtime's `epoch_interruption`, which is
//! Extism's `timeout_ms`) only takes effect when wasm code runs, not while the host blocks in
//! its own `poll_oneoff`: a 1.5 s sleep under a 300 ms timeout runs its 1.5 s. With a cap, the
//! executor blocks at most that long at a time and then checks its timers again, which runs a
//! little wasm, where the host's interruption lands.

use std::cell::Cell;
use std::time::{Duration, Instant};

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

/// How long the executor may block now when its next timer is due at `deadline`.
pub(crate) fn capped(deadline: Instant) -> Instant {
    match MAX_WAIT.get() {
        Some(max) => Instant::now().checked_add(max).map_or(deadline, |end| end.min(deadline)),
        None => deadline,
    }
}
