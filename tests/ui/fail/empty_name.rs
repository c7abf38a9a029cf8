use wasmexport::wasmexport;

#[wasmexport("")]
fn nameless() {}

#[wasmexport("nul\0inside")]
fn nul() {}

fn main() {}
