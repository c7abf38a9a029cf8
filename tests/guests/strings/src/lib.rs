//! Exports that take strings and byte buffers (two `i32`s each: pointer, length), `usize` and
//! `isize`, pointers to a host-layout struct; an import that takes a `&str`; generated names
//! that the user's names cannot break; a `#[cfg]`'d parameter.

use wasmexport::{HostLayout, wasmexport, wasmimport, yield_now};

/// A buffer of `len` bytes for the host to write into (leaked: the tests' instances are short).
#[wasmexport]
fn alloc(len: u32) -> *mut u8 {
    let mut buf = vec![0u8; len as usize];
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr
}

/// How many chars `s` has (not bytes: the host sees that the guest decoded UTF-8).
#[wasmexport]
fn chars(s: &str) -> u32 {
    s.chars().count() as u32
}

/// The sum of the bytes.
#[wasmexport]
fn sum(bytes: &[u8]) -> u32 {
    bytes.iter().map(|&b| u32::from(b)).sum()
}

/// Two shared buffers may overlap: the sum of both.
#[wasmexport]
fn sum2(a: &[u8], b: &str) -> u32 {
    sum(a) + sum(b.as_bytes())
}

/// Copies `src` upper-cased into `dst`; returns how many bytes it wrote.
#[wasmexport]
fn upper(src: &str, dst: &mut [u8]) -> u32 {
    let upper = src.to_uppercase();
    let n = upper.len().min(dst.len());
    dst[..n].copy_from_slice(&upper.as_bytes()[..n]);
    n as u32
}

/// Swaps the contents of two buffers of the same length.
#[wasmexport]
fn swap(a: &mut [u8], b: &mut [u8]) -> u32 {
    let n = a.len().min(b.len());
    a[..n].swap_with_slice(&mut b[..n]);
    n as u32
}

/// Holds its `&str` across awaits: the future borrows the host's bytes for the call.
#[wasmexport]
async fn chars_later(s: &str) -> u32 {
    let before = s.chars().count();
    yield_now().await;
    yield_now().await;
    (before + s.chars().count()) as u32
}

/// `usize` and `isize` cross as `i32`.
#[wasmexport]
fn offset(base: usize, delta: isize) -> usize {
    base.wrapping_add_signed(delta)
}

/// A struct the host writes into memory: its layout is C's.
#[derive(HostLayout)]
#[repr(C)]
pub struct Point {
    x: i32,
    y: i32,
    tag: [u8; 4],
}

/// `x + y + tag[0]` of the point at `p`.
///
/// # Safety
/// `p` must point at a `Point`.
#[wasmexport]
unsafe fn point_sum(p: *const Point) -> i32 {
    // SAFETY: the caller's contract.
    let p = unsafe { &*p };
    p.x + p.y + i32::from(p.tag[0])
}

#[wasmimport(module = "test", name = "echo")]
fn host_echo(text: &str, _: u32, out: &mut [u8]) -> usize;

/// Sends `"héllo"` repeated `n` times to the host's `echo`, which writes it back reversed into
/// a buffer; returns the number of bytes the host says it read, or 0 if the reply is wrong.
#[wasmexport]
fn call_echo(n: u32) -> u32 {
    let text = "héllo".repeat(n as usize);
    let mut out = vec![0u8; text.len()];
    // SAFETY: the host reads `text` and writes `out` during the call, both alive and disjoint.
    let read = unsafe { host_echo(&text, 7, &mut out) };
    let mut expected = text.clone().into_bytes();
    expected.reverse();
    if out == expected { read as u32 } else { 0 }
}

/// The `#[cfg]`'d-out parameter is not in the wasm signature: `(i32, i32) -> i32`.
#[wasmexport]
fn configured(
    a: u32,
    #[cfg(target_os = "none")] gone: &str,
    #[cfg(target_os = "wasi")] kept: u32,
) -> u32 {
    a * 10 + kept
}

/// Names that the expansion also uses cannot break it.
#[wasmexport]
fn __wasmexport_shim(__wasmexport_arg0: u32, arg0: u32) -> u32 {
    __wasmexport_arg0 * 100 + arg0
}

type Unit = ();

/// `Unit` is `()`: the export returns nothing.
#[wasmexport]
fn unit(_: u32) -> Unit {}
