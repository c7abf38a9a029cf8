//! Exports one fn per allowed type, names of every form, init hooks and a panic.

use std::cell::Cell;
use wasmexport::wasmexport;

#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}

#[wasmexport]
fn id_i32(x: i32) -> i32 {
    x
}

#[wasmexport]
fn id_u32(x: u32) -> u32 {
    x
}

#[wasmexport]
fn id_i64(x: i64) -> i64 {
    x
}

#[wasmexport]
fn id_u64(x: u64) -> u64 {
    x
}

#[wasmexport]
fn id_f32(x: f32) -> f32 {
    x
}

#[wasmexport]
fn id_f64(x: f64) -> f64 {
    x
}

/// Shows the value crossed as a bool: the host passes any i32 and gets 0 or 1 back.
#[wasmexport]
fn not(b: bool) -> bool {
    !b
}

#[wasmexport]
fn is_null(p: *const u8) -> bool {
    p.is_null()
}

#[wasmexport]
fn ptr_add(p: *mut u32, n: u32) -> *mut u32 {
    p.wrapping_add(n as usize)
}

/// Reads a u32 the host wrote into linear memory.
///
/// # Safety
/// `p` must point to a readable, aligned u32 in this module's memory.
#[wasmexport]
unsafe fn read_u32(p: *const u32) -> u32 {
    // SAFETY: the caller (the host) passes a valid pointer, per the doc above.
    unsafe { p.read() }
}

/// A scratch u32 in linear memory for `read_u32`.
#[wasmexport]
fn scratch() -> *mut u32 {
    static mut SCRATCH: u32 = 0;
    &raw mut SCRATCH
}

type Handle = u32;
type Flag = bool;

#[wasmexport]
fn alias(h: Handle, f: Flag) -> Handle {
    h + f as Handle
}

#[wasmexport]
fn r#type() -> i32 {
    7
}

#[wasmexport(renamed)]
fn original_name() -> i32 {
    8
}

#[wasmexport("wasi:http/incoming-handler@0.2.0#handle")]
fn handle(a: u32, b: u32) -> u32 {
    a * 10 + b
}

#[wasmexport]
fn nothing() {}

/// An explicit `()` result is allowed too (the point of this export).
#[allow(clippy::unused_unit)]
#[wasmexport]
fn unit() -> () {}

#[wasmexport]
fn boom(code: i32) -> i32 {
    if code > 0 {
        panic!("boom with code {code}");
    }
    code
}

thread_local! {
    static INIT_ORDER: Cell<u64> = const { Cell::new(0) };
    static INIT_RUNS: Cell<u32> = const { Cell::new(0) };
}

fn record(digit: u64) {
    INIT_ORDER.set(INIT_ORDER.get() * 10 + digit);
    INIT_RUNS.set(INIT_RUNS.get() + 1);
}

#[wasmexport::init]
fn first() {
    record(1);
}

#[wasmexport::init]
fn second() {
    record(2);
}

mod later {
    #[wasmexport::init]
    fn third() {
        super::record(3);
    }
}

/// The init hooks' digits in the order they ran (123 expected).
#[wasmexport]
fn init_order() -> u64 {
    INIT_ORDER.get()
}

/// How many init hooks ran in all (3 expected, even after `_initialize` twice).
#[wasmexport]
fn init_runs() -> u32 {
    INIT_RUNS.get()
}
