use wasmexport::wasmexport;

#[wasmexport]
#[unsafe(no_mangle)]
fn a() {}

#[wasmexport(b)]
#[unsafe(export_name = "b2")]
fn b() {}

#[wasmexport]
#[no_mangle]
fn c() {}

#[wasmexport]
#[export_name = "d2"]
fn d() {}

// Other attributes stay.
#[wasmexport]
#[inline(never)]
#[allow(unused)]
fn e() {}

fn main() {}
