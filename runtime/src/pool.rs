//! Free lists of small blocks, by size class, for task allocations.
//!
//! A background task is allocated when spawned and freed when its output is taken or dropped,
//! so a program that keeps handing work to tasks allocates and frees the same few sizes again
//! and again. wasi-libc's `dlmalloc` takes about 130 wasm instructions per `malloc` and as many
//! per `free`; a pop or a push on a free list takes a handful. The global allocator cannot be
//! chosen by a library (it is the application's), hence this pool in front of it.
//!
//! Blocks are multiples of 16 bytes up to [`MAX`] bytes, 16-aligned; a class keeps at most
//! [`KEEP`] bytes of free blocks and hands the rest back to the global allocator, so memory
//! stays bounded whatever the pattern of spawns. Larger or more aligned layouts go to the
//! global allocator directly.

use crate::local::per_thread;
use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// The largest block the pool keeps.
const MAX: usize = 512;
/// Granularity and alignment of the blocks.
const ALIGN: usize = 16;
const CLASSES: usize = MAX / ALIGN;
/// Bytes of free blocks a class keeps at most.
const KEEP: usize = 256 * 1024;

/// A free block: its first word links to the next.
struct Free {
    next: *mut Free,
}

struct Pool {
    free: [Cell<*mut Free>; CLASSES],
    kept: [Cell<usize>; CLASSES],
}

per_thread! {
    static POOL: Pool = Pool {
        free: [const { Cell::new(ptr::null_mut()) }; CLASSES],
        kept: [const { Cell::new(0) }; CLASSES],
    };
}

/// When a host thread ends (the crate's host-side tests, a guest crate's host-side tests), the
/// blocks its pool keeps go back to the global allocator. wasm32's one pool is a static, never
/// dropped: it lives as long as the instance.
impl Drop for Pool {
    fn drop(&mut self) {
        for (c, free) in self.free.iter().enumerate() {
            let mut head = free.replace(ptr::null_mut());
            while !head.is_null() {
                // SAFETY: a block on a free list is one this pool allocated with the class's
                // block layout and nobody uses; its first word is the link `release` wrote.
                let next = unsafe { (*head).next };
                // SAFETY: as above; the block is off the list, so freed once.
                unsafe { dealloc(head.cast(), block(c)) };
                head = next;
            }
            self.kept[c].set(0);
        }
    }
}

/// The class of a layout, or `None` for one the pool does not serve. Folds to a constant for
/// a layout known at compile time.
#[inline(always)]
const fn class(layout: Layout) -> Option<usize> {
    if layout.align() > ALIGN || layout.size() > MAX || layout.size() == 0 {
        None
    } else {
        Some(layout.size().div_ceil(ALIGN) - 1)
    }
}

#[inline(always)]
const fn block(class: usize) -> Layout {
    // SAFETY: the size is a multiple of the alignment, a power of two, and far below isize::MAX.
    unsafe { Layout::from_size_align_unchecked((class + 1) * ALIGN, ALIGN) }
}

/// Allocates a block for `layout`. A zero-sized layout gets a dangling pointer aligned for it,
/// which [`release`] takes back doing nothing; the test folds away for a layout known at
/// compile time, as every caller's is.
#[inline(always)]
pub(crate) fn allocate(layout: Layout) -> NonNull<u8> {
    let layout = match class(layout) {
        Some(c) => {
            let head = POOL
                .try_with(|p| {
                    let head = p.free[c].get();
                    if !head.is_null() {
                        // SAFETY: a block on a free list is one this pool allocated and nobody
                        // uses; its first word is the link written by `release`.
                        p.free[c].set(unsafe { (*head).next });
                        p.kept[c].set(p.kept[c].get() - block(c).size());
                    }
                    head
                })
                .unwrap_or(ptr::null_mut());
            if let Some(head) = NonNull::new(head) {
                return head.cast();
            }
            block(c)
        }
        None if layout.size() == 0 => return dangling(layout),
        None => layout,
    };
    // SAFETY: `layout` is not zero-sized: a class's block never is, and the zero-sized ones
    // returned above.
    let p = unsafe { alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| handle_alloc_error(layout))
}

