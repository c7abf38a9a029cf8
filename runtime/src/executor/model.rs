//! A model-based test of the executor, run natively (`trap` panics on the host): random
//! programs of export calls whose futures and tasks spawn, yield, sleep on a fake clock, park
//! their wakers for others to fire, fire wakers kept from calls that have returned, make nested
//! calls (as a host import that calls an export would), and keep, detach or drop their
//! `JoinHandle`s. After every poll and every step of the host the test checks:
//!
//! * every poll but the first of a future follows a wake of that future (at most one poll per
//!   wake: a stale wake, or a queue entry left behind by a call, shows up as a poll without one);
//! * no task runs outside a call, nor in a call whose future has completed;
//! * `task_count()` is the number of task futures alive plus the calls on the stack;
//! * between calls the executor holds no state for a call;
//! * every call returns (a call that spins without end fails, it does not hang).
//!
//! `cargo test` runs `WASMEXPORT_FUZZ_CASES` programs (default 300); `cargo xtask fuzz` many
//! more, optimized. The count of programs and polls is printed with `--nocapture`.

use crate::call::{self, call_async};
use crate::gate::{self, HostCall};
use crate::time::{self, Sleep, sleep};
use crate::{JoinHandle, spawn, task_count};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

/// One step of a call's future or a task.
#[derive(Clone, Debug)]
enum Step {
    /// Wakes itself and returns `Pending` once (what `yield_now` does).
    Yield,
    /// Sleeps this many milliseconds of the fake clock.
    Sleep(u8),
    /// Spawns a task running the script, and keeps, detaches, drops or hands its handle to the
    /// host.
    Spawn(Vec<Step>, Keep),
    /// Awaits the handle kept last (only of tasks that finish on their own, in a call).
    Join,
    /// Yields until the task kept last has finished, then awaits it.
    YieldUntilJoined,
    /// Parks its waker in a slot and waits for someone to fire it (tasks only).
    Wait(u8),
    /// Fires the waker parked in a slot, if any.
    Wake(u8),
    /// Fires a waker kept from a call that has returned.
    FireStale(u8),
    /// A host import that calls an async export running the script.
    Nested(Vec<Step>),
    /// Wakes itself and completes in the same poll (ends the script).
    WakeAndFinish,
    /// Drives the executor from inside the poll (`wasmexport::drive`).
    Drive,
}

#[derive(Clone, Copy, Debug)]
enum Keep {
    Handle,
    Detach,
    Drop,
    ToHost,
}

/// One step of the host, between calls.
#[derive(Clone, Debug)]
enum Op {
    /// Calls an async export running the script.
    Call(Vec<Step>),
    /// Moves the fake clock on.
    Advance(u8),
    /// Fires a parked waker from outside any call.
    WakeFromOutside(u8),
    /// Fires a waker kept from a call that has returned, from outside any call.
    FireStale(u8),
    /// Drops a handle the host holds.
    DropHandle(u8),
    /// Calls a plain `fn` export that drives the executor (a host's tick).
    Drive,
    /// Calls the `wasmexport_drive` export (the host's drive, with its idle fast path).
    HostDrive,
    /// Calls a pending export running the script: it returns at once, and its future runs as
    /// a task in later calls and drives.
    Pending(Vec<Step>),
}

