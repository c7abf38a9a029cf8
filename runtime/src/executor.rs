//! The cooperative single-threaded executor.
//!
//! Spawned tasks are allocated and woken by the `task` module (one pooled allocation each, the
//! output kept in it for the handle), which reaches the executor only through `task::Schedule`,
//! implemented here by [`Scheduler`]; the ready queue, the run loops (a call's `block_on`, and
//! the host's drives), timers and nesting are here. The
//! run loop runs only inside an export call: it polls ready tasks until the call's own future
//! completes, then returns to the host at once, leaving every other task suspended until the
//! next call (Go's semantics). An export entered from a host import starts a nested run loop
//! over the same queue, which ends when the nested call's future completes.
//!
//! An async export's own future is not a heap task: it lives pinned on the export's stack frame
//! and is woken through a waker that holds only the call's id. That saves an allocation and a
//! free per call. It cannot be a spawned task because those are `'static` and on the heap.
//!
//! The ready queue holds spawned tasks only, linked through their headers. A call's wake is a
//! mark on the call itself: the queue position at the time of the wake (its *ticket*), so that
//! the call is polled again once every task that was ready before the wake has run, as if it
//! had been queued behind them. So nothing is ever queued for a call, nothing can be left behind
//! when it returns, and a call is polled at most once per wake. A waker that outlived its call
//! finds no call with its id and wakes nothing. An outer call woken while a nested call runs
//! keeps its mark in its record until its own loop runs again. The calls' records live in
//! their `block_on` frames, linked from the innermost.
//!
//! The state is plain `Cell`s: no user code (a future, or a waker's clone, wake or drop) runs in
//! the middle of an update of it.

use crate::JoinHandle;
use crate::gate;
use crate::local::per_thread;
use crate::task::{self, Header, Notified, Origin, Schedule};
use crate::time;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::{Pin, pin};
use std::ptr::{self, NonNull};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// `Executor::due_at` when the innermost call is not woken.
const NOT_WOKEN: u64 = u64::MAX;

struct Executor {
    /// The ready queue: tasks linked through `Header::next`, each holding a reference.
    head: Cell<*const Header>,
    tail: Cell<*const Header>,
    /// How many tasks have been queued so far: the ticket of a wake now.
    queued: Cell<u64>,
    /// How many tasks have been taken off the queue so far.
    taken: Cell<u64>,
    /// The innermost async call on the stack, or null; it links to the call it interrupted.
    innermost: Cell<*const OnStack>,
    /// The innermost call's ticket (or `NOT_WOKEN`), which its run loop reads after every task:
    /// woken, the call is polled again once `taken` reaches it.
    due_at: Cell<u64>,
    /// The id of the last call entered.
    last_id: Cell<usize>,
    /// Spawned tasks alive (`task_count()` adds the exports on the stack).
    tasks: Cell<usize>,
    /// The origin of the task being polled by the innermost run loop, or null. It lives in the
    /// task's allocation; `run` clears the mark as the poll ends, also by unwinding, before
    /// any user code can run.
    running: Cell<*const Origin>,
    /// The innermost drive's list of deferred tasks, or null outside drives; it links to the
    /// list of the drive it interrupted.
    deferred: Cell<*const Deferred>,
}

per_thread! {
    static EXECUTOR: Executor = Executor {
        head: Cell::new(ptr::null()),
        tail: Cell::new(ptr::null()),
        queued: Cell::new(0),
        taken: Cell::new(0),
        innermost: Cell::new(ptr::null()),
        due_at: Cell::new(NOT_WOKEN),
        last_id: Cell::new(0),
        tasks: Cell::new(0),
        running: Cell::new(std::ptr::null()),
        deferred: Cell::new(std::ptr::null()),
    };
}

/// How many ready tasks run between two looks at the clock while the queue stays busy and a
/// timer is armed, so that timers fire even when tasks keep yielding.
const CLOCK_EVERY: u32 = 64;

/// The executor, as the tasks' scheduler.
#[derive(Debug)]
pub struct Scheduler;

impl Schedule for Scheduler {
    #[inline(always)]
    fn schedule(task: Notified) {
        push_ready(task);
    }

    #[inline(always)]
    fn yielded(task: Notified) {
        push_yielded(task);
    }

    #[inline(always)]
    fn future_dropped() {
        let _ = EXECUTOR.try_with(|e| e.tasks.set(e.tasks.get() - 1));
    }

