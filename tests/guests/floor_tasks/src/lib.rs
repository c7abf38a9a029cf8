//! The floor for a background-task round trip: the leanest cooperative handoff one can write by
//! hand, with no runtime crate. `cargo xtask bench` measures `spawn(async move { x + 1 }).await`
//! in a `#[wasmexport] async fn` against this module's `roundtrip`.
//!
//! It keeps the semantics of the runtime's round trip: the export's own future lives on the
//! export's stack; `spawn` writes the task's future inline into a slot of a static slab (no
//! malloc) and puts the slot's index on a ring of ready indices, so the task runs only once the
//! call has gone pending; the task completing wakes the awaiting call through a real `Waker`
//! whose data is an index (a slot's, or [`CALL`] for the call), and the export returns as soon
//! as its own future completes.
//!
//! What it leaves out, since it serves one export: re-entrant calls, timers, panics and
//! poisoning, task counts, detaching (a [`JoinHandle`] must be awaited, or its slot stays taken),
//! futures or outputs over [`SLOT_BYTES`].

use std::cell::UnsafeCell;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::{MaybeUninit, align_of, size_of};
use std::pin::{Pin, pin};
use std::ptr::addr_of_mut;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// A hand-written reactor's `_initialize` (see the `raw` guest for why it is there).
#[unsafe(no_mangle)]
extern "C" fn _initialize() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    // SAFETY: the linker's constructor runner; hosts call `_initialize` once, first.
    unsafe { __wasm_call_ctors() }
}

/// Hands `x` to a background task and awaits its output.
#[unsafe(no_mangle)]
extern "C" fn roundtrip(x: i32) -> i32 {
    block_on(async move { spawn(async move { x + 1 }).await })
}

/// Task slots: one bit each in [`Executor::used`].
const SLOTS: usize = 64;
/// The ring index and waker data that stand for the call's own future.
const CALL: usize = SLOTS;
/// Ring capacity: every slot and the call queued at once, rounded up to a power of two.
const RING: usize = 128;
/// Bytes a task's future (and, once it completes, its output) may take.
const SLOT_BYTES: usize = 32;

#[repr(C, align(8))]
struct Storage([MaybeUninit<u8>; SLOT_BYTES]);

