//! The handlers' own scheduling: a handler that waits stays in its stream, and the waker it
//! is polled with queues that stream to be polled again; the callbacks poll what is queued
//! after each drive of the executor ([`state::run`](crate::state::run)).
//!
//! Handlers are not executor tasks: a task per request cost an allocation, a poll more at its
//! start (a spawned task is polled once before it can have waited on anything) and the
//! executor's queue, on every request that waits (about a tenth of the module's time on a
//! callout). Everything a handler awaits works as in a task: timers, callouts, the body,
//! [`wasmexport::spawn`]ed tasks and their `JoinHandle`s wake it through its waker.

use crate::place::InPlace;
use crate::request::Stream;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::rc::Rc;
use std::task::{Context, RawWaker, RawWakerVTable, Waker};

thread_local! {
    /// Streams whose handler was woken since its last poll, in the order they were.
    static QUEUE: RefCell<VecDeque<Rc<Stream>>> = const { RefCell::new(VecDeque::new()) };
    /// How many handlers wait (are kept in their stream).
    static WAITING: Cell<usize> = const { Cell::new(0) };
}

/// How many handlers are waiting for something: requests that are neither answered nor let
/// go, nor gone.
pub fn waiting_handlers() -> usize {
    WAITING.get()
}

/// Starts the handler of `stream` that `make` returns: polls it with the stream's waker, and
/// keeps it in the stream if it waits (if it finished, its memory is kept for the next).
#[inline(always)]
pub(crate) fn start<T: Future<Output = ()> + 'static>(
    stream: &Rc<Stream>,
    make: impl FnOnce() -> T,
) {
    let waker = borrowed_waker(stream);
    stream.polling.set(true);
    let handler = InPlace::start(make, &mut Context::from_waker(&waker));
    polled(stream, handler);
}

/// Polls `handler`, the handler of `stream`, with the stream's waker; keeps it in the stream
/// if it waits (and drops it, which frees its memory for the next, if it finished).
fn poll(stream: &Rc<Stream>, mut handler: InPlace) {
    let waker = borrowed_waker(stream);
    stream.polling.set(true);
    let pending = handler.poll(&mut Context::from_waker(&waker)).is_pending();
    polled(stream, pending.then_some(handler));
}

/// The poll of `stream`'s handler returned: keeps the handler if it waits (`Some`), and
/// queues it if it was woken during the poll.
///
/// A wake during the poll is only marked (see [`wake`]): had it queued the stream, a pass
/// nested in the poll (a callback the host makes from inside a host call the handler makes)
/// could take it while the handler is out of its stream, with nothing to poll, and the
/// handler, kept after, would wait for a wake-up already spent.
fn polled(stream: &Rc<Stream>, handler: Option<InPlace>) {
    stream.polling.set(false);
    let Some(handler) = handler else {
        stream.queued.set(false);
        return;
    };
    WAITING.set(WAITING.get() + 1);
    stream.handler.set(Some(handler));
    if stream.queued.get() {
        QUEUE.with_borrow_mut(|q| q.push_back(stream.clone()));
    }
}

/// Queues `stream` to have its handler polled, unless it is queued already (or being polled:
/// the poll queues it as it returns).
pub(crate) fn wake(stream: &Rc<Stream>) {
    if !stream.queued.replace(true) && !stream.polling.get() {
        QUEUE.with_borrow_mut(|q| q.push_back(stream.clone()));
    }
}

/// Polls the handlers queued when it starts (those they wake are polled by the next pass).
pub(crate) fn pass() {
    let queued = QUEUE.with_borrow(VecDeque::len);
    for _ in 0..queued {
        let Some(stream) = QUEUE.with_borrow_mut(VecDeque::pop_front) else { break };
        stream.queued.set(false);
        if let Some(handler) = stream.handler.take() {
            WAITING.set(WAITING.get() - 1);
            poll(&stream, handler);
        }
    }
}

/// Whether some handler is queued.
pub(crate) fn any_queued() -> bool {
    QUEUE.with_borrow(|q| !q.is_empty())
}

/// A waker that queues `stream`, for one poll: it borrows the caller's count of `stream`
/// (never dropped, so never given up); the clones a future keeps are counted.
fn borrowed_waker(stream: &Rc<Stream>) -> ManuallyDrop<Waker> {
    let data = Rc::as_ptr(stream).cast::<()>();
    // SAFETY: `data` is an `Rc<Stream>` that outlives the waker (the caller's, borrowed for
    // the poll), which the vtable's fns treat as counted; the waker is never dropped, so it
    // gives up no count. The module runs on one thread (wasm32 without threads): the waker,
    // `Send` and `Sync` by its type, never meets another thread, so the `Rc`'s plain count is
    // enough.
    ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) })
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake_owned, wake_by_ref, drop_ref);

/// The vtable's `clone`: one more count.
unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a counted `Rc<Stream>` (see `borrowed_waker`).
    unsafe { Rc::increment_strong_count(data.cast::<Stream>()) };
    RawWaker::new(data, &VTABLE)
}

/// The vtable's `wake`: queues the stream, and gives up the waker's count.
unsafe fn wake_owned(data: *const ()) {
    // SAFETY: `data` is a counted `Rc<Stream>` that this call owns.
    let stream = unsafe { Rc::from_raw(data.cast::<Stream>()) };
    wake(&stream);
}

/// The vtable's `wake_by_ref`: queues the stream.
unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: `data` is a counted `Rc<Stream>`, borrowed: not given up here.
    let stream = ManuallyDrop::new(unsafe { Rc::from_raw(data.cast::<Stream>()) });
    wake(&stream);
}