    fn abandoned(origin: &Origin) {
        // Outside any call (a host thread's state torn down as it exits, in host-side tests),
        // nothing is waiting for the call any more.
        if gate::depth() != 0 {
            gate::pending_deadlock(origin.export)
        }
    }

    #[inline(always)]
    fn wake(waker: Waker) {
        wake(waker)
    }

    #[inline(always)]
    fn clone_waker(waker: &Waker) -> Waker {
        call_id(waker).map_or_else(|| waker.clone(), call_waker)
    }
}

/// Appends a task to the list `head`..`tail` (linked through the tasks, each holding the
/// reference its `Notified` had).
#[inline(always)]
fn link(head: &Cell<*const Header>, tail: &Cell<*const Header>, task: Notified) {
    let h = task.into_raw();
    match NonNull::new(tail.get().cast_mut()) {
        // SAFETY: a task on the list is alive (the list holds a reference).
        Some(last) => unsafe { Notified::next_of(last) }.set(h.as_ptr()),
        None => head.set(h.as_ptr()),
    }
    tail.set(h.as_ptr());
}

/// Takes the first task off the list `head`..`tail`, with the list's reference to it.
#[inline(always)]
fn unlink(head: &Cell<*const Header>, tail: &Cell<*const Header>) -> Option<Notified> {
    let h = NonNull::new(head.get().cast_mut())?;
    // SAFETY: a task on the list is alive (the list holds a reference).
    let next = unsafe { Notified::next_of(h) }.replace(ptr::null());
    head.set(next);
    if next.is_null() {
        tail.set(ptr::null());
    }
    // SAFETY: `h` was put on the list by `link`, from `into_raw`; it is taken off once.
    Some(unsafe { Notified::from_raw(h) })
}

/// Queues a task, with the queue's reference to it.
#[inline]
fn push_ready(task: Notified) {
    // `try_with`: on a host thread that is exiting, a task woken from a destructor is leaked.
    let _ = EXECUTOR.try_with(|e| {
        link(&e.head, &e.tail, task);
        e.queued.set(e.queued.get() + 1);
    });
    gate::set_queued(true);
}

/// Queues a task that was woken while it ran (it yielded): on the ready queue, or, while a
/// drive is the innermost loop, on that drive's list of deferred tasks, which it puts back as
/// it ends.
#[inline]
fn push_yielded(task: Notified) {
    let list = EXECUTOR.try_with(|e| {
        // SAFETY: the calls linked from `innermost` are on the stack.
        let drive = unsafe { e.innermost.get().as_ref() }.is_some_and(|c| c.drive);
        // A drive is the innermost loop: its list is `deferred`, in its frame on the stack.
        if drive { e.deferred.get() } else { ptr::null() }
    });
    // SAFETY: as above.
    match list.ok().and_then(|l| unsafe { l.as_ref() }) {
        Some(list) => link(&list.head, &list.tail, task),
        None => push_ready(task),
    }
}

/// A drive's tasks woken while they ran: they run again after it (the next drive or waiting
/// call), so that a task that keeps yielding cannot keep a drive from returning. Linked like
/// the ready queue, each holding a reference; not counted in `queued` until they are put back
/// on the ready queue. It lives in the drive's frame, linked from `Executor::deferred` while
/// the drive runs (so a call's frame carries none of it).
struct Deferred {
    head: Cell<*const Header>,
    tail: Cell<*const Header>,
    /// The list of the drive this one interrupted, or null.
    outer: *const Deferred,
    _pinned: PhantomPinned,
}

impl Deferred {
    /// The list of a drive about to start: linked, right after it is pinned, until dropped.
    #[inline(always)]
    fn new() -> Deferred {
        Deferred {
            head: Cell::new(ptr::null()),
            tail: Cell::new(ptr::null()),
            outer: EXECUTOR.with(|e| e.deferred.get()),
            _pinned: PhantomPinned,
        }
    }

    #[inline(always)]
    fn link(self: Pin<&Self>) {
        EXECUTOR.with(|e| e.deferred.set(self.get_ref()))
    }

    /// Puts the tasks back on the ready queue, behind the tasks there; true if there were any.
    fn put_back(&self) -> bool {
        let mut any = false;
        while let Some(task) = unlink(&self.head, &self.tail) {
            push_ready(task);
            any = true;
        }
        any
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        let _ = EXECUTOR.try_with(|e| e.deferred.set(self.outer));
    }
}

