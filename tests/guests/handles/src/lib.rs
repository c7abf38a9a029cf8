//! Opaque handles: pointers to empty types, which Go writes `*struct{}`. The host hands out
//! handles through imports and gets them back through exports; each is one `i32` whose value
//! must cross unchanged, whatever it is (the guest never reads through it).
// The generated extern blocks must not warn about pointers to empty structs.
#![deny(improper_ctypes, improper_ctypes_definitions)]

use std::cell::Cell;
use wasmexport::{HostLayout, wasmexport, wasmimport};

wasmexport::async_abi!();

/// A session the host owns; the guest knows only its address.
#[derive(HostLayout)]
#[repr(C)]
pub struct Session {}

/// A unit struct: size 0 as well.
#[derive(HostLayout)]
#[repr(C)]
pub struct Token;

/// The guest's own zero-sized static, whose address it hands out.
static TOKEN: Token = Token;

#[wasmimport(module = "handles")]
fn open(key: u32) -> *mut Session;

#[wasmimport(module = "handles")]
fn describe(session: *const Session, raw: *mut ()) -> u32;

#[wasmimport(module = "handles")]
fn pass_back(handle: *const ()) -> *const Token;

thread_local! {
    static KEPT: Cell<*mut ()> = const { Cell::new(std::ptr::null_mut()) };
}

/// Asks the host for the session of `key` and returns it.
#[wasmexport]
fn session(key: u32) -> *mut Session {
    // SAFETY: the host import has no preconditions.
    unsafe { open(key) }
}

/// Passes `session` and `raw` back to the host, which describes them.
#[wasmexport]
fn ask(session: *const Session, raw: *mut ()) -> u32 {
    // SAFETY: as above.
    unsafe { describe(session, raw) }
}

/// Keeps a handle for later.
#[wasmexport]
fn keep(handle: *mut ()) {
    KEPT.set(handle);
}

/// The handle last kept.
#[wasmexport]
fn kept() -> *mut () {
    KEPT.get()
}

/// The address of the guest's zero-sized static, through the host and back.
#[wasmexport]
fn token() -> *const Token {
    // SAFETY: as above.
    unsafe { pass_back((&raw const TOKEN).cast()) }
}

/// A pending export whose result is a handle: its `[task-return]` import takes one.
#[wasmexport(pending)]
async fn session_later(key: u32) -> *mut Session {
    session(key)
}
