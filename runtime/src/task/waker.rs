//! A task's waker: its data is the task's header, and each waker holds a reference to it.

use super::{DONE, Header, Notified, RUNNING, SCHEDULED, Schedule, release};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

/// A waker of task `h`, scheduled by `S`, that holds no reference of its own.
///
/// # Safety
///
/// `h` is a live task scheduled by `S`. The waker must not be dropped (it is lent a reference
/// its holder keeps: wrap it in `ManuallyDrop`), though clones of it may be.
#[inline(always)]
pub(super) unsafe fn waker<S: Schedule>(h: NonNull<Header>) -> Waker {
    // SAFETY: `VTable`'s functions keep the reference counts right for a waker whose data is a
    // live task's header; the caller keeps this one's reference.
    unsafe { Waker::from_raw(raw::<S>(h)) }
}

struct VTable<S>(PhantomData<S>);

impl<S: Schedule> VTable<S> {
    const VTABLE: RawWakerVTable =
        RawWakerVTable::new(Self::clone, Self::wake, Self::wake_by_ref, Self::drop);

    unsafe fn clone(data: *const ()) -> RawWaker {
        let h = owned(data);
        // SAFETY: the waker's reference keeps the task alive.
        let header = unsafe { h.as_ref() };
        // Like `Rc`, abort rather than wrap around when wakers are cloned and leaked without end.
        let Some(refs) = header.refs.get().checked_add(1) else { std::process::abort() };
        header.refs.set(refs);
        raw::<S>(h)
    }

    unsafe fn wake(data: *const ()) {
        let h = owned(data);
        // SAFETY: the waker's reference keeps the task alive, and is handed to the scheduler
        // (as the `Notified`'s) or dropped.
        unsafe {
            if to_queue(h) {
                S::schedule(Notified(h));
            } else {
                release(h);
            }
        }
    }

    unsafe fn wake_by_ref(data: *const ()) {
        let h = owned(data);
        // SAFETY: the waker's reference keeps the task alive; a queued task gets its own (at
        // most one queue entry per task, so this cannot overflow).
        unsafe {
            if to_queue(h) {
                let header = h.as_ref();
                header.refs.set(header.refs.get() + 1);
                S::schedule(Notified(h));
            }
        }
    }

    unsafe fn drop(data: *const ()) {
        // SAFETY: the waker's reference, dropped.
        unsafe { release(owned(data)) }
    }
}

fn raw<S: Schedule>(h: NonNull<Header>) -> RawWaker {
    RawWaker::new(h.as_ptr().cast_const().cast(), &VTable::<S>::VTABLE)
}

/// The task of a waker's data, checked to belong to this thread where there are others.
#[inline(always)]
fn owned(data: *const ()) -> NonNull<Header> {
    // SAFETY: a task waker's data is always a live task's header (each waker holds a reference).
    let h = unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) };
    #[cfg(not(wasmexport_one_thread))]
    // SAFETY: as above; `thread` is never written after the task is made.
    if unsafe { h.as_ref() }.thread != std::thread::current().id() {
        // Nothing of the task may be touched from here: it is not thread-safe.
        eprintln!("wasmexport: a task's waker was used on a thread other than the task's");
        std::process::abort();
    }
    h
}

/// Marks a woken task to be queued if it is neither queued nor done; true if it is to be
/// queued now (not while it is polled: then its poll's end queues it).
///
/// # Safety
///
/// `h` is a live task of this thread.
unsafe fn to_queue(h: NonNull<Header>) -> bool {
    // SAFETY: the caller's.
    let header = unsafe { h.as_ref() };
    let state = header.state.get();
    if state & (SCHEDULED | DONE) != 0 {
        return false;
    }
    header.state.set(state | SCHEDULED);
    state & RUNNING == 0
}
