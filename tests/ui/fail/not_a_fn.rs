use wasmexport::wasmexport;

#[wasmexport]
struct Config {
    limit: u32,
}

#[wasmexport]
static LIMIT: u32 = 0;

fn main() {}