struct Slot {
    /// The task's future until it completes, then its output.
    storage: Storage,
    /// Polls the future in `storage`; when it completes, drops it and writes its output there.
    poll: unsafe fn(*mut Storage, &mut Context<'_>) -> bool,
    /// `storage` holds the output.
    done: bool,
    /// The waker of whoever awaits the output.
    join: Option<Waker>,
}

struct Executor {
    slots: [Slot; SLOTS],
    /// Bit `i` set: slot `i` holds a task or its output.
    used: u64,
    /// `queued[i]`: index `i` is on the ring (so a second wake adds nothing).
    queued: [bool; SLOTS + 1],
    ring: [u8; RING],
    head: usize,
    tail: usize,
}

/// The executor's state. wasm32-wasip1 has one thread, so a static `UnsafeCell` is all the
/// synchronization it needs.
struct Local(UnsafeCell<Executor>);

// SAFETY: this module runs on wasm32-wasip1, which has exactly one thread.
unsafe impl Sync for Local {}

static EXECUTOR: Local = Local(UnsafeCell::new(Executor {
    slots: [const {
        Slot {
            storage: Storage([MaybeUninit::uninit(); SLOT_BYTES]),
            poll: never_polled,
            done: false,
            join: None,
        }
    }; SLOTS],
    used: 0,
    queued: [false; SLOTS + 1],
    ring: [0; RING],
    head: 0,
    tail: 0,
}));

/// Every access below goes through this raw pointer, field by field, and never holds a
/// reference to the whole executor across a poll (a poll may wake, which writes the ring).
fn executor() -> *mut Executor {
    EXECUTOR.0.get()
}

/// The `poll` of a slot that holds no task.
unsafe fn never_polled(_: *mut Storage, _: &mut Context<'_>) -> bool {
    unreachable!("floor: polled an empty slot")
}

/// Polls the `F` in `storage`; on completion replaces it with its output.
///
/// # Safety
/// `storage` holds a live, pinned `F` (a slot's future, written there by [`spawn`]).
unsafe fn poll_in_place<F: Future>(storage: *mut Storage, cx: &mut Context<'_>) -> bool {
    let fut = storage.cast::<F>();
    // SAFETY: the caller's contract; the future never moves out of its slot until dropped.
    match unsafe { Pin::new_unchecked(&mut *fut) }.poll(cx) {
        Poll::Pending => false,
        Poll::Ready(out) => {
            // SAFETY: the future is live and not used again; `spawn` checked that the output
            // fits the storage.
            unsafe {
                fut.drop_in_place();
                storage.cast::<F::Output>().write(out);
            }
            true
        }
    }
}

/// Puts index `i` on the ring unless it is there already.
fn push(i: usize) {
    let e = executor();
    // SAFETY: field accesses through the executor pointer; single-threaded (see `Local`).
    unsafe {
        if !(*e).queued[i] {
            (*e).queued[i] = true;
            (*e).ring[(*e).tail % RING] = i as u8;
            (*e).tail = (*e).tail.wrapping_add(1);
        }
    }
}

fn pop() -> Option<usize> {
    let e = executor();
    // SAFETY: as in `push`.
    unsafe {
        if (*e).head == (*e).tail {
            return None;
        }
        let i = usize::from((*e).ring[(*e).head % RING]);
        (*e).head = (*e).head.wrapping_add(1);
        (*e).queued[i] = false;
        Some(i)
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(
    |data| RawWaker::new(data, &VTABLE),
    |data| push(data as usize),
    |data| push(data as usize),
    |_| {},
);

/// The waker of index `i`: a slot, or [`CALL`].
fn waker(i: usize) -> Waker {
    // SAFETY: the vtable never dereferences `data` (an index cast to a pointer), clone keeps the
    // vtable, and wakes only touch the single-threaded executor.
    unsafe { Waker::from_raw(RawWaker::new(i as *const (), &VTABLE)) }
}

/// Starts `fut` in a free slot; it runs once the call goes pending.
fn spawn<F: Future + 'static>(fut: F) -> JoinHandle<F::Output> {
    const {
        assert!(size_of::<F>() <= SLOT_BYTES && align_of::<F>() <= align_of::<Storage>());
        assert!(size_of::<F::Output>() <= SLOT_BYTES);
        assert!(align_of::<F::Output>() <= align_of::<Storage>());
    }
    let e = executor();
    // SAFETY: as in `push`; slot `i` is free, so nothing else refers to its storage.
    unsafe {
        let i = (!(*e).used).trailing_zeros() as usize;
        assert!(i < SLOTS, "floor: all {SLOTS} task slots are taken");
        (*e).used |= 1 << i;
        let slot = addr_of_mut!((*e).slots[i]);
        (*slot).poll = poll_in_place::<F>;
        addr_of_mut!((*slot).storage).cast::<F>().write(fut);
        push(i);
        JoinHandle { slot: i, output: PhantomData }
    }
}

/// Runs the task in slot `i` once.
fn run(i: usize) {
    let e = executor();
    let waker = waker(i);
    let mut cx = Context::from_waker(&waker);
    // SAFETY: as in `push`; a slot that is taken and not done holds a live task, written by
    // `spawn` with its `poll` (a stale wake of a finished or freed slot polls nothing).
    unsafe {
        let slot = addr_of_mut!((*e).slots[i]);
        let live = (*e).used & (1 << i) != 0 && !(*slot).done;
        if live && ((*slot).poll)(addr_of_mut!((*slot).storage), &mut cx) {
            (*slot).done = true;
            if let Some(join) = (*slot).join.take() {
                join.wake();
            }
        }
    }
}

/// The output of the task in `slot`, once it completes.
#[must_use = "the floor cannot detach: await the handle"]
struct JoinHandle<T> {
    slot: usize,
    output: PhantomData<T>,
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let e = executor();
        // SAFETY: as in `push`; the slot is ours until we free it here, and once `done` its
        // storage holds a `T` (`spawn` pairs the slot with this handle's `T`).
        unsafe {
            let slot = addr_of_mut!((*e).slots[self.slot]);
            if !(*slot).done {
                (*slot).join = Some(cx.waker().clone());
                return Poll::Pending;
            }
            (*slot).done = false;
            (*e).used &= !(1 << self.slot);
            Poll::Ready(addr_of_mut!((*slot).storage).cast::<T>().read())
        }
    }
}

/// Polls the call's future until it completes, running ready tasks while it waits.
fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = waker(CALL);
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        loop {
            match pop() {
                Some(CALL) => break,
                Some(i) => run(i),
                None => unreachable!("floor: deadlock: the call waits and no task is ready"),
            }
        }
    }
}
