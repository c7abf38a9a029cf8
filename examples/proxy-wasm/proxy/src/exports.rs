//! The proxy-wasm ABI 0.2.1 callbacks, each a plain `fn` export. Callbacks this filter type
//! has no use for (the response's, connections, queues, `proxy_on_done`, `proxy_on_log`) are
//! not exported: Envoy then does what they would do by default, without calling the module.

use crate::request::{Request, Stream};
use crate::state::{self, Callback};
use crate::{abi, callout};
use wasmexport::wasmexport;

/// Tells Envoy which ABI the module speaks.
#[wasmexport]
fn proxy_abi_version_0_2_1() {}

/// The host asks for `size` bytes to place what a `proxy_get_*` call returns. The buffer is
/// the module's from then on: the call that asked takes it as a `Vec` and frees it.
#[wasmexport]
fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    if size == 0 {
        return std::ptr::NonNull::<u8>::dangling().as_ptr();
    }
    let layout = std::alloc::Layout::array::<u8>(size).expect("a buffer the host can address");
    // SAFETY: `layout` has a non-zero size.
    let ptr = unsafe { std::alloc::alloc(layout) };
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    ptr
}

/// A root context (a plugin configuration, `parent_id` 0) or a stream (a request) begins.
#[wasmexport]
fn proxy_on_context_create(context_id: u32, parent_id: u32) {
    if parent_id == 0 {
        state::new_root(context_id);
    } else {
        state::new_stream(context_id, parent_id);
    }
}

/// Nothing to do when the VM starts: the filter is built per configuration.
#[wasmexport]
fn proxy_on_vm_start(_root_id: u32, _vm_configuration_size: usize) -> bool {
    true
}

/// Builds the root's filter from its configuration (`Filter::configure`), then runs the tasks
/// it spawned, so that their timers set the tick period.
#[wasmexport]
fn proxy_on_configure(root_id: u32, configuration_size: usize) -> bool {
    let _callback = Callback::new(root_id);
    let config = abi::buffer(abi::PLUGIN_CONFIGURATION, configuration_size).unwrap_or_default();
    let configured = state::configure(root_id, &config);
    state::run(root_id);
    configured
}

/// The tick set from the next timer's deadline: fires what is due, runs what it woke.
#[wasmexport]
fn proxy_on_tick(root_id: u32) {
    let _callback = Callback::new(root_id);
    state::run(root_id);
}

/// A request's headers: its handler starts as a task and runs as far as it goes.
#[wasmexport]
fn proxy_on_request_headers(context_id: u32, _headers: usize, end_of_stream: bool) -> u32 {
    let Some(stream) = state::stream(context_id) else { return abi::CONTINUE };
    let _callback = Callback::new(context_id);
    stream.end_of_stream.set(end_of_stream);
    stream.in_filter_callback.set(true);
    let started = state::start(stream.root, Request { stream: stream.clone() });
    if started {
        state::run(stream.root);
    }
    stream.in_filter_callback.set(false);
    if !started {
        return abi::CONTINUE;
    }
    stream.headers_action()
}

/// Body data, after the headers went on: buffered until the last, which ends the request.
#[wasmexport]
fn proxy_on_request_body(context_id: u32, body_size: usize, end_of_stream: bool) -> u32 {
    let Some(stream) = state::stream(context_id) else { return abi::CONTINUE };
    if stream.finished.get() || !end_of_stream {
        // Until the end, Envoy buffers the body while the handler holds the request.
        return stream.body_action(false);
    }
    end_request(&stream, body_size)
}

/// Request trailers end a request whose last body callback did not.
#[wasmexport]
fn proxy_on_request_trailers(context_id: u32, _trailers: u32) -> u32 {
    let Some(stream) = state::stream(context_id) else { return abi::CONTINUE };
    if stream.finished.get() || stream.end_of_stream.get() {
        return stream.body_action(true);
    }
    // The body Envoy buffered, whatever its size.
    end_request(&stream, u32::MAX as usize)
}

/// The request has arrived in full: hands the body Envoy buffered (up to `body_size` bytes)
/// to the handler and runs it as far as it goes.
fn end_request(stream: &Stream, body_size: usize) -> u32 {
    let _callback = Callback::new(stream.id);
    let body = abi::buffer(abi::REQUEST_BODY, body_size).unwrap_or_default();
    stream.end_of_stream.set(true);
    *stream.body.borrow_mut() = Some(body);
    if let Some(w) = stream.body_waker.take() {
        w.wake();
    }
    stream.in_filter_callback.set(true);
    state::run(stream.root);
    stream.in_filter_callback.set(false);
    stream.body_action(true)
}

/// A callout's response (or its failure, with no headers): wakes its future.
#[wasmexport]
fn proxy_on_http_call_response(
    context_id: u32,
    token: u32,
    headers: u32,
    body_size: usize,
    _trailers: u32,
) {
    let _callback = Callback::new(context_id);
    callout::deliver(token, headers, body_size);
    state::run(state::root_of(context_id));
}

/// A context ends; a request's unfinished handler is dropped.
#[wasmexport]
fn proxy_on_delete(context_id: u32) {
    let Some(stream) = state::remove(context_id) else { return };
    if !stream.finished.get() {
        let _callback = Callback::new(context_id);
        stream.end();
        state::run(stream.root);
    }
    state::recycle(stream);
}