/// Puts back the tasks deferred by every drive on the stack: a call that must wait for one of
/// them (re-entered from a host import during a drive) cannot wait for that drive to end.
#[cold]
fn put_back_all_deferred() -> bool {
    let mut any = false;
    let mut list = EXECUTOR.with(|e| e.deferred.get());
    // SAFETY: the lists linked from `deferred` are in the frames of drives on the stack.
    while let Some(l) = unsafe { list.as_ref() } {
        any |= l.put_back();
        list = l.outer;
    }
    any
}

/// Takes the first task off the ready queue, with the queue's reference to it.
#[inline]
fn pop_ready() -> Option<Notified> {
    EXECUTOR.with(|e| {
        let task = unlink(&e.head, &e.tail)?;
        e.taken.set(e.taken.get() + 1);
        if e.head.get().is_null() {
            gate::set_queued(false);
        }
        Some(task)
    })
}

/// Polls a task once, noting which task runs (for panic messages).
#[inline]
fn run(task: Notified) {
    // The mark goes when the poll ends, also if it unwinds (where panics unwind: the crate's
    // host-side tests): the task may be freed then, and its origin with it.
    struct Running;
    impl Drop for Running {
        #[inline(always)]
        fn drop(&mut self) {
            let _ = EXECUTOR.try_with(|e| e.running.set(ptr::null()));
        }
    }
    // The origin lives as long as the task; the poll may free the task as it ends (its last
    // reference dropped), and the mark goes right after (`Running`), with no user code in
    // between.
    EXECUTOR.with(|e| e.running.set(task.origin()));
    let running = Running;
    task.run();
    drop(running);
}

/// Runs a task, and every [`CLOCK_EVERY`] tasks run while a timer is armed fires the timers
/// that are due: a loop whose queue stays busy cannot hide them.
#[inline(always)]
fn run_timed(task: Notified, since_clock: &mut u32) {
    run(task);
    if time::any_armed() {
        *since_clock += 1;
        if *since_clock == CLOCK_EVERY {
            *since_clock = 0;
            time::fire_expired();
        }
    }
}

/// Wakes the async call with id `id`, if it is still on the stack.
#[inline]
fn wake_call(id: usize) {
    let _ = EXECUTOR.try_with(|e| {
        // From the innermost call, which most wakes are for; a stale id is not found.
        // SAFETY: the calls linked from `innermost` are on the stack (`OnStack`).
        let Some(innermost) = (unsafe { e.innermost.get().as_ref() }) else { return };
        // The innermost call's ticket is `due_at`.
        if innermost.id == id {
            if e.due_at.get() == NOT_WOKEN {
                e.due_at.set(e.queued.get());
            }
            return;
        }
        let mut call = innermost.outer;
        // SAFETY: as above.
        while let Some(c) = unsafe { call.as_ref() } {
            if c.id == id {
                if c.ticket.get() == NOT_WOKEN {
                    c.ticket.set(e.queued.get());
                }
                return;
            }
            call = c.outer;
        }
    });
}

/// The id of the call whose waker `waker` is, if it is a call's.
#[inline(always)]
fn call_id(waker: &Waker) -> Option<usize> {
    ptr::eq(waker.vtable(), &CALL_WAKER).then(|| waker.data().addr())
}

/// Wakes `waker`: a call's waker (what a `JoinHandle` awaited by an export holds) directly,
/// with no call through its vtable; any other through it.
#[inline(always)]
pub(crate) fn wake(waker: Waker) {
    match call_id(&waker) {
        // A call waker's drop does nothing, so it need not run.
        Some(id) => {
            wake_call(id);
            std::mem::forget(waker);
        }
        None => waker.wake(),
    }
}

/// The waker of an async call: its data is the call's id, not a pointer.
static CALL_WAKER: RawWakerVTable = RawWakerVTable::new(
    |data| RawWaker::new(data, &CALL_WAKER),
    |data| wake_call(data.addr()),
    |data| wake_call(data.addr()),
    |_| {},
);

#[inline(always)]
fn call_waker(id: usize) -> Waker {
    // SAFETY: the vtable's functions never dereference `data` (it is an id, cast to a pointer
    // only to fit `RawWaker`), clone returns a waker with the same vtable, and nothing in them
    // is thread-bound beyond the thread-local they reach with `try_with`.
    unsafe { Waker::from_raw(RawWaker::new(ptr::without_provenance(id), &CALL_WAKER)) }
}

