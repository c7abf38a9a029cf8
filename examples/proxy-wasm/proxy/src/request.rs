//! A request's stream and the handle its handler gets.

use crate::callout::{self, Response};
use crate::place::InPlace;
use crate::ready;
use crate::{Error, Filter, abi, state};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// What the module knows of one request (an HTTP stream context).
pub(crate) struct Stream {
    pub(crate) id: u32,
    /// Its root context: the plugin configuration it runs under.
    pub(crate) root: u32,
    /// Inside this stream's own headers or body callback, whose return value continues or
    /// holds the request (so a handler finishing there needs no `proxy_continue_stream`).
    pub(crate) in_filter_callback: Cell<bool>,
    /// The headers callback returned "pause" (Envoy holds headers and body) and the request
    /// has not been continued since.
    pub(crate) headers_held: Cell<bool>,
    /// The body callback that ended the request returned "pause" (Envoy holds the body).
    pub(crate) body_held: Cell<bool>,
    /// The handler waits for the body.
    pub(crate) wants_body: Cell<bool>,
    /// The handler has finished (or was dropped).
    pub(crate) finished: Cell<bool>,
    /// A local reply was sent: the request must not be continued.
    pub(crate) replied: Cell<bool>,
    /// The whole request has arrived.
    pub(crate) end_of_stream: Cell<bool>,
    /// The host deleted the stream: its handler is dropped at its next wake-up.
    pub(crate) gone: Cell<bool>,
    /// The request body, read in the body callback that ended the request, until taken.
    pub(crate) body: RefCell<Option<Vec<u8>>>,
    /// Who waits for the body.
    pub(crate) body_waker: RefCell<Option<Waker>>,
    /// The handler, while it waits (taken out while it is polled).
    pub(crate) handler: Cell<Option<InPlace>>,
    /// The handler was woken and is queued to be polled ([`ready`]), or, while it is being
    /// polled, is to be queued when the poll returns.
    pub(crate) queued: Cell<bool>,
    /// The handler is being polled (out of `handler`).
    pub(crate) polling: Cell<bool>,
}

impl Stream {
    pub(crate) fn new(id: u32, root: u32) -> Self {
        Stream {
            id,
            root,
            in_filter_callback: Cell::new(false),
            headers_held: Cell::new(false),
            body_held: Cell::new(false),
            wants_body: Cell::new(false),
            finished: Cell::new(false),
            replied: Cell::new(false),
            end_of_stream: Cell::new(false),
            gone: Cell::new(false),
            body: RefCell::new(None),
            body_waker: RefCell::new(None),
            handler: Cell::new(None),
            queued: Cell::new(false),
            polling: Cell::new(false),
        }
    }

    /// Makes this request the context host calls apply to.
    fn enter(&self) -> Result<(), Error> {
        if self.gone.get() {
            return Err(Error::Gone);
        }
        state::enter(self.id)
    }

    /// What the headers callback returns once the handler ran as far as it could: continue if
    /// it finished without a reply or waits for the body (Envoy delivers the body only to a
    /// filter that let the headers go on), pause otherwise.
    pub(crate) fn headers_action(&self) -> u32 {
        let (finished, replied) = (self.finished.get(), self.replied.get());
        if finished && !replied || !finished && self.wants_body.get() {
            return abi::CONTINUE;
        }
        self.headers_held.set(!finished);
        abi::PAUSE
    }

    /// What a body callback returns: continue once the handler finished without a reply;
    /// otherwise pause, which buffers the body in Envoy.
    pub(crate) fn body_action(&self, end_of_stream: bool) -> u32 {
        if self.finished.get() {
            return if self.replied.get() { abi::PAUSE } else { abi::CONTINUE };
        }
        self.body_held.set(end_of_stream);
        abi::PAUSE
    }

    /// Lets Envoy go on with the request if a callback of this stream held it, unless the
    /// handler is in one (its return value decides then) or replied.
    fn release(&self) {
        if self.in_filter_callback.get() || self.replied.get() {
            return;
        }
        let held = self.headers_held.replace(false) | self.body_held.replace(false);
        if held && self.enter().is_ok() {
            // Envoy continues the request once the current callback returns.
            let _ = abi::continue_request();
        }
    }

    /// The stream went away: drop its handler (at its next poll, which this queues) and stop
    /// waiting.
    pub(crate) fn end(self: &Rc<Self>) {
        self.gone.set(true);
        if let Some(w) = self.body_waker.take() {
            w.wake();
        }
        ready::wake(self);
    }
}

/// Keeps `slot` holding a waker that wakes `cx`'s task.
fn keep(slot: &RefCell<Option<Waker>>, cx: &Context<'_>) {
    let mut slot = slot.borrow_mut();
    if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        *slot = Some(cx.waker().clone());
    }
}

/// Starts `F`'s handler for `request`: polls it, and keeps it in the stream if it waits (see
/// [`ready`]). Its future sits in memory kept from the handlers before ([`InPlace`]).
pub(crate) fn start<F: Filter>(filter: &Rc<dyn Any>, request: Request) {
    let Ok(filter) = filter.clone().downcast::<F>() else {
        unreachable!("a root's filter has the registered type");
    };
    let stream = request.stream.clone();
    // Built where it stays: the handler's future is not moved on the way.
    ready::start(&stream, || Run { stream: stream.clone(), handler: filter.on_request(request) });
}

