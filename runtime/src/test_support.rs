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
