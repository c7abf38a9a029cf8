#![deny(warnings)]

use wasmexport::{wasmexport, wasmimport};

#[wasmexport::init]
fn setup() {}

#[wasmimport(module = "host", name = "lookup")]
fn lookup(key: i32) -> i32;

#[wasmimport(module = "host")]
pub fn log(level: u32, ptr: *const u8, len: u32, urgent: bool);

type Key = i32;

#[wasmimport(module = "wasi:keyvalue/store@0.2.0", name = "get")]
pub(crate) fn get(key: Key) -> f64;

// Type-checked here; not exported or called, because the imports exist only in a wasm host and
// this case links natively.
#[allow(dead_code)]
fn uses_imports(k: i32) -> i32 {
    unsafe {
        log(0, std::ptr::null(), 0, false);
        lookup(k) + get(k) as i32
    }
}

#[wasmexport]
fn exported(k: i32) -> i32 {
    k
}

fn main() {
    setup();
    assert_eq!(exported(3), 3);
}
