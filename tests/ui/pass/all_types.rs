//! Every allowed parameter and result type, aliases of them, and names of every form.
#![deny(warnings)]

use wasmexport::wasmexport;

type Handle = u32;
type Flag = bool;
type Ptr = *const u8;

#[wasmexport]
fn ints(a: i32, b: u32, c: i64, d: u64) -> i64 {
    a as i64 + b as i64 + c + d as i64
}

#[wasmexport]
fn floats(a: f32, b: f64) -> f64 {
    a as f64 + b
}

#[wasmexport]
fn flags(a: bool, b: Flag) -> bool {
    a && b
}

#[wasmexport]
fn pointers(a: *const u8, b: *mut u64, c: Ptr) -> *mut u64 {
    let _ = (a, c);
    b
}

#[wasmexport]
fn aliased(h: Handle) -> Handle {
    h
}

#[wasmexport]
fn unit_result() -> () {}

#[wasmexport]
fn no_result(_: i32, x: u32) {
    let _ = x;
}

#[wasmexport]
fn r#loop() -> u32 {
    1
}

#[wasmexport(r#match)]
fn keyword_name() {}

#[wasmexport(plain_ident)]
fn renamed() {}

#[wasmexport("wasi:http/incoming-handler@0.2.0#handle")]
fn handle(request: u32, out: u32) {
    let _ = (request, out);
}

#[wasmexport("with spaces and ünïcode ✓")]
fn odd_name() {}

/// # Safety
/// `p` must be readable.
#[wasmexport]
unsafe fn read_u32(p: *const u32) -> u32 {
    // SAFETY: the caller's contract.
    unsafe { p.read() }
}

#[wasmexport]
extern "C" fn c_abi(x: u32) -> u32 {
    x
}

#[wasmexport]
async fn later(x: u32) -> u32 {
    x + 1
}

#[wasmexport]
async unsafe fn later_unsafe(p: *const u32) -> u32 {
    // SAFETY: the caller's contract.
    unsafe { p.read() }
}

mod nested {
    #[wasmexport::wasmexport]
    pub(crate) fn in_module() -> u32 {
        2
    }
}

fn main() {
    assert_eq!(ints(1, 2, 3, 4), 10);
    assert_eq!(floats(1.5, 2.5), 4.0);
    assert!(flags(true, true));
    assert_eq!(aliased(7), 7);
    assert_eq!(r#loop(), 1);
    assert_eq!(nested::in_module(), 2);
    let x = 5u32;
    assert_eq!(unsafe { read_u32(&x) }, 5);
    let _ = (pointers, unit_result, no_result, keyword_name, renamed, handle, odd_name);
    let _ = (c_abi, later, later_unsafe);
}
