//! wasmexport as the renamed dependency `we`: every macro takes `crate = we`.

use std::cell::Cell;
use we::{HostLayout, wasmexport, wasmimport};

thread_local!(static READY: Cell<u32> = const { Cell::new(0) });

#[we::init(crate = we)]
fn setup() {
    READY.set(40);
}

#[wasmexport(crate = we)]
fn ready(x: u32) -> u32 {
    READY.get() + x
}

#[wasmexport("len of", crate = ::we)]
async fn len_of(s: &str) -> u32 {
    we::yield_now().await;
    s.len() as u32
}

#[derive(HostLayout)]
#[host_layout(crate = we)]
#[repr(C)]
pub struct Pair {
    a: u32,
    b: u32,
}

/// # Safety
/// `p` must point at a `Pair`.
#[wasmexport(crate = we)]
unsafe fn pair_sum(p: *const Pair) -> u32 {
    // SAFETY: the caller's contract.
    let p = unsafe { &*p };
    p.a + p.b
}

#[wasmimport(module = "test", name = "echo", crate = we)]
fn echo(text: &str, _: u32, out: &mut [u8]) -> usize;

#[wasmexport(crate = we)]
fn call_echo() -> u32 {
    let mut out = [0u8; 2];
    // SAFETY: the host reads the text and writes `out` during the call.
    unsafe { echo("ab", 7, &mut out) as u32 + u32::from(out[0]) }
}

/// A buffer of `len` bytes for the host to write into.
#[wasmexport(crate = we)]
fn alloc(len: u32) -> *mut u8 {
    Vec::<u8>::with_capacity(len as usize).leak().as_mut_ptr()
}
