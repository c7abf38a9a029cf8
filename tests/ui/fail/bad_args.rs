use wasmexport::wasmexport;

#[wasmexport(a, b)]
fn two_names() {}

#[wasmexport(42)]
fn number() {}

#[wasmexport(name = "x")]
fn key_value() {}

fn main() {}