/// A non-null pointer aligned for `layout` and without provenance: what a zero-sized
/// allocation is (the address is the alignment, as in `NonNull::dangling`).
#[inline(always)]
const fn dangling(layout: Layout) -> NonNull<u8> {
    // SAFETY: an alignment is a power of two, so not zero.
    unsafe { NonNull::new_unchecked(ptr::without_provenance_mut(layout.align())) }
}

/// Frees a block that `allocate(layout)` returned; for a zero-sized layout, nothing.
///
/// # Safety
///
/// `p` came from `allocate` with the same `layout`, on this thread, and is not used after.
#[inline(always)]
pub(crate) unsafe fn release(p: NonNull<u8>, layout: Layout) {
    let layout = match class(layout) {
        Some(c) => {
            let kept = POOL.try_with(|p_| {
                let kept = p_.kept[c].get() + block(c).size();
                if kept > KEEP {
                    return false;
                }
                let block = p.as_ptr().cast::<Free>();
                // SAFETY: the block is at least 16 bytes and 16-aligned, and ours now.
                unsafe { block.write(Free { next: p_.free[c].get() }) };
                p_.free[c].set(block);
                p_.kept[c].set(kept);
                true
            });
            if kept == Ok(true) {
                return;
            }
            block(c)
        }
        None if layout.size() == 0 => return,
        None => layout,
    };
    // SAFETY: the caller's contract: `p` was allocated by the global allocator with `layout`
    // (for a class, with the class's block layout; a zero-sized one returned above).
    unsafe { dealloc(p.as_ptr(), layout) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_block_is_reused_and_free_blocks_stay_bounded() {
        let layout = Layout::from_size_align(40, 8).unwrap();
        let class = class(layout).unwrap();
        assert_eq!(block(class).size(), 48);
        let a = allocate(layout);
        // SAFETY: allocated above with this layout, not used after.
        unsafe { release(a, layout) };
        assert_eq!(allocate(layout), a, "the freed block comes back first");
        // SAFETY: as above.
        unsafe { release(a, layout) };

        let many: Vec<_> = (0..KEEP / 48 + 100).map(|_| allocate(layout)).collect();
        for &p in &many {
            // SAFETY: each allocated above with this layout, not used after.
            unsafe { release(p, layout) };
        }
        let kept = POOL.with(|p| p.kept[class].get());
        assert!(kept <= KEEP, "{kept} bytes kept, more than {KEEP}");
        assert!(kept > KEEP - 48, "the class keeps what it may: {kept} bytes");

        // Too large or too aligned for a class: the global allocator's.
        for big in [Layout::from_size_align(MAX + 1, 8), Layout::from_size_align(64, 32)] {
            let big = big.unwrap();
            assert!(super::class(big).is_none());
            let p = allocate(big);
            assert_eq!(p.as_ptr() as usize % big.align(), 0);
            // SAFETY: allocated above with this layout.
            unsafe { release(p, big) };
        }
    }

    #[test]
    fn a_zero_sized_layout_gets_an_aligned_dangling_pointer_and_frees_nothing() {
        for layout in [Layout::new::<()>(), Layout::from_size_align(0, 64).unwrap()] {
            let p = allocate(layout);
            assert_eq!(p.as_ptr() as usize, layout.align(), "dangling at the alignment");
            // SAFETY: allocated above with this layout; a zero-sized block is never read.
            unsafe { release(p, layout) };
        }
        // The classes are untouched.
        let before: Vec<usize> = POOL.with(|p| p.kept.iter().map(Cell::get).collect());
        let p = allocate(Layout::new::<[u8; 0]>());
        // SAFETY: as above.
        unsafe { release(p, Layout::new::<[u8; 0]>()) };
        assert_eq!(POOL.with(|p| p.kept.iter().map(Cell::get).collect::<Vec<_>>()), before);
    }
}
