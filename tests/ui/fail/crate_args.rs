// `crate = path` is the one extra argument every macro takes.
use wasmexport::wasmexport;

#[wasmexport(crate = 1)]
fn not_a_path() {}

#[wasmexport(crate = wasmexport, crate = wasmexport)]
fn twice() {}

#[wasmexport("a", "b")]
fn two_names() {}

#[wasmexport::init(crate)]
fn init_without_path() {}

#[wasmexport::init(other = wasmexport)]
fn init_other() {}

#[wasmexport(crate = nowhere)]
fn unknown_crate(x: u32) -> u32 {
    x
}

fn main() {}