/// Spawned tasks whose future has not been dropped yet (see [`crate::task_count`]).
pub(crate) fn spawned_alive() -> usize {
    EXECUTOR.with(|e| e.tasks.get())
}

/// Starts a background task; see [`crate::spawn`]. `at` is where, and `export` the innermost
/// export on the stack, which a task spawned by a task replaces by that task's own export.
#[inline]
pub(crate) fn spawn<F>(
    fut: F,
    at: &'static Location<'static>,
    export: &'static str,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let export = match running_task() {
        Some(parent) => parent.export,
        None => export,
    };
    start(fut, Origin { at, export }, false)
}

/// Starts the task of a pending export's call (see `pending::start`).
pub(crate) fn spawn_call<F>(
    fut: F,
    at: &'static Location<'static>,
    export: &'static str,
) -> JoinHandle<()>
where
    F: Future<Output = ()> + 'static,
{
    start(fut, Origin { at, export }, true)
}

#[inline(always)]
fn start<F>(fut: F, origin: Origin, call: bool) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let (task, handle) = task::spawn::<F, Scheduler>(fut, origin, call);
    EXECUTOR.with(|e| e.tasks.set(e.tasks.get() + 1));
    // Like `go f()`: it runs when the executor next runs, not now.
    push_ready(task);
    handle
}

/// The origin of the task being polled, if that task is the innermost guest code running: no
/// export was entered since the innermost loop started, the loop that polls the task (a plain
/// `fn` export the task called through a host import is innermost otherwise; an async one runs
/// a loop of its own).
#[inline(always)]
fn running_task() -> Option<Origin> {
    EXECUTOR
        .try_with(|e| {
            let running = e.running.get();
            // SAFETY: a non-null `running` points into the allocation of the task being
            // polled, which lives until `run` resets it.
            let origin = unsafe { running.as_ref() }.copied()?;
            // SAFETY: the calls linked from `innermost` are on the stack.
            let looping = unsafe { e.innermost.get().as_ref() }?.depth;
            (gate::depth() == looping).then_some(origin)
        })
        .ok()
        .flatten()
}

/// Where a panic happened, for the panic hook's line: `in a task spawned at FILE:LINE:COL by
/// export "NAME"`, `in export "NAME"` or `outside any export`, given the innermost export.
pub(crate) fn panic_place(export: &'static str) -> impl fmt::Display {
    struct Place(&'static str, Option<Origin>);
    impl fmt::Display for Place {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match (self.1, self.0) {
                (Some(Origin { at, export }), _) => {
                    let (line, column) = (at.line(), at.column());
                    write!(f, "in a task spawned at {}:{line}:{column} ", at.file())?;
                    match export {
                        "" => f.write_str("outside any export"),
                        name => write!(f, "by export \"{name}\""),
                    }
                }
                (None, "") => f.write_str("outside any export"),
                (None, name) => write!(f, "in export \"{name}\""),
            }
        }
    }
    Place(export, running_task())
}

/// An async call on the stack, in the frame of its `block_on`, linked from
/// `Executor::innermost` while it runs.
struct OnStack {
    /// Unique among the calls on the stack.
    id: usize,
    /// How many exports were on the stack when the call's loop started (its own included).
    depth: usize,
    /// The ticket of the call while a call it made runs (the innermost call's is
    /// `Executor::due_at`).
    ticket: Cell<u64>,
    /// The call this one interrupted, or null.
    outer: *const OnStack,
    /// A drive rather than a call: tasks that yield are deferred until it ends, on the list
    /// `Executor::deferred` points at.
    drive: bool,
    /// The task that was running when the call was entered (a task that called the host, which
    /// called this export): set aside until the call returns.
    outer_task: *const Origin,
    _pinned: PhantomPinned,
}

impl OnStack {
    /// A call (or a drive) about to be entered, with a fresh id: the new innermost once
    /// [`link`](Self::link)ed, right after it is pinned.
    #[inline(always)]
    fn new(drive: bool) -> OnStack {
        EXECUTOR.with(|e| {
            let outer = e.innermost.get();
            let (id, outer_task) = if outer.is_null() {
                // The outermost call: no loop runs, so no task is running and no id is in
                // use (`drop` restores the same idle state).
                (e.last_id.get().wrapping_add(1), ptr::null())
            } else {
                set_aside(e)
            };
            e.last_id.set(id);
            e.due_at.set(NOT_WOKEN);
            OnStack {
                id,
                depth: gate::depth(),
                ticket: Cell::new(NOT_WOKEN),
                outer,
                drive,
                outer_task,
                _pinned: PhantomPinned,
            }
        })
    }

