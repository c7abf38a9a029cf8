//! Pointers to empty types cross, as Go's `*struct{}` does: `*const ()`, `*mut ()` and pointers
//! to an empty `#[repr(C)]` struct (braced or unit) with the derive, spelled out or through an
//! alias, in exports and imports.
#![deny(warnings)]

use wasmexport::{HostLayout, wasmexport, wasmimport};

#[derive(HostLayout)]
#[repr(C)]
pub struct Empty {}

#[derive(HostLayout)]
#[repr(C)]
pub struct Unit;

#[derive(HostLayout)]
#[repr(C)]
pub struct HoldsEmpty {
    tag: u32,
    nothing: Empty,
    handles: [*mut (); 2],
}

type Opaque = *mut ();

#[wasmexport]
fn unit_pointers(a: *const (), b: *mut (), c: Opaque) -> *mut () {
    let _ = (a, c);
    b
}

#[wasmexport]
fn struct_pointers(a: *const Empty, b: *mut Unit, c: *const HoldsEmpty) -> *mut Empty {
    let _ = (b, c);
    a.cast_mut()
}

#[wasmexport]
async fn later(p: *mut ()) -> *mut () {
    p
}

#[wasmimport(module = "host")]
fn take_unit(p: *mut (), q: *const Unit) -> *const ();

#[wasmimport(module = "host")]
fn make_empty() -> *mut Empty;

// Type-checked here; not called, because the imports exist only in a wasm host and this case
// links natively.
#[allow(dead_code)]
fn uses_imports() -> *const () {
    unsafe {
        let e = make_empty();
        take_unit(e.cast(), std::ptr::null())
    }
}

fn main() {
    let mut e = Empty {};
    let p: *mut () = (&raw mut e).cast();
    assert_eq!(unit_pointers(std::ptr::null(), p, p), p);
    let got = struct_pointers(&raw const e, std::ptr::null_mut(), std::ptr::null());
    assert_eq!(got, &raw mut e);
    let _ = (later, HoldsEmpty { tag: 0, nothing: Empty {}, handles: [p; 2] }.tag, Unit);
    assert_eq!(std::mem::size_of::<Empty>(), 0);
    assert_eq!(std::mem::size_of::<Unit>(), 0);
}
