//! The boundary's newer types: usize/isize, slices and strings, pointers to host-layout structs,
//! `()` aliases, `#[cfg]` on parameters, `_` import parameters, generated names that cannot
//! collide with the user's, and `crate = path`.
#![deny(warnings)]

use std::ffi::c_void;
use wasmexport::{HostLayout, wasmexport, wasmimport};

type Unit = ();
type Byte = u8;

#[wasmexport]
fn sizes(a: usize, b: isize) -> usize {
    a.wrapping_add(b as usize)
}

#[wasmexport]
fn text(s: &str, b: &[u8], out: &mut [u8]) -> u32 {
    out.iter_mut().zip(s.bytes().chain(b.iter().copied())).for_each(|(o, i)| *o = i);
    (s.len() + b.len()) as u32
}

#[wasmexport]
fn spelled(a: &'static str, b: &[Byte], c: &mut [Byte], d: &str) -> u32 {
    (a.len() + b.len() + c.len() + d.len()) as u32
}

#[wasmexport]
async fn text_later(s: &str, out: &mut [u8]) -> u32 {
    wasmexport::yield_now().await;
    out.iter_mut().zip(s.bytes()).for_each(|(o, i)| *o = i);
    s.len() as u32
}

#[wasmexport]
fn unit_alias() -> Unit {}

#[derive(HostLayout, Clone, Copy)]
#[repr(C)]
pub struct Point {
    pub x: f64,
    pub y: i16,
    pub tag: [u8; 3],
    pub next: *const Point,
    pub raw: *mut c_void,
}

#[derive(HostLayout)]
#[repr(transparent)]
pub struct Meters(pub f32);

#[derive(HostLayout)]
#[repr(C, align(16))]
pub struct Pair<T> {
    pub a: T,
    pub b: T,
}

type PointPtr = *const Point;

/// # Safety
/// `p` must be readable.
#[wasmexport]
unsafe fn layouts(
    p: *const Point,
    q: PointPtr,
    m: *mut Meters,
    pair: *const Pair<u32>,
    v: *mut c_void,
    a: *const [u16; 4],
    pp: *const *const i8,
) -> *const Point {
    let _ = (q, m, pair, v, a, pp);
    p
}

#[wasmexport]
fn configured(a: u32, #[cfg(any())] b: &str, #[cfg(all())] c: &str) -> u32 {
    a + c.len() as u32
}

// Generated names cannot collide with the user's.
#[wasmexport]
fn __wasmexport_shim(__wasmexport_arg0: u32, arg0: u32, arg0_ptr: &str) -> u32 {
    __wasmexport_arg0 + arg0 + arg0_ptr.len() as u32
}

#[wasmexport]
fn __wasmexport_shim_wasmexport_shim() {}

#[wasmexport]
fn arg1(arg0: u32, arg1_len: u32) -> u32 {
    arg0 + arg1_len
}

#[wasmimport(module = "host", name = "log")]
fn log(level: u32, message: &str, _: u32, #[cfg(any())] gone: &[u8]);

#[wasmimport(module = "host")]
fn fill(import: &mut [u8], ret: usize, call: *const Point) -> Unit;

#[wasmimport(module = "host")]
fn import_(import: &str, import_: u32) -> usize;

#[wasmexport(crate = ::wasmexport)]
fn renamed_crate() {}

#[wasmexport("with_crate", crate = wasmexport)]
fn with_crate() {}

#[wasmexport(crate = wasmexport, named_after)]
fn crate_first() {}

#[wasmimport(crate = wasmexport, module = "host")]
fn imported_with_crate(x: u32);

#[wasmexport::init(crate = wasmexport)]
fn init_with_crate() {}

#[derive(HostLayout)]
#[host_layout(crate = wasmexport)]
#[repr(C)]
pub struct WithCrate {
    pub x: u32,
}

// Type-checked here; not called, because the imports exist only in a wasm host and this case
// links natively.
#[allow(dead_code)]
fn uses_imports(p: *const Point) -> usize {
    let mut buf = [0u8; 2];
    unsafe {
        log(1, "hello", 0);
        fill(&mut buf, 0, p);
        imported_with_crate(3);
        import_("x", 1)
    }
}

fn main() {
    assert_eq!(sizes(1, 2), 3);
    let mut out = [0u8; 4];
    assert_eq!(text("ab", b"cd", &mut out), 4);
    assert_eq!(&out, b"abcd");
    assert_eq!(configured(1, "xy"), 3);
    assert_eq!(__wasmexport_shim(1, 2, "abc"), 6);
    assert_eq!(arg1(1, 2), 3);
    let _ = (spelled, text_later, unit_alias, layouts, __wasmexport_shim_wasmexport_shim);
    let _ = (renamed_crate, with_crate, crate_first);
    let _ = (init_with_crate, WithCrate { x: 0 }.x, Meters(1.0).0, Pair { a: 1, b: 2 }.a);
}