fn steps(finite: bool, depth: u32) -> BoxedStrategy<Vec<Step>> {
    let leaf = prop_oneof![
        4 => Just(Step::Yield),
        2 => (0u8..20).prop_map(Step::Sleep),
        2 => Just(Step::Join),
        1 => Just(Step::YieldUntilJoined),
        2 => (0u8..4).prop_map(Step::Wake),
        1 => (0u8..4).prop_map(Step::FireStale),
        1 => Just(Step::Drive),
    ];
    // Calls (and tasks a call joins) must finish on their own: they never wait for a wake that
    // only the host or a parked task may bring.
    let wait =
        if finite { Just(Step::Yield).boxed() } else { (0u8..4).prop_map(Step::Wait).boxed() };
    let step = if depth == 0 {
        prop_oneof![8 => leaf, 1 => wait].boxed()
    } else {
        let keep = prop_oneof![
            Just(Keep::Handle),
            Just(Keep::Detach),
            Just(Keep::Drop),
            Just(Keep::ToHost)
        ];
        let spawn = (keep, any::<bool>()).prop_flat_map(move |(keep, wild)| {
            // A kept handle may be joined: its task must finish if this script must.
            let child_finite = if matches!(keep, Keep::Handle) { finite } else { finite && !wild };
            steps(child_finite, depth - 1).prop_map(move |s| Step::Spawn(s, keep))
        });
        let nested = steps(true, depth - 1).prop_map(Step::Nested);
        prop_oneof![8 => leaf, 1 => wait, 3 => spawn, 1 => nested].boxed()
    };
    (proptest::collection::vec(step, 0..8), any::<bool>())
        .prop_map(|(mut s, finish)| {
            if finish {
                s.push(Step::WakeAndFinish);
            }
            s
        })
        .boxed()
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => steps(true, 2).prop_map(Op::Call),
        1 => (0u8..30).prop_map(Op::Advance),
        1 => (0u8..4).prop_map(Op::WakeFromOutside),
        1 => (0u8..4).prop_map(Op::FireStale),
        1 => (0u8..4).prop_map(Op::DropHandle),
        2 => Just(Op::Drive),
        1 => Just(Op::HostDrive),
        2 => steps(true, 2).prop_map(Op::Pending),
    ];
    proptest::collection::vec(op, 1..16)
}

/// What the test tracks on the thread that runs one program.
#[derive(Default)]
struct World {
    /// Task futures alive (the model of `task_count()` without the calls).
    tasks: Cell<usize>,
    /// Wakers parked by `Wait`.
    slots: RefCell<[Option<Waker>; 4]>,
    /// The executor's wakers of calls that have returned.
    stale: RefCell<Vec<Waker>>,
    /// Handles given to the host.
    handles: RefCell<Vec<JoinHandle<()>>>,
    /// Set when a call's future completes, until its call returns: no task may run then.
    call_done: Cell<bool>,
    /// Polls so far, to catch a call that spins.
    polls: Cell<u64>,
    /// The drive that is the innermost loop, if one is: a task that wakes itself during its
    /// poll is deferred by it.
    driving: Cell<Option<u64>>,
    /// Each drive on the stack, by id, with the tasks it deferred that were not polled since:
    /// after a drive returns, exactly these are ready.
    drives: RefCell<Vec<(u64, usize)>>,
    /// The id of the last drive made.
    last_drive: Cell<u64>,
    /// Pending calls started, and the ids of those whose future completed.
    pending_started: Cell<usize>,
    /// Pending calls in their own call (their future is a task already, so the call's frame
    /// is not counted again).
    pending_starting: Cell<usize>,
    pending_done: RefCell<Vec<i32>>,
}

thread_local! {
    static WORLD: World = World::default();
}

/// The wake state of one future: woken since its last poll?
#[derive(Default)]
struct Flag(Cell<bool>);

/// A waker that records the wake in the future's flag, then wakes the executor's waker.
struct Counting {
    flag: Rc<Flag>,
    inner: Waker,
}

static COUNTING: RawWakerVTable = RawWakerVTable::new(
    |data| {
        // SAFETY: `data` is an `Rc<Counting>` from `counting`, alive while this waker is.
        unsafe { Rc::increment_strong_count(data.cast::<Counting>()) };
        RawWaker::new(data, &COUNTING)
    },
    |data| {
        // SAFETY: as above; `wake` takes over this waker's count.
        let c = unsafe { Rc::from_raw(data.cast::<Counting>()) };
        c.flag.0.set(true);
        c.inner.wake_by_ref();
    },
    |data| {
        // SAFETY: as above.
        let c = unsafe { &*data.cast::<Counting>() };
        c.flag.0.set(true);
        c.inner.wake_by_ref();
    },
    // SAFETY: as above; `drop` releases this waker's count.
    |data| unsafe { Rc::decrement_strong_count(data.cast::<Counting>()) },
);

