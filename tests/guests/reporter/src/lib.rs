//! A trap reporter that hands every `wasmexport:` line to the host's `test.report(ptr, len)`
//! import, and exports that trap in each way the runtime reports, plus ways for the reporter
//! itself to fail (`reporter_fails(mode)`: 1 panics after reporting, 2 traps in the host import).

use std::cell::Cell;
use wasmexport::{set_trap_reporter, wasmexport, wasmimport};

#[wasmimport(module = "test", name = "report")]
fn host_report(ptr: *const u8, len: u32);

#[wasmimport(module = "test", name = "report_traps")]
fn host_report_traps(ptr: *const u8, len: u32);

thread_local!(static MODE: Cell<u32> = const { Cell::new(0) });

fn to_host(line: &str) {
    let (ptr, len) = (line.as_ptr(), line.len() as u32);
    let mode = MODE.get();
    // SAFETY: both imports read `len` bytes at `ptr` during the call; they are `line`'s.
    unsafe {
        if mode == 2 {
            host_report_traps(ptr, len);
        } else {
            host_report(ptr, len);
        }
    }
    if mode == 1 {
        panic!("the reporter failed");
    }
}

#[wasmexport::init]
fn setup() {
    set_trap_reporter(to_host);
}

#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}

#[wasmexport]
fn boom(code: i32) {
    panic!("boom with code {code}");
}

#[wasmexport]
async fn stuck() {
    std::future::pending::<()>().await
}

#[wasmexport]
fn reporter_fails(mode: u32) {
    MODE.set(mode);
}
