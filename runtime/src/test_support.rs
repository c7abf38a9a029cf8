//! What the crate's host-side tests share.

use crate::gate;

/// Runs `f` on a thread of its own (so with the runtime's per-thread state fresh), after the
/// initialization an instance's `_initialize` does.
pub(crate) fn on_fresh_thread(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        gate::begin_init("test");
        gate::finish_init();
        f();
    })
    .join()
    .unwrap();
}

/// The host has threads: the runtime's per-thread state must be thread-locals here (the tests
/// run each on a thread of its own), which its build script decides.
#[test]
fn the_host_is_not_taken_for_a_target_with_one_thread() {
    // `black_box`: checked as the test runs (a failure is a failed test, not a build error).
    assert!(!std::hint::black_box(crate::__private::ONE_THREAD));
}