/// A request's handler as it runs: polls `handler` until it finishes or the stream goes, then
/// ends the request as the handler decided ([`finish`]).
///
/// A struct, not an `async fn`: that would move the handler's future (hundreds of bytes) once
/// more, into its own frame, at its first poll.
struct Run<H> {
    stream: Rc<Stream>,
    handler: H,
}

impl<H: Future<Output = Result<(), Error>>> Future for Run<H> {
    type Output = ();

    /// Not to be polled again once ready (it is dropped then).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `handler` is pinned with `self`: it is never moved out (`Run` has no `Drop`
        // and nothing takes it by value), only polled in place.
        let this = unsafe { self.get_unchecked_mut() };
        let stream = &this.stream;
        let outcome = if stream.gone.get() {
            None
        } else {
            // SAFETY: as above.
            match unsafe { Pin::new_unchecked(&mut this.handler) }.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => Some(result),
            }
        };
        finish(stream, outcome);
        Poll::Ready(())
    }
}

/// The handler finished with `outcome` (`None`: the stream went first): a failure is logged
/// and answered with a 500 if nothing was, and the request goes on if a callback held it.
fn finish(stream: &Rc<Stream>, outcome: Option<Result<(), Error>>) {
    stream.finished.set(true);
    // A body future the handler dropped unfinished (it took another branch) left its waker,
    // which counts the stream: kept in the stream, it would keep the stream alive for ever.
    drop(stream.body_waker.take());
    match outcome {
        None | Some(Err(Error::Gone)) => return,
        Some(Ok(())) => {}
        Some(Err(e)) => {
            abi::log(4, &format!("wasmexport-proxy: request handler failed: {e}"));
            if !stream.replied.get() && !stream.gone.get() {
                let request = Request { stream: stream.clone() };
                let _ = request.send_response(500, &[], b"filter error\n");
            }
        }
    }
    stream.release();
}

/// One request, as its handler sees it: headers, body, callouts and the reply.
///
/// Every method makes this request the context of its host call first, so a handler may call
/// them whenever it runs (a task runs during other requests' callbacks and ticks too). Once
/// the client is gone they return [`Error::Gone`].
pub struct Request {
    pub(crate) stream: Rc<Stream>,
}

impl Request {
    /// The request's stream context id (Envoy's, unique on this worker while it lives).
    pub fn context_id(&self) -> u32 {
        self.stream.id
    }

    /// The value of request header `name` (lower case), `None` if there is none.
    pub fn header(&self, name: &str) -> Result<Option<String>, Error> {
        self.stream.enter()?;
        abi::header(abi::REQUEST_HEADERS, name)
    }

    /// Every request header, pseudo-headers (`:path`, `:method`, ...) first, in order.
    pub fn headers(&self) -> Result<Vec<(String, String)>, Error> {
        self.stream.enter()?;
        abi::header_pairs(abi::REQUEST_HEADERS)
    }

    /// The request's `:path` (with its query).
    pub fn path(&self) -> Result<String, Error> {
        Ok(self.header(":path")?.unwrap_or_default())
    }

    /// Sets header `name` to `value`, replacing any values it had.
    pub fn set_header(&self, name: &str, value: &str) -> Result<(), Error> {
        self.stream.enter()?;
        abi::set_header(abi::REQUEST_HEADERS, name, value)
    }

    /// Adds a value to header `name`, keeping those it has.
    pub fn add_header(&self, name: &str, value: &str) -> Result<(), Error> {
        self.stream.enter()?;
        abi::add_header(abi::REQUEST_HEADERS, name, value)
    }

    /// Removes header `name`.
    pub fn remove_header(&self, name: &str) -> Result<(), Error> {
        self.stream.enter()?;
        abi::remove_header(abi::REQUEST_HEADERS, name)
    }

    /// Answers the request from the filter with `status`, `headers` and `body`; the request
    /// does not go upstream. One reply per request: a second is refused by Envoy.
    pub fn send_response(
        &self,
        status: u32,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), Error> {
        self.stream.enter()?;
        abi::send_local_response(status, headers, body)?;
        self.stream.replied.set(true);
        Ok(())
    }

    /// The whole request body, once it has arrived (empty for a request without one); it can
    /// be taken once.
    ///
    /// Envoy delivers the body only after the filter lets the headers go on, so awaiting it
    /// sends the headers upstream (header changes must come before) while Envoy buffers the
    /// body: the handler can still answer in place of the upstream (a 403 for a body it
    /// refuses), or return `Ok(())` to let the body follow the headers.
    pub async fn body(&self) -> Result<Vec<u8>, Error> {
        poll_fn(|cx| {
            let stream = &self.stream;
            if stream.gone.get() {
                return Poll::Ready(Err(Error::Gone));
            }
            if let Some(body) = stream.body.take() {
                return Poll::Ready(Ok(body));
            }
            if stream.end_of_stream.get() {
                return Poll::Ready(Ok(Vec::new()));
            }
            keep(&stream.body_waker, cx);
            if !stream.wants_body.replace(true) {
                stream.release();
            }
            Poll::Pending
        })
        .await
    }

    /// Sends an HTTP request to Envoy cluster `upstream` and waits for its response.
    ///
    /// `headers` must include `:method`, `:path` and `:authority`. `timeout` of zero means
    /// Envoy's default (none).
    pub async fn http_call(
        &self,
        upstream: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<Response, Error> {
        self.stream.enter()?;
        let ms = timeout.as_millis().min(u128::from(u32::MAX)) as u32;
        let token = abi::http_call(upstream, headers, body, ms)?;
        callout::response(token).await
    }
}