fn counting(flag: &Rc<Flag>, inner: &Waker) -> Waker {
    let c = Rc::new(Counting { flag: flag.clone(), inner: inner.clone() });
    // SAFETY: the vtable keeps the `Rc` count right, and the test runs on one thread.
    unsafe { Waker::from_raw(RawWaker::new(Rc::into_raw(c).cast(), &COUNTING)) }
}

/// What a probe is waiting for.
enum Waiting {
    Nothing,
    Yielded,
    Sleep(Pin<Box<Sleep>>),
    Join(JoinHandle<()>),
    YieldUntil(JoinHandle<()>),
    Slot,
}

/// A call's future or a task: runs its script, checking the executor as it goes.
struct Probe {
    steps: VecDeque<Step>,
    is_task: bool,
    flag: Rc<Flag>,
    polled: bool,
    waiting: Waiting,
    kept: Vec<JoinHandle<()>>,
    /// Woke itself during a poll while a drive was the innermost loop, and not polled since.
    deferred: Option<u64>,
}

impl Probe {
    fn new(steps: Vec<Step>, is_task: bool) -> Probe {
        if is_task {
            WORLD.with(|w| w.tasks.set(w.tasks.get() + 1));
        }
        Probe {
            steps: steps.into(),
            is_task,
            flag: Rc::default(),
            polled: false,
            waiting: Waiting::Nothing,
            kept: Vec::new(),
            deferred: None,
        }
    }
}

impl Probe {
    /// The probe woke itself and is about to return `Pending`.
    fn yielded(&mut self) {
        WORLD.with(|w| {
            if let (true, Some(drive)) = (self.is_task, w.driving.get()) {
                self.deferred = Some(drive);
                let mut drives = w.drives.borrow_mut();
                if let Some(d) = drives.iter_mut().find(|d| d.0 == drive) {
                    d.1 += 1;
                }
            }
        });
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if self.is_task {
            let _ = WORLD.try_with(|w| w.tasks.set(w.tasks.get() - 1));
        }
    }
}

/// The invariants that hold whenever guest code runs.
fn check_counts() {
    WORLD.with(|w| {
        let calls = gate::depth() - w.pending_starting.get();
        assert_eq!(task_count(), w.tasks.get() + calls, "task_count()");
    });
}

impl Future for Probe {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if let Some(drive) = this.deferred.take() {
            WORLD.with(|w| {
                if let Some(d) = w.drives.borrow_mut().iter_mut().find(|d| d.0 == drive) {
                    d.1 -= 1;
                }
            });
        }
        let woken = this.flag.0.replace(false);
        assert!(!this.polled || woken, "a future was polled without a wake since its last poll");
        this.polled = true;
        WORLD.with(|w| {
            assert!(gate::depth() > 0, "a task ran outside any call");
            assert!(!w.call_done.get(), "a task ran after its call's future completed");
            w.polls.set(w.polls.get() + 1);
            assert!(w.polls.get() < 200_000, "a call spins: 200,000 polls in one program");
        });
        check_counts();
        let waker = counting(&this.flag, cx.waker());
        let mut wcx = Context::from_waker(&waker);
        // Finish what the last poll waited for.
        match std::mem::replace(&mut this.waiting, Waiting::Nothing) {
            Waiting::Nothing | Waiting::Yielded | Waiting::Slot => {}
            Waiting::Sleep(mut s) => {
                if s.as_mut().poll(&mut wcx).is_pending() {
                    this.waiting = Waiting::Sleep(s);
                    return Poll::Pending;
                }
            }
            Waiting::Join(mut h) => {
                if Pin::new(&mut h).poll(&mut wcx).is_pending() {
                    this.waiting = Waiting::Join(h);
                    return Poll::Pending;
                }
            }
            Waiting::YieldUntil(h) => {
                if !h.is_finished() {
                    waker.wake_by_ref();
                    this.waiting = Waiting::YieldUntil(h);
                    this.yielded();
                    return Poll::Pending;
                }
                this.waiting = Waiting::Join(h);
                this.flag.0.set(true);
                return Pin::new(this).poll(cx);
            }
        }
        while let Some(step) = this.steps.pop_front() {
            match step {
                Step::Yield => {
                    waker.wake_by_ref();
                    this.waiting = Waiting::Yielded;
                    this.yielded();
                    return Poll::Pending;
                }
                Step::Sleep(ms) => {
                    let mut s = Box::pin(sleep(Duration::from_millis(ms.into())));
                    if s.as_mut().poll(&mut wcx).is_pending() {
                        this.waiting = Waiting::Sleep(s);
                        return Poll::Pending;
                    }
                }
                Step::Spawn(script, keep) => {
                    let handle = spawn(Probe::new(script, true));
                    match keep {
                        Keep::Handle => this.kept.push(handle),
                        Keep::Detach => handle.detach(),
                        Keep::Drop => drop(handle),
                        Keep::ToHost => WORLD.with(|w| w.handles.borrow_mut().push(handle)),
                    }
                }
                Step::Join | Step::YieldUntilJoined => {
                    if let Some(h) = this.kept.pop() {
                        this.waiting = match step {
                            Step::Join => Waiting::Join(h),
                            _ => Waiting::YieldUntil(h),
                        };
                        this.flag.0.set(true);
                        return Pin::new(this).poll(cx);
                    }
                }
                Step::Wait(slot) => {
                    let old = WORLD.with(|w| w.slots.borrow_mut()[slot as usize].replace(waker));
                    drop(old);
                    this.waiting = Waiting::Slot;
                    return Poll::Pending;
                }
                Step::Wake(slot) => wake_slot(slot),
                Step::FireStale(i) => fire_stale(i),
                Step::Nested(script) => nested_call(script),
                Step::Drive => drive(),
                Step::WakeAndFinish => {
                    waker.wake_by_ref();
                    break;
                }
            }
        }
        if !this.is_task {
            WORLD.with(|w| {
                w.call_done.set(true);
                let mut stale = w.stale.borrow_mut();
                if stale.len() == 4 {
                    stale.remove(0);
                }
                stale.push(cx.waker().clone());
            });
        }
        Poll::Ready(())
    }
}

