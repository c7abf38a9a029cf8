// Strings and buffers cross as parameters only; other references are refused.
use wasmexport::wasmexport;

#[wasmexport]
fn text_result() -> &'static str {
    ""
}

#[wasmexport]
fn string_result() -> String {
    String::new()
}

#[wasmexport]
fn bytes_result() -> Vec<u8> {
    Vec::new()
}

#[wasmexport]
fn slice_result(b: &[u8]) -> &[u8] {
    b
}

#[wasmexport]
fn other_refs(a: &mut str, b: &i32, c: &[u16], d: &[i8]) {
    let _ = (a, b, c, d);
}

type Bytes<'a> = &'a [u8];
type Words<'a> = &'a [u32];

#[wasmexport]
fn aliased(a: Words<'static>, b: Bytes<'static>) {
    let _ = (a, b);
}

fn main() {}