    /// Makes the call the innermost; it stays so until dropped (which the pin guarantees
    /// happens before its memory goes).
    #[inline(always)]
    fn link(self: Pin<&Self>) {
        EXECUTOR.with(|e| e.innermost.set(self.get_ref()))
    }

    /// True if the call was woken and every task ready before the wake has run since. Only
    /// the innermost call's loop runs, so the call is the innermost.
    #[inline]
    fn due(&self) -> bool {
        EXECUTOR.with(|e| e.taken.get() >= e.due_at.get())
    }

    /// True if the call was woken (by itself, if asked right after its poll).
    #[inline]
    fn woken(&self) -> bool {
        EXECUTOR.with(|e| e.due_at.get() != NOT_WOKEN)
    }

    /// Takes the call's wake, to poll it now.
    #[inline]
    fn take_wake(&self) {
        EXECUTOR.with(|e| e.due_at.set(NOT_WOKEN))
    }

    /// Puts a woken call behind every task ready now (timers' tasks just woken, say).
    fn behind_ready_tasks(&self) {
        EXECUTOR.with(|e| {
            if e.due_at.get() != NOT_WOKEN {
                e.due_at.set(e.queued.get());
            }
        })
    }
}

/// For a call made while another is on the stack (from a host import): sets aside the outer
/// call's ticket and its running task (returned, with a fresh id for the new call).
#[inline(never)]
fn set_aside(e: &Executor) -> (usize, *const Origin) {
    // SAFETY: the calls linked from `innermost` are on the stack; this is called with one.
    let outer = unsafe { &*e.innermost.get() };
    let mut id = e.last_id.get().wrapping_add(1);
    // Ids grow, so a new one is unique on the stack, unless they wrapped around (after 2^32
    // calls on wasm32) while an older call is still on it: then skip those in use. A waker
    // kept across 2^32 calls may then poll a call once more: allowed, if odd.
    if outer.id >= id {
        while on_stack(e, id) {
            id = id.wrapping_add(1);
        }
    }
    outer.ticket.set(e.due_at.get());
    (id, e.running.replace(ptr::null()))
}

/// True if a call with this id is on the stack.
fn on_stack(e: &Executor, id: usize) -> bool {
    let mut call = e.innermost.get();
    // SAFETY: the calls linked from `innermost` are on the stack.
    while let Some(c) = unsafe { call.as_ref() } {
        if c.id == id {
            return true;
        }
        call = c.outer;
    }
    false
}

impl Drop for OnStack {
    /// Leaving (also by unwinding, in host-side tests, after the calls it made have left).
    #[inline]
    fn drop(&mut self) {
        let _ = EXECUTOR.try_with(|e| {
            e.innermost.set(self.outer);
            // SAFETY: the outer call is on the stack, below this one.
            match unsafe { self.outer.as_ref() } {
                // The idle state that the outermost call found (see `new`).
                None => {
                    e.due_at.set(NOT_WOKEN);
                    e.running.set(ptr::null());
                }
                Some(outer) => {
                    e.due_at.set(outer.ticket.get());
                    e.running.set(self.outer_task);
                }
            }
        });
    }
}

