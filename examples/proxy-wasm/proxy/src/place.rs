//! Memory for the handlers' futures, reused from one request to the next.
//!
//! A handler's future is a few hundred bytes (the filter's `async fn` with all it holds across
//! its waits), allocated for every request and freed when it ends: the allocator's slower path
//! for blocks of that size, twice per request. The futures of one filter all have one layout,
//! so the memory of one that ended is kept for the next, up to [`KEPT`] blocks.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// The most blocks kept: as many as requests in flight at once, on a busy worker.
const KEPT: usize = 64;

thread_local! {
    /// Free blocks, all of the layout beside them.
    static FREE: RefCell<Free> = const { RefCell::new(Free(None, Vec::new())) };
}

/// Free blocks (`.1`), all of layout `.0`; given back to the allocator when the thread ends.
struct Free(Option<Layout>, Vec<NonNull<u8>>);

impl Drop for Free {
    fn drop(&mut self) {
        if let Some(layout) = self.0 {
            for at in self.1.drain(..) {
                // SAFETY: a kept block was allocated with the global allocator for `layout`
                // (see `free`), holds nothing, and is in the list once.
                unsafe { dealloc(at.as_ptr(), layout) };
            }
        }
    }
}

/// A handler's future in a block of its own, which it never leaves (so it stays pinned however
/// the `InPlace` moves); dropping it drops the future and keeps the block for the next.
pub(crate) struct InPlace {
    at: NonNull<dyn Future<Output = ()>>,
}

impl InPlace {
    /// Puts the future `make` returns into a kept block, or a new one (built there, when the
    /// compiler sees through `make`, rather than moved), and polls it once with `cx`, as its
    /// own type (the compiler may inline that poll); the future if it is not ready.
    #[inline(always)]
    pub(crate) fn start<T: Future<Output = ()> + 'static>(
        make: impl FnOnce() -> T,
        cx: &mut Context<'_>,
    ) -> Option<Self> {
        let placed = Self::new(make);
        let at = placed.at.cast::<T>();
        // SAFETY: as in `poll`; `at` holds a `T`.
        if unsafe { Pin::new_unchecked(&mut *at.as_ptr()) }.poll(cx).is_pending() {
            return Some(placed);
        }
        // Ready: dropped as its own type, without the `dyn` calls of `drop`.
        std::mem::forget(placed);
        // SAFETY: the future at `at` is alive, and dropped once, here (`placed` is forgotten).
        unsafe { at.drop_in_place() };
        free(at.cast(), Layout::new::<T>());
        None
    }

    /// Puts the future `make` returns into a kept block, or a new one.
    #[inline(always)]
    pub(crate) fn new<T: Future<Output = ()> + 'static>(make: impl FnOnce() -> T) -> Self {
        let layout = Layout::new::<T>();
        assert!(layout.size() != 0, "a handler's future holds its request");
        let kept = FREE.with_borrow_mut(|f| if f.0 == Some(layout) { f.1.pop() } else { None });
        let at = kept.unwrap_or_else(|| {
            // SAFETY: the layout's size is not zero.
            NonNull::new(unsafe { alloc(layout) }).unwrap_or_else(|| handle_alloc_error(layout))
        });
        let at = at.cast::<T>();
        // SAFETY: `at` is a free block of `T`'s layout.
        unsafe { at.write(make()) };
        InPlace { at }
    }

    /// Polls the future (not again once it is ready).
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: the future lives at `at` until `drop`, which only this `InPlace` reaches, and
        // never moves from there.
        unsafe { Pin::new_unchecked(&mut *self.at.as_ptr()) }.poll(cx)
    }
}

impl Drop for InPlace {
    fn drop(&mut self) {
        // SAFETY: the future at `at` is alive (its layout is read first), and dropped once, here.
        let layout = Layout::for_value(unsafe { self.at.as_ref() });
        // SAFETY: as above.
        unsafe { self.at.drop_in_place() };
        free(self.at.cast(), layout);
    }
}

/// Keeps the block at `at`, of `layout`, for the next future, or gives it back to the
/// allocator.
fn free(at: NonNull<u8>, layout: Layout) {
    let kept = FREE.with_borrow_mut(|f| {
        if f.1.is_empty() {
            f.0 = Some(layout);
        }
        let keep = f.0 == Some(layout) && f.1.len() < KEPT;
        if keep {
            f.1.push(at);
        }
        keep
    });
    if !kept {
        // SAFETY: `at` was allocated with the global allocator for `layout` (by `new`, or by a
        // `new` whose block was kept), and holds nothing now.
        unsafe { dealloc(at.as_ptr(), layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::{FREE, InPlace, KEPT};
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::task::{Context, Poll, Waker};

    /// Ready at its first poll; counts its drops.
    struct Counted(Rc<Cell<u32>>, [u64; 40]);

    impl Future for Counted {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            assert!(self.1[39] < 9);
            Poll::Ready(())
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn a_block_is_reused_and_its_future_dropped_once() {
        let drops = Rc::new(Cell::new(0));
        let mut first = InPlace::new(|| Counted(drops.clone(), [7; 40]));
        let at = first.at.cast::<u8>();
        let cx = &mut Context::from_waker(Waker::noop());
        assert_eq!(first.poll(cx), Poll::Ready(()));
        drop(first);
        assert_eq!(drops.get(), 1);
        let second = InPlace::new(|| Counted(drops.clone(), [8; 40]));
        assert_eq!(second.at.cast::<u8>(), at, "the freed block is taken again");
        drop(second);
        assert_eq!(drops.get(), 2);
        // At most KEPT blocks are kept.
        let many: Vec<_> =
            (0..KEPT + 5).map(|_| InPlace::new(|| Counted(drops.clone(), [0; 40]))).collect();
        drop(many);
        assert_eq!(FREE.with_borrow(|f| f.1.len()), KEPT);
        assert_eq!(drops.get(), 2 + KEPT as u32 + 5);
    }
}
