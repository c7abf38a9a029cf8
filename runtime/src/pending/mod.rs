//! Host-driven async: exports that return to the host while they wait, and the host's own
//! operations as futures in the guest.
//!
//! The host's event loop drives the module through three exports that
//! [`async_abi!`](crate::async_abi) defines (`wasmexport_drive`, `wasmexport_complete` and
//! `wasmexport_buffer`), and through the pending exports themselves: an `async fn` marked
//! `#[wasmexport(pending)]` starts its future as a task, runs what is ready, and returns at
//! once with a status; its result reaches the host later, through a `[task-return]NAME` import,
//! during whichever call into the module completes it. The whole protocol, for host authors, is
//! in the repository's `docs/async-abi.md`; `hosts/js` and `hosts/wasmtime` implement it.
//!
//! The host starts its own async work from an import of the user's (`#[wasmimport]`) that
//! returns a token; [`value`] and [`bytes`] are the futures that wait for the host to complete
//! that token.
//!
//! ```
//! use wasmexport::{pending, wasmexport, wasmimport};
//!
//! wasmexport::async_abi!();
//!
//! /// The host starts a lookup and returns a token for it; it completes the token later with
//! /// the bytes it found.
//! #[wasmimport(module = "host", name = "lookup")]
//! fn lookup_start(key: &str) -> u32;
//!
//! #[wasmexport(pending)]
//! async fn lookup_len(key: &str) -> i32 {
//!     // SAFETY: the host reads the key during the call and returns a token.
//!     let token = unsafe { lookup_start(key) };
//!     match pending::bytes(token).await {
//!         Ok(found) => found.len() as i32,
//!         Err(code) => code,
//!     }
//! }
//! # fn main() {}
//! ```

use crate::executor;
use crate::local::per_thread;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use table::Table;

/// Status code: the call completed during the call (its `[task-return]` came first).
const EXIT: i32 = 0;
/// Status code: the call is pending; its `[task-return]` comes during a later call.
const WAIT: i32 = 2;
/// Status flag: a timer is armed; the host asks `wasmexport_drive` when to call next.
const TIMER: i32 = 8;
/// Call ids take the status word's 28 high bits.
const MAX_ID: u32 = (1 << 28) - 1;

/// What the host said about one token, and the buffer it reserved for it.
struct Slot {
    state: State,
    buffer: Option<Vec<u8>>,
}

enum State {
    /// A future waits (with its waker once polled), or the host reserved a buffer first.
    Waiting(Option<Waker>),
    /// The host completed the token with this value; the future has not taken it yet.
    Done(i32),
    /// The future was dropped before the host completed the token: the completion is ignored
    /// (and the slot goes) when it comes.
    Cancelled,
}

struct Pending {
    slots: Table<Slot>,
}

per_thread! {
    static PENDING: RefCell<Pending> = RefCell::new(Pending { slots: Table::new() });
}

/// The last call id given out, and how many pending exports' own calls are on the stack (see
/// [`starting`]).
struct Calls {
    last_id: Cell<u32>,
    starting: Cell<usize>,
}

per_thread! {
    static CALLS: Calls = Calls { last_id: Cell::new(0), starting: Cell::new(0) };
}

/// The table, borrowed for `f`, which runs no user code.
#[inline(always)]
fn with_pending<R>(f: impl FnOnce(&mut Pending) -> R) -> R {
    PENDING.with(|p| f(&mut p.borrow_mut()))
}

/// Waits for the host to complete operation `token` with `wasmexport_complete(token, value)`,
/// and gives `value`.
///
/// The token is the host's, from the import that started the operation. A host may complete it
/// before this future is first polled (even from inside that import): the value waits for it.
/// One future awaits a token at a time: one that starts to wait for a token another future
/// waits for traps, since only one of them could get the completion.
///
/// ```
/// # use wasmexport::{pending, wasmexport, wasmimport};
/// #[wasmimport(module = "host", name = "start_timer")]
/// fn start_timer(ms: u32) -> u32;
///
/// #[wasmexport(pending)]
/// async fn wait_for_host(ms: u32) -> i32 {
///     // SAFETY: the host's import takes and returns integers.
///     pending::value(unsafe { start_timer(ms) }).await
/// }
/// # fn main() {}
/// ```
pub fn value(token: u32) -> Value {
    Value(Completion { token, polled: false, finished: false })
}