/// Runs an async export's future until it completes: other ready tasks run while it waits.
///
/// Inlined into the export's own fn that builds the future, so that the future is built where
/// it stays pinned: not inlined, it is built there and then moved into this fn's frame, two
/// copies of it on the shadow stack for each async call on the stack.
#[inline(always)]
pub(crate) fn block_on<F: Future>(export: &'static str, fut: F) -> F::Output {
    let call = pin!(OnStack::new(false));
    call.as_ref().link();
    // Its drop does nothing; `ManuallyDrop` saves the indirect call that would find that out.
    let waker = ManuallyDrop::new(call_waker(call.id));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    // Whether the clock was looked at since the call was last polled, or need not be: only a
    // call that woke itself can spin without a task running in between (tasks see the clock
    // every `CLOCK_EVERY`).
    let mut clock_seen = true;
    let mut since_clock = 0;
    let mut first = true;
    // One place polls the future (so that its poll, called once, is inlined here): first, then
    // each time the call is due.
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        if first {
            first = false;
            // The call waits: like Go's scheduler when a goroutine blocks, look at the clock,
            // so that timers due since the last call run before anything that was ready before
            // them.
            if time::fire_expired() {
                call.behind_ready_tasks();
            }
        } else {
            clock_seen = !call.woken();
        }
        // Run ready tasks until the call is due.
        loop {
            if call.due() {
                // Before the call goes on (after a `yield_now`, say), tasks of timers that are
                // due run first (Go's `Gosched` checks timers): else a call that keeps yielding
                // would never let the clock be read. Once per wake, so the call cannot be
                // starved.
                if !clock_seen {
                    clock_seen = true;
                    if time::fire_expired() {
                        call.behind_ready_tasks();
                        continue;
                    }
                }
                call.take_wake();
                break;
            }
            match pop_ready() {
                Some(task) => run_timed(task, &mut since_clock),
                // Nothing is ready, and the call is not woken (else it is due now): unless a timer
                // is due, wait for one, or nothing can come.
                None => {
                    since_clock = 0;
                    clock_seen = true;
                    if !time::fire_expired() && !put_back_all_deferred() {
                        match time::next_deadline() {
                            // Nothing is ready but a timer is armed: block in poll_oneoff until
                            // it is due.
                            Some(deadline) => time::block_until(deadline),
                            // Nothing is ready and no timer can ever wake anything: deadlock.
                            None => crate::gate::deadlock(export),
                        }
                    }
                }
            }
        }
    }
}

/// Runs every ready task and fires every due timer without blocking, until nothing is ready;
/// returns how long until the earliest armed deadline, if one is armed, or zero if tasks it ran
/// yielded (they are ready again). See [`crate::drive`].
///
/// It runs like a nested call whose future completes once nothing is ready: the calls on the
/// stack (and the task that called it, if one did) are set aside and restored as it returns, so
/// a wake of an outer call during the drive is kept for that call's own loop. A task woken while
/// it runs (a `yield_now`) runs again after the drive, not in it: else a task that yields until
/// the drive's caller has finished would keep the drive from ever returning.
#[inline]
pub(crate) fn drive() -> Option<std::time::Duration> {
    // Nothing ready and no timer armed: nothing to do (a host's idle tick costs a few loads).
    if idle() {
        return None;
    }
    drive_some()
}

/// True if no task is queued and no timer is armed: a drive would do nothing (tasks that a
/// drive further out on the stack deferred are that drive's to put back).
#[inline(always)]
pub(crate) fn idle() -> bool {
    EXECUTOR.with(|e| e.head.get().is_null()) && !time::any_armed()
}

/// [`drive`] when something may be ready.
#[inline(never)]
fn drive_some() -> Option<std::time::Duration> {
    let deferred = pin!(Deferred::new());
    deferred.as_ref().link();
    let call = pin!(OnStack::new(true));
    call.as_ref().link();
    time::fire_expired();
    let mut since_clock = 0;
    loop {
        match pop_ready() {
            Some(task) => run_timed(task, &mut since_clock),
            // Nothing is ready: done, unless a timer fell due meanwhile.
            None => {
                since_clock = 0;
                if !time::fire_expired() {
                    break;
                }
            }
        }
    }
    // The tasks that yielded are ready again: the host is to call back at once.
    if deferred.put_back() {
        return Some(std::time::Duration::ZERO);
    }
    time::until_next()
}

/// Between calls, nothing may be left for a call.
#[cfg(test)]
fn check_idle() {
    EXECUTOR.with(|e| {
        assert!(e.innermost.get().is_null(), "a call outlived its return");
        assert!(e.running.get().is_null(), "a task is marked running between calls");
    });
    let idle = ready_count() == 0 && !time::any_armed();
    assert_eq!(gate::idle_from_host(), idle, "the marks of work beside the gate");
}

/// How many tasks are queued.
#[cfg(test)]
fn ready_count() -> usize {
    EXECUTOR.with(|e| {
        let (mut n, mut h) = (0, e.head.get());
        while let Some(task) = NonNull::new(h.cast_mut()) {
            n += 1;
            // SAFETY: a queued task is alive (the queue holds a reference).
            h = unsafe { Notified::next_of(task) }.get();
        }
        n
    })
}

#[cfg(test)]
mod model;

#[cfg(test)]
mod tests;
