//! keygate: an [http-wasm](https://http-wasm.io/http-handler-abi/) middleware for Traefik,
//! written with wasmexport. API keys from the plugin config, a token bucket per client, 401 and
//! 429 written by the guest, `x-client` sent upstream, and `x-wasm-ratelimit-remaining` on the
//! response; the logic is in `keygate-core` (shared with the hand-written floor), this file is
//! the glue: two exports, the `http_handler` imports, and the init hook.
//!
//! Traefik instantiates the module once per pooled instance and runs `_initialize` on each, so
//! the init hook reads the config once per instance; every instance has its own buckets.

use keygate_core::{Config, Gate, Host};
use std::cell::RefCell;
use wasmexport::{wasmexport, wasmimport};

#[wasmimport(module = "http_handler", name = "get_config")]
fn get_config(buf: &mut [u8]) -> i32;
#[wasmimport(module = "http_handler", name = "log")]
fn log(level: i32, message: &str);
#[wasmimport(module = "http_handler", name = "get_header_values")]
fn get_header_values(kind: i32, name: &str, buf: &mut [u8]) -> i64;
#[wasmimport(module = "http_handler", name = "set_header_value")]
fn set_header_value(kind: i32, name: &str, value: &str);
#[wasmimport(module = "http_handler", name = "remove_header")]
fn remove_header(kind: i32, name: &str);
#[wasmimport(module = "http_handler", name = "set_status_code")]
fn set_status_code(code: i32);
#[wasmimport(module = "http_handler", name = "write_body")]
fn write_body(kind: i32, body: &[u8]);

/// `log_level` error of the http-wasm ABI.
const LOG_ERROR: i32 = 2;

thread_local! {
    /// This instance's config and buckets, made by the init hook.
    static GATE: RefCell<Option<Gate>> = const { RefCell::new(None) };
}

/// Runs from `_initialize`, on every instance Traefik makes: `get_config` works there (the
/// host holds the config, not the request), so a bad config fails the middleware when Traefik
/// loads it, with the reason in Traefik's log, instead of failing requests.
#[wasmexport::init]
fn setup() {
    // Traefik drops a guest's stderr: pass wasmexport's line before a trap to Traefik's log.
    wasmexport::set_trap_reporter(|line| {
        // SAFETY: `log` reads `line` during the call; it allocates nothing in the guest.
        unsafe { log(LOG_ERROR, line) }
    });
    // SAFETY: the host writes at most `buf.len()` bytes into `buf` and returns the length.
    let len = unsafe { get_config(&mut []) };
    let mut config = vec![0; len.max(0) as usize];
    // SAFETY: as above; `config` has room for all of it.
    unsafe { get_config(&mut config) };
    match Config::parse(&config) {
        Ok(config) => GATE.set(Some(Gate::new(config))),
        Err(e) => panic!("{e}"),
    }
}

/// The host, through the imports.
struct HttpHandler;

impl Host for HttpHandler {
    fn header_values(&self, kind: i32, name: &str, buf: &mut [u8]) -> i64 {
        // SAFETY: the host writes at most `buf.len()` bytes into `buf`.
        unsafe { get_header_values(kind, name, buf) }
    }
    fn set_header(&self, kind: i32, name: &str, value: &str) {
        // SAFETY: the host reads `name` and `value` during the call.
        unsafe { set_header_value(kind, name, value) }
    }
    fn remove_header(&self, kind: i32, name: &str) {
        // SAFETY: the host reads `name` during the call.
        unsafe { remove_header(kind, name) }
    }
    fn set_status(&self, code: u32) {
        // SAFETY: a plain integer.
        unsafe { set_status_code(code as i32) }
    }
    fn write_body(&self, kind: i32, body: &[u8]) {
        // SAFETY: the host reads `body` during the call.
        unsafe { write_body(kind, body) }
    }
}

/// Called by Traefik for every request: `1` sends it on to the next handler, `0` means the
/// guest wrote the response (401 or 429). No request context (the upper 32 bits) is needed.
#[wasmexport]
fn handle_request() -> i64 {
    GATE.with_borrow_mut(|gate| {
        let gate = gate.as_mut().expect("keygate: the init hook did not run");
        i64::from(gate.handle_request(&HttpHandler))
    })
}

/// Called by Traefik after the next handler for every request that went on; keygate has
/// nothing to do with the response then (its header was set before it was written).
#[wasmexport]
fn handle_response(_req_ctx: i32, _is_error: i32) {}