fn wake_slot(slot: u8) {
    let parked = WORLD.with(|w| w.slots.borrow_mut()[slot as usize].take());
    if let Some(parked) = parked {
        parked.wake();
    }
}

fn fire_stale(i: u8) {
    let waker = WORLD.with(|w| w.stale.borrow().get(i as usize).cloned());
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Runs `f`, which drives, as the innermost loop; checks that only the tasks it deferred (that
/// woke themselves while it ran them) are ready after it, and returns what `f` returned.
fn driving<R>(f: impl FnOnce() -> R) -> R {
    let (id, outer) = WORLD.with(|w| {
        let id = w.last_drive.get() + 1;
        w.last_drive.set(id);
        w.drives.borrow_mut().push((id, 0));
        (id, w.driving.replace(Some(id)))
    });
    let out = f();
    WORLD.with(|w| {
        w.driving.set(outer);
        let (top, deferred) = w.drives.borrow_mut().pop().unwrap();
        assert_eq!(top, id);
        assert_eq!(super::ready_count(), deferred, "tasks ready after a drive");
    });
    out
}

/// A drive leaves ready only the tasks that woke themselves while it ran them, and says when to
/// drive again: at once if it left tasks ready, at the earliest timer if one is armed, else
/// never.
fn drive() {
    let next = driving(crate::drive);
    let ready = super::ready_count() > 0;
    assert_eq!(next.is_some(), time::any_armed() || ready, "a drive's next deadline: {next:?}");
    if ready {
        assert_eq!(next, Some(Duration::ZERO), "a drive that left tasks ready");
    }
}

/// The host's `wasmexport_drive`: as [`drive`], in milliseconds (-1: no timer armed, 0: tasks
/// left ready); an idle one returns without entering.
fn host_drive() {
    let next = driving(crate::pending::drive_export);
    let ready = super::ready_count() > 0;
    assert_eq!(next >= 0, time::any_armed() || ready, "the host drive's answer: {next}");
    if ready {
        assert_eq!(next, 0, "a host drive that left tasks ready");
    }
}

/// What the shim of a `#[wasmexport(pending)]` export does: the call returns at once, its
/// future a task from then on; the status says whether it completed during the call.
fn pending_call(script: Vec<Step>) {
    WORLD.with(|w| w.pending_started.set(w.pending_started.get() + 1));
    let entered = call::AsyncCall::enter("pending");
    let probe = Probe::new(script, true);
    // The call drives, as `drive` does.
    WORLD.with(|w| w.pending_starting.set(w.pending_starting.get() + 1));
    let status = driving(|| {
        crate::pending::start("pending", move |id| async move {
            probe.await;
            WORLD.with(|w| w.pending_done.borrow_mut().push(id));
        })
    });
    WORLD.with(|w| w.pending_starting.set(w.pending_starting.get() - 1));
    let again = time::any_armed() || super::ready_count() > 0;
    assert_eq!(status & 8 != 0, again, "the status's TIMER bit: {status:#x}");
    drop(entered);
    let (id, done) = (status >> 4, status & 3 == 0);
    assert_eq!(done, WORLD.with(|w| w.pending_done.borrow().contains(&id)), "status {status:#x}");
}

/// What a `#[wasmimport]` host function that calls an async export does.
fn nested_call(script: Vec<Step>) {
    // SAFETY: what a host function that calls exports does; left right after.
    let host = unsafe { HostCall::enter() };
    let driving = WORLD.with(|w| w.driving.replace(None));
    call_async("nested", Probe::new(script, false));
    WORLD.with(|w| w.driving.set(driving));
    WORLD.with(|w| w.call_done.set(false));
    host.leave();
}

/// Runs one program on a fresh thread (fresh executor, timers and fake clock); returns the
/// number of polls it made, or the panic message of the check that failed.
fn run_program(ops: Vec<Op>) -> Result<u64, String> {
    let program = std::thread::spawn(move || {
        gate::begin_init("test");
        gate::finish_init();
        for op in ops {
            match op {
                Op::Call(script) => {
                    call_async("call", Probe::new(script, false));
                    WORLD.with(|w| w.call_done.set(false));
                }
                Op::Drive => call::call_sync("tick", drive),
                Op::HostDrive => host_drive(),
                Op::Pending(script) => pending_call(script),
                Op::Advance(ms) => time::fake_clock::advance(Duration::from_millis(ms.into())),
                Op::WakeFromOutside(slot) => wake_slot(slot),
                Op::FireStale(i) => fire_stale(i),
                Op::DropHandle(i) => {
                    let handle = WORLD.with(|w| {
                        let mut handles = w.handles.borrow_mut();
                        let i = i as usize;
                        (i < handles.len()).then(|| handles.swap_remove(i))
                    });
                    drop(handle);
                }
            }
            assert_eq!(gate::depth(), 0);
            check_counts();
            super::check_idle();
        }
        // Every pending call finishes on its own (its script is finite), given time and drives,
        // and completes exactly once.
        let started = WORLD.with(|w| w.pending_started.get());
        for _ in 0..1_000 {
            if WORLD.with(|w| w.pending_done.borrow().len()) == started {
                break;
            }
            time::fake_clock::advance(Duration::from_millis(100));
            call::call_sync("tick", drive);
        }
        WORLD.with(|w| {
            let mut done = w.pending_done.borrow().clone();
            assert_eq!(done.len(), started, "pending calls that completed");
            done.sort_unstable();
            done.dedup();
            assert_eq!(done.len(), started, "a pending call completed twice");
        });
        WORLD.with(|w| w.polls.get())
    });
    program.join().map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn random_programs_keep_the_executors_promises() {
    let cases =
        std::env::var("WASMEXPORT_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        // Failures found are kept in runtime/proptest-regressions/executor/model.txt,
        // committed, and run first every time.
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        ..Config::default()
    });
    let polls = Cell::new(0u64);
    let programs = Cell::new(0u64);
    let result = runner.run(&ops(), |ops| {
        programs.set(programs.get() + 1);
        let n = run_program(ops).map_err(TestCaseError::fail)?;
        polls.set(polls.get() + n);
        Ok(())
    });
    println!(
        "executor model: {} programs run ({cases} passing ones asked for), {} polls checked",
        programs.get(),
        polls.get()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