/// The vtable's `drop`: one count less.
unsafe fn drop_ref(data: *const ()) {
    // SAFETY: `data` is a counted `Rc<Stream>` that this call owns.
    unsafe { Rc::decrement_strong_count(data.cast::<Stream>()) };
}

#[cfg(test)]
mod tests {
    use super::{any_queued, pass, start, waiting_handlers};
    use crate::request::Stream;
    use crate::{Error, Filter, Request};
    use std::any::Any;
    use std::cell::{Cell, RefCell};
    use std::future::{Future, poll_fn};
    use std::pin::pin;
    use std::rc::Rc;
    use std::task::{Poll, Waker};

    thread_local! {
        static WAKER: RefCell<Option<Waker>> = const { RefCell::new(None) };
    }

    /// Waits until woken `n` times, keeping a clone of its waker; counts its polls.
    async fn woken(n: u32, polls: Rc<Cell<u32>>) {
        let mut left = n;
        std::future::poll_fn(|cx| {
            polls.set(polls.get() + 1);
            if left == 0 {
                return Poll::Ready(());
            }
            left -= 1;
            WAKER.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }

    #[test]
    fn a_woken_handler_is_polled_once_per_pass_until_it_finishes() {
        let stream = Rc::new(Stream::new(7, 1));
        let polls = Rc::new(Cell::new(0));
        let before = waiting_handlers();
        start(&stream, || woken(2, polls.clone()));
        assert_eq!((polls.get(), waiting_handlers()), (1, before + 1));
        assert!(!any_queued());
        // Woken twice before its poll: queued once (and a clone dropped unused).
        let waker = WAKER.take().unwrap();
        drop(waker.clone());
        waker.wake_by_ref();
        waker.wake();
        pass();
        assert_eq!(polls.get(), 2);
        // Woken again: polled by the next pass.
        WAKER.take().unwrap().wake();
        assert!(any_queued());
        pass();
        assert_eq!((polls.get(), waiting_handlers()), (3, before));
        assert!(stream.handler.take().is_none());
        // The handler and the wakers gave back their counts of the stream.
        assert_eq!(Rc::strong_count(&stream), 1);
    }

    /// Polled `n` times: at each but the last, woken (as by what it awaits), then, still in
    /// the poll, a callback nested in a host call polls the woken handlers (`pass`).
    async fn woken_inside(n: u32, polls: Rc<Cell<u32>>) {
        poll_fn(|cx| {
            polls.set(polls.get() + 1);
            if polls.get() == n {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            pass();
            Poll::Pending
        })
        .await
    }

    #[test]
    fn a_wake_during_the_handlers_poll_survives_a_pass_nested_in_it() {
        let stream = Rc::new(Stream::new(8, 1));
        let polls = Rc::new(Cell::new(0));
        start(&stream, || woken_inside(3, polls.clone()));
        assert_eq!(polls.get(), 1);
        assert!(any_queued(), "woken in its first poll: queued once it is kept");
        pass();
        assert_eq!(polls.get(), 2);
        assert!(any_queued(), "woken in a later poll: queued again");
        pass();
        assert_eq!(polls.get(), 3);
        assert!(!any_queued());
        assert!(stream.handler.take().is_none());
        assert_eq!(Rc::strong_count(&stream), 1);
    }

    /// Waits for the body and, at its first poll, goes on without it (as after a timeout).
    struct BodyOrNot;

    impl Filter for BodyOrNot {
        fn configure(_: &[u8]) -> Result<Self, String> {
            Ok(BodyOrNot)
        }

        async fn on_request(self: Rc<Self>, request: Request) -> Result<(), Error> {
            let mut body = pin!(request.body());
            poll_fn(|cx| {
                assert!(body.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            Ok(())
        }
    }

    #[test]
    fn a_handler_that_gave_up_on_the_body_leaves_no_count_of_its_stream() {
        let stream = Rc::new(Stream::new(9, 1));
        // In the headers callback: its return value lets the request go on (no host call).
        stream.in_filter_callback.set(true);
        let filter: Rc<dyn Any> = Rc::new(BodyOrNot);
        crate::request::start::<BodyOrNot>(&filter, Request { stream: stream.clone() });
        assert!(stream.finished.get() && stream.wants_body.get());
        assert_eq!(Rc::strong_count(&stream), 1, "nothing left holds the stream");
    }

    /// Ends its own stream during its first poll, as a host that deletes the stream from
    /// inside a host call the handler makes (its reply) would, then waits for ever.
    struct GoneInside;

    impl Filter for GoneInside {
        fn configure(_: &[u8]) -> Result<Self, String> {
            Ok(GoneInside)
        }

        async fn on_request(self: Rc<Self>, request: Request) -> Result<(), Error> {
            // What `proxy_on_delete` does for a stream whose handler has not finished.
            request.stream.end();
            crate::state::run(request.stream.root);
            std::future::pending::<()>().await;
            Ok(())
        }
    }

    #[test]
    fn a_stream_deleted_from_inside_its_handlers_poll_drops_the_handler() {
        let stream = Rc::new(Stream::new(10, 1));
        stream.in_filter_callback.set(true);
        let before = waiting_handlers();
        let filter: Rc<dyn Any> = Rc::new(GoneInside);
        crate::request::start::<GoneInside>(&filter, Request { stream: stream.clone() });
        // The rest of the callback the handler started in (`state::run`).
        while any_queued() {
            pass();
        }
        assert!(stream.finished.get(), "the handler was dropped");
        assert_eq!(waiting_handlers(), before);
        assert_eq!(Rc::strong_count(&stream), 1);
    }
}