/// Waits for the host to complete operation `token` with bytes: `Ok` with the bytes it wrote
/// to the buffer it reserved with `wasmexport_buffer(token, len)` (the first `value` bytes of
/// it), or `Err(value)` when it completed the token without a buffer (or with a `value` that
/// is negative or longer than the buffer).
///
/// ```
/// # use wasmexport::{pending, wasmexport, wasmimport};
/// #[wasmimport(module = "host", name = "read_file")]
/// fn read_file(path: &str) -> u32;
///
/// #[wasmexport(pending)]
/// async fn file_len(path: &str) -> i32 {
///     // SAFETY: the host reads the path during the call and returns a token.
///     match pending::bytes(unsafe { read_file(path) }).await {
///         Ok(contents) => contents.len() as i32,
///         Err(errno) => errno,
///     }
/// }
/// # fn main() {}
/// ```
pub fn bytes(token: u32) -> Bytes {
    Bytes(Completion { token, polled: false, finished: false })
}

/// The future of [`value`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Value(Completion);

/// The future of [`bytes`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Bytes(Completion);

impl Future for Value {
    type Output = i32;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<i32> {
        self.0.poll(cx).map(|(value, _)| value)
    }
}

impl Future for Bytes {
    type Output = Result<Vec<u8>, i32>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.poll(cx).map(|(value, buffer)| match (usize::try_from(value), buffer) {
            (Ok(len), Some(mut bytes)) if len <= bytes.len() => {
                bytes.truncate(len);
                Ok(bytes)
            }
            _ => Err(value),
        })
    }
}

/// A wait for one token, shared by [`Value`] and [`Bytes`].
#[derive(Debug)]
struct Completion {
    token: u32,
    /// Polled before: a waker of it may be in the table.
    polled: bool,
    finished: bool,
}

impl Completion {
    /// Inlined into the future that awaits it: out of line, its result goes back through
    /// memory, and the round trip takes about 15% more instructions.
    #[inline]
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<(i32, Option<Vec<u8>>)> {
        if self.finished {
            crate::gate::trap_poisoning(format_args!(
                "a pending::value or pending::bytes future was polled after it completed"
            ))
        }
        // Cloning and dropping wakers is user code: neither happens while the table is
        // borrowed. A look first (completed? the same waker there?), then the clone, then the
        // update, which finds the token as the clone's user code may have left it.
        // At the first poll no waker of this future can be there: straight to the clone.
        let token = self.token;
        let first = !std::mem::replace(&mut self.polled, true);
        let looked = if !first {
            with_pending(|p| match p.slots.get_mut(token).map(|s| &s.state) {
                Some(State::Done(_)) => Some(take_done(p, token)),
                Some(State::Waiting(Some(w))) if w.will_wake(cx.waker()) => None,
                _ => Some(None),
            })
        } else {
            Some(None)
        };
        let ready = match looked {
            None => return Poll::Pending,
            Some(done @ Some(_)) => done,
            Some(None) => {
                let waker = cx.waker().clone();
                let (ready, old) = with_pending(|p| {
                    let slot = match p.slots.get_mut(token) {
                        Some(slot) => slot,
                        None => p
                            .slots
                            .insert(token, Slot { state: State::Waiting(None), buffer: None }),
                    };
                    if let State::Done(_) = slot.state {
                        // Completed meanwhile (by the clone's user code): the clone goes.
                        return (take_done(p, token), Some(waker));
                    }
                    match std::mem::replace(&mut slot.state, State::Waiting(Some(waker))) {
                        State::Waiting(old) => (None, old),
                        // A new future for a token whose earlier future was dropped: it waits
                        // anew.
                        State::Done(_) | State::Cancelled => (None, None),
                    }
                });
                // At its first poll, a waker there is another future's that waits for the
                // same token: one of the two would wait for ever, unseen.
                let clash = first && ready.is_none() && old.is_some();
                drop(old);
                if clash {
                    two_futures(token)
                }
                ready
            }
        };
        match ready {
            Some(done) => {
                self.finished = true;
                Poll::Ready(done)
            }
            None => Poll::Pending,
        }
    }
}

