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
    static FREE: RefCell<(Option<Layout>, Vec<NonNull<u8>>)> =
        const { RefCell::new((None, Vec::new())) };
}

/// A future in a block of its own, which it never leaves (so it stays pinned however the
/// `InPlace` moves); dropping it drops the future and keeps the block for the next.
pub(crate) struct InPlace<T: Future> {
    at: NonNull<T>,
}

impl<T: Future> InPlace<T> {
    /// Puts the future `make` returns into a kept block, or a new one (built there, when the
    /// compiler sees through `make`, rather than moved).
    pub(crate) fn new(make: impl FnOnce() -> T) -> Self {
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
}

impl<T: Future> Future for InPlace<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        // SAFETY: the future lives at `at` until `drop`, which only this `InPlace` reaches, and
        // never moves from there.
        unsafe { Pin::new_unchecked(&mut *self.at.as_ptr()) }.poll(cx)
    }
}

impl<T: Future> Drop for InPlace<T> {
    fn drop(&mut self) {
        // SAFETY: the future at `at` is alive, and dropped once, here.
        unsafe { self.at.drop_in_place() };
        let (at, layout) = (self.at.cast::<u8>(), Layout::new::<T>());
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
            // SAFETY: `at` was allocated with the global allocator for `layout` (by `new`, or
            // by a `new` whose block was kept), and holds nothing now.
            unsafe { dealloc(at.as_ptr(), layout) };
        }
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
        type Output = u64;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u64> {
            Poll::Ready(self.1[39])
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
        assert_eq!(Pin::new(&mut first).poll(cx), Poll::Ready(7));
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
