//! Per-thread state that costs a plain static on wasm32 without threads.
//!
//! `thread_local!` there is already a static, but reaching it goes through `LocalKey::with`,
//! which LLVM does not always inline: an indirect call per access, on every step of the run
//! loop. On that target the module has exactly one thread, so a static is the same thing; on
//! every other target (the crate's host-side tests, and wasm with threads: `wasm32-wasip1-threads`)
//! it stays a `thread_local!`. Which is which, build.rs says (`cfg(wasmexport_one_thread)`):
//! `cfg(target_feature = "atomics")` cannot, on stable Rust.

/// `per_thread! { static NAME: Type = const_expr; }`: `NAME.with(|v| ..)` and
/// `NAME.try_with(|v| ..)` (an `Err` only on a host thread that is exiting) as with
/// `thread_local!`.
macro_rules! per_thread {
    ($(#[$attr:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        $(#[$attr])*
        #[cfg(wasmexport_one_thread)]
        static $name: $crate::local::Static<$ty> = $crate::local::Static($init);
        #[cfg(not(wasmexport_one_thread))]
        ::std::thread_local! {
            $(#[$attr])*
            static $name: $ty = const { $init };
        }
    };
}
pub(crate) use per_thread;

/// The state of the one thread.
#[cfg(wasmexport_one_thread)]
pub(crate) struct Static<T>(pub(crate) T);

// SAFETY: `wasmexport_one_thread` (build.rs) is set only for wasm without the atomics feature
// (by the target's feature list and name, so `wasm32-wasip1-threads` is not one), which has one
// thread: nothing is ever shared with another thread.
#[cfg(wasmexport_one_thread)]
unsafe impl<T> Sync for Static<T> {}

#[cfg(wasmexport_one_thread)]
impl<T> Static<T> {
    #[inline(always)]
    pub(crate) fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0)
    }

    #[inline(always)]
    pub(crate) fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, ()> {
        Ok(f(&self.0))
    }
}