/// Two futures wait for host token `token` at once.
#[cold]
#[inline(never)]
fn two_futures(token: u32) -> ! {
    crate::gate::trap_poisoning(format_args!(
        "two pending::value or pending::bytes futures wait for host token {token} at once: \
         the host completes a token once, for one future"
    ))
}

/// Takes the completion of `token` out of the table, where it is `Done` (which holds no waker:
/// nothing is dropped under the borrow but the slot).
#[inline]
fn take_done(p: &mut Pending, token: u32) -> Option<(i32, Option<Vec<u8>>)> {
    match p.slots.remove(token) {
        Some(Slot { state: State::Done(value), buffer }) => Some((value, buffer)),
        _ => None,
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let token = self.token;
        let waker = PENDING.try_with(|p| {
            let p = &mut *p.borrow_mut();
            let Some(slot) = p.slots.get_mut(token) else {
                // Never polled: a completion that comes later is ignored all the same.
                p.slots.insert(token, Slot { state: State::Cancelled, buffer: None });
                return None;
            };
            match std::mem::replace(&mut slot.state, State::Cancelled) {
                // Waiting: the host's completion, when it comes, is dropped.
                State::Waiting(waker) => waker,
                // Completed and never taken: nothing more will come (its buffer, dropped here,
                // runs no user code).
                State::Done(_) | State::Cancelled => {
                    p.slots.remove(token);
                    None
                }
            }
        });
        drop(waker);
    }
}

/// `wasmexport_complete`: completes `token` with `value`, then drives.
#[doc(hidden)]
pub fn complete(token: i32, value: i32) -> i32 {
    let token = token as u32;
    let waker = with_pending(|p| {
        let Some(slot) = p.slots.get_mut(token) else {
            // Completed before a future asked: kept for it.
            p.slots.insert(token, Slot { state: State::Done(value), buffer: None });
            return None;
        };
        match &mut slot.state {
            state @ State::Waiting(_) => match std::mem::replace(state, State::Done(value)) {
                State::Waiting(waker) => waker,
                _ => None,
            },
            // A second completion is ignored.
            State::Done(_) => None,
            State::Cancelled => {
                p.slots.remove(token);
                None
            }
        }
    });
    if let Some(waker) = waker {
        waker.wake();
    }
    drive()
}

/// `wasmexport_buffer`: reserves `len` bytes for the bytes of `token`; their address.
#[doc(hidden)]
pub fn buffer(token: i32, len: i32) -> i32 {
    let token = token as u32;
    // A negative length, or one the heap cannot give, reserves nothing (0) rather than
    // aborting.
    let bytes = usize::try_from(len).ok().and_then(|len| {
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(len).ok()?;
        bytes.resize(len, 0);
        Some(bytes)
    });
    let (old, ptr) = with_pending(|p| {
        let slot = match p.slots.get_mut(token) {
            Some(slot) => slot,
            None if bytes.is_none() => return (None, std::ptr::null_mut()),
            None => p.slots.insert(token, Slot { state: State::Waiting(None), buffer: None }),
        };
        if let State::Done(_) = slot.state {
            // Completed already: the buffer it has is its future's. A request after the
            // completion reserves nothing, as a second completion is ignored.
            return (bytes, std::ptr::null_mut());
        }
        // A reservation that failed leaves no earlier buffer behind: the future gets the
        // host's value as the error, not bytes the host did not mean.
        let old = std::mem::replace(&mut slot.buffer, bytes);
        let ptr = slot.buffer.as_mut().map_or(std::ptr::null_mut(), Vec::as_mut_ptr);
        (old, ptr)
    });
    drop(old);
    if len == 0 {
        // Nothing to write: the empty buffer is kept, so that completing with 0 gives no bytes.
        return 0;
    }
    // An address in linear memory: below 4 GiB on wasm32, so an `i32` holds it.
    ptr as usize as i32
}

