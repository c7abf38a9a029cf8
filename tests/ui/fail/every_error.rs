// Every problem of one item is reported in the same build, those the spelling shows and those
// the traits find (`S` below), for exports and imports alike.
use wasmexport::{wasmexport, wasmimport};

struct S;
type Byte = u8;

#[wasmexport]
fn bad(a: u8, s: S) {
    let _ = (a, s);
}

#[wasmexport]
fn bad_result(s: S, b: Byte) -> S {
    let _ = b;
    s
}

#[wasmimport(module = "host")]
fn eight(a: u8, b: S, c: i16, d: Byte, e: char, f: Vec<u8>, g: (i32, i32), h: *const S);

fn main() {}
