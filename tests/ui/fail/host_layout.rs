// Pointers only to types whose layout a host can rely on; the derive checks the struct.
use wasmexport::{HostLayout, wasmexport, wasmimport};

struct Plain {
    x: u32,
}

#[repr(C)]
struct NotDerived {
    x: u32,
}

#[derive(HostLayout)]
struct NoRepr {
    x: u32,
}

#[derive(HostLayout)]
#[repr(C)]
struct BadField {
    name: String,
    inner: Plain,
    ok: u32,
}

#[derive(HostLayout)]
#[repr(u8)]
enum Kind {
    A,
}

#[derive(HostLayout)]
#[repr(C)]
struct Wrapper(NotDerived);

type Sneaky = *const String;
type Boxed = Box<u32>;

#[wasmexport]
fn pointers(a: *const Plain, b: *mut NotDerived, c: Sneaky, d: *const *const char) -> *mut Boxed {
    let _ = (a, b, c, d);
    std::ptr::null_mut()
}

#[wasmimport(module = "host")]
fn import_pointers(a: *const [String; 2]) -> *const Plain;

#[derive(HostLayout)]
#[host_layout(crate = wasmexport, extra)]
#[repr(C)]
struct BadArgs {
    x: u32,
}

fn main() {}