/// The `wasmexport_drive` export. A host's idle tick (nothing queued, no timer armed, no
/// export on the stack) returns -1 after one load and a compare: it runs no code that could
/// observe the export on the stack.
#[doc(hidden)]
#[inline(always)]
pub fn drive_export() -> i32 {
    if crate::gate::idle_from_host() {
        return -1;
    }
    drive_entered()
}

/// `wasmexport_drive` past the idle check: out of line, so that the export itself needs no
/// stack frame.
#[cold]
#[inline(never)]
fn drive_entered() -> i32 {
    crate::call::call_sync("wasmexport_drive", drive)
}

/// `wasmexport_drive`: [`crate::drive`], with the time to the next timer in milliseconds
/// (rounded up, at most `i32::MAX`), or -1 when no timer is armed.
#[doc(hidden)]
#[inline]
pub fn drive() -> i32 {
    millis(crate::drive())
}

#[inline]
fn millis(next: Option<Duration>) -> i32 {
    match next {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            i32::try_from(ms).unwrap_or(i32::MAX)
        }
    }
}

/// Starts a pending export's call: its future (built from the call's id by `future`) as a task,
/// then everything ready; the status for the host.
#[doc(hidden)]
#[track_caller]
pub fn start<F, Fut>(export: &'static str, future: F) -> i32
where
    F: FnOnce(i32) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let id = CALLS.with(|c| {
        let id = if c.last_id.get() >= MAX_ID { 1 } else { c.last_id.get() + 1 };
        c.last_id.set(id);
        c.starting.set(c.starting.get() + 1);
        id
    });
    let starting = Starting;
    let handle = executor::spawn_call(future(id as i32), std::panic::Location::caller(), export);
    let next = executor::drive();
    drop(starting);
    let code = if handle.is_finished() { EXIT } else { WAIT };
    // A call nothing references any more (no waker of its task is left) traps here as a
    // deadlock, as the handle lets go of it.
    drop(handle);
    // A timer is armed, or tasks that yielded are ready again: the host is to ask when.
    let timer = if next.is_some() { TIMER } else { 0 };
    ((id as i32) << 4) | timer | code
}

/// How many pending exports' own calls are on the stack. Such a call's future is a task from
/// its start, so [`crate::task_count`] counts it as a task, not also as an export call.
pub(crate) fn starting() -> usize {
    CALLS.with(|c| c.starting.get())
}

/// A pending export's call in `start`, counted in [`starting`] until dropped (also by
/// unwinding, where panics unwind).
struct Starting;

impl Drop for Starting {
    fn drop(&mut self) {
        let _ = CALLS.try_with(|c| c.starting.set(c.starting.get() - 1));
    }
}

/// The owned copy of a slice parameter that a pending export's future keeps: the future
/// outlives the call that lent the bytes.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a pending export cannot take `{Self}`",
    label = "not allowed in a #[wasmexport(pending)] fn",
    note = "a pending export's future outlives the call, so its `&str` and `&[u8]` parameters are copied; writes to a `&mut [u8]` would never reach the host: take a `*mut u8` and a length, or return the bytes through a host import"
)]
pub trait OwnedSlice {
    /// What the future keeps.
    type Owned: 'static;
    /// Copies the bytes.
    fn own(self) -> Self::Owned;
}

impl OwnedSlice for &str {
    type Owned = Box<str>;
    fn own(self) -> Box<str> {
        self.into()
    }
}

impl OwnedSlice for &[u8] {
    type Owned = Box<[u8]>;
    fn own(self) -> Box<[u8]> {
        self.into()
    }
}

mod table;
#[cfg(test)]
mod tests;
