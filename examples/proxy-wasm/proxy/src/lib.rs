//! Envoy HTTP filters (the proxy-wasm ABI 0.2.1) whose request handler is an `async fn`.
//!
//! A filter implements [`Filter`]; the library runs each request's handler, an `async fn` that
//! can await an HTTP callout ([`Request::http_call`]), a timer
//! ([`wasmexport::time::sleep`]) or the request body ([`Request::body`]), read and change the
//! request's headers, and answer in place of the upstream ([`Request::send_response`]). When the
//! handler returns `Ok(())` without having answered, the request goes on upstream.
//!
//! ```
//! use std::rc::Rc;
//! use wasmexport_proxy::{Error, Filter, Request};
//!
//! struct Hello;
//!
//! impl Filter for Hello {
//!     fn configure(_config: &[u8]) -> Result<Self, String> {
//!         Ok(Hello)
//!     }
//!
//!     async fn on_request(self: Rc<Self>, request: Request) -> Result<(), Error> {
//!         wasmexport::time::sleep(std::time::Duration::from_millis(10)).await;
//!         request.set_header("x-hello", "world")
//!     }
//! }
//!
//! #[wasmexport::init]
//! fn init() {
//!     wasmexport_proxy::register::<Hello>();
//! }
//! # fn main() {}
//! ```
//!
//! # How it runs in Envoy
//!
//! The library exports the ABI's callbacks (`proxy_on_request_headers`, ...) as plain `fn`
//! exports, declared here with `#[wasmexport]`: a crate that links this library exports them.
//! `proxy_on_request_headers` polls the handler; if it finished, the request continues at once,
//! otherwise the callback pauses it, and the handler later continues it
//! (`proxy_continue_stream`) or answers it (`proxy_send_local_response`). A waiting handler is
//! kept in its stream, not spawned as an executor task (which would cost an allocation and a
//! poll more per request): its waker queues it, and every callback, after running the executor
//! ([`wasmexport::drive`]: timers, spawned tasks), polls the handlers woken, then drives again,
//! until nothing is left. The callbacks that deliver events (a callout's response, a tick, the
//! body) wake the futures waiting for them that way. Inside a handler everything works as in a
//! task: [`wasmexport::spawn`], `JoinHandle`s, timers; [`waiting_handlers`] counts the handlers
//! that wait, as [`wasmexport::task_count`] counts tasks. Envoy's WASI `poll_oneoff` returns at once, so nothing here
//! blocks: timers fire from `proxy_on_tick`, whose period is set after each drive from the
//! next deadline.
//!
//! Every host call a handler makes for its request first makes that request's context the
//! effective one (`proxy_set_effective_context`): a handler may run during another request's
//! callback or a tick.
//!
//! A panic in a handler traps the module, and Envoy then fails the plugin on that worker (see
//! the example's README for what later requests get).
#![warn(missing_docs)]

mod abi;
mod callout;
mod exports;
mod place;
mod ready;
mod request;
mod state;

pub use callout::Response;
pub use ready::waiting_handlers;
pub use request::Request;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::rc::Rc;

/// An HTTP filter: one value per plugin configuration (per worker), one handler per request.
pub trait Filter: Sized + 'static {
    /// Builds the filter from the plugin's `configuration` bytes (Envoy's `proxy_on_configure`,
    /// on each worker). An `Err` is logged and makes Envoy refuse the configuration.
    ///
    /// Tasks it spawns ([`wasmexport::spawn`]) start as it returns, and their timers fire
    /// from the plugin's ticks, with no request needed; host calls are for requests only.
    fn configure(config: &[u8]) -> Result<Self, String>;

    /// Handles one request, from the moment its headers arrive: polled first in the headers
    /// callback, then, if it waits, whenever what it waits for wakes it.
    ///
    /// Return `Ok(())` to let the request go on upstream (with the header changes made), after
    /// [`Request::send_response`] to end it with that reply. An `Err` is logged and answered
    /// with a 500 reply if no reply was sent. If the client goes away first, the future is
    /// dropped at its next wake-up point.
    fn on_request(
        self: Rc<Self>,
        request: Request,
    ) -> impl Future<Output = Result<(), Error>> + 'static;
}

/// Makes `F` the module's filter; call it from a [`#[wasmexport::init]`](wasmexport::init) fn.
///
/// `_initialize` is where init fns run, and Envoy refuses every host call there but logging:
/// `register` only records the type, and [`Filter::configure`] runs later, from
/// `proxy_on_configure`.
pub fn register<F: Filter>() {
    state::register(state::Plugin {
        configure: |config| F::configure(config).map(|f| Rc::new(f) as Rc<dyn Any>),
        start: request::start::<F>,
    });
}

/// Why a host call for a request did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The host refused the call with this proxy-wasm status (1 not found, 2 bad argument, ...;
    /// a callout to an unknown cluster is a bad argument).
    Status(u32),
    /// A callout got no response: it timed out, was reset, or had no healthy upstream.
    CalloutFailed,
    /// The request is gone (the client went away, or Envoy ended the stream).
    Gone,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Status(s) => write!(f, "the host refused the call (proxy-wasm status {s})"),
            Error::CalloutFailed => f.write_str("the HTTP callout got no response"),
            Error::Gone => f.write_str("the request is gone"),
        }
    }
}

impl std::error::Error for Error {}

/// A level of Envoy's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `trace`
    Trace,
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warn`
    Warn,
    /// `error`
    Error,
}

/// Writes `message` to Envoy's log (`wasm log <plugin>: message`), from any context.
pub fn log(level: LogLevel, message: &str) {
    abi::log(level as u32, message);
}
