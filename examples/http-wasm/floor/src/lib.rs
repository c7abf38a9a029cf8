//! keygate with hand-written `extern "C"` exports and imports and no runtime: the floor that
//! the wasmexport guest (`../guest`) is measured against in Traefik. Same logic
//! (`keygate-core`), same host calls; the config is read at the first request, since a plain
//! cdylib has no init hook of its own.

use keygate_core::{Config, Gate, Host};
use std::cell::RefCell;

#[link(wasm_import_module = "http_handler")]
unsafe extern "C" {
    fn get_config(buf: *mut u8, buf_limit: i32) -> i32;
    fn get_header_values(
        kind: i32,
        name: *const u8,
        name_len: i32,
        buf: *mut u8,
        limit: i32,
    ) -> i64;
    fn set_header_value(kind: i32, name: *const u8, name_len: i32, value: *const u8, len: i32);
    fn remove_header(kind: i32, name: *const u8, name_len: i32);
    fn set_status_code(code: i32);
    fn write_body(kind: i32, body: *const u8, body_len: i32);
}

thread_local! {
    static GATE: RefCell<Option<Gate>> = const { RefCell::new(None) };
}

fn load() -> Gate {
    // SAFETY: the host writes at most `buf_limit` bytes at `buf`.
    let len = unsafe { get_config(std::ptr::null_mut(), 0) };
    let mut config = vec![0u8; len.max(0) as usize];
    // SAFETY: as above; `config` has room for all of it.
    unsafe { get_config(config.as_mut_ptr(), config.len() as i32) };
    Gate::new(Config::parse(&config).unwrap_or_else(|e| panic!("{e}")))
}

struct HttpHandler;

impl Host for HttpHandler {
    fn header_values(&self, kind: i32, name: &str, buf: &mut [u8]) -> i64 {
        // SAFETY: pointers and lengths of live buffers; the host writes at most `buf.len()`.
        unsafe {
            get_header_values(
                kind,
                name.as_ptr(),
                name.len() as i32,
                buf.as_mut_ptr(),
                buf.len() as i32,
            )
        }
    }
    fn set_header(&self, kind: i32, name: &str, value: &str) {
        // SAFETY: pointers and lengths of live strings, read during the call.
        unsafe {
            set_header_value(
                kind,
                name.as_ptr(),
                name.len() as i32,
                value.as_ptr(),
                value.len() as i32,
            )
        }
    }
    fn remove_header(&self, kind: i32, name: &str) {
        // SAFETY: pointer and length of a live string, read during the call.
        unsafe { remove_header(kind, name.as_ptr(), name.len() as i32) }
    }
    fn set_status(&self, code: u32) {
        // SAFETY: a plain integer.
        unsafe { set_status_code(code as i32) }
    }
    fn write_body(&self, kind: i32, body: &[u8]) {
        // SAFETY: pointer and length of a live buffer, read during the call.
        unsafe { write_body(kind, body.as_ptr(), body.len() as i32) }
    }
}

/// The http-wasm `handle_request` export.
#[unsafe(no_mangle)]
pub extern "C" fn handle_request() -> i64 {
    GATE.with_borrow_mut(|gate| {
        i64::from(gate.get_or_insert_with(load).handle_request(&HttpHandler))
    })
}

/// The http-wasm `handle_response` export: nothing to do.
#[unsafe(no_mangle)]
pub extern "C" fn handle_response(_req_ctx: i32, _is_error: i32) {}
