use wasmexport::wasmexport;

#[wasmexport("_start")]
fn start() {}

#[wasmexport(_initialize)]
fn init() {}

#[wasmexport]
fn _initialize() {}

fn main() {}
