#[wasmexport::init]
fn with_param(x: u32) {
    let _ = x;
}

#[wasmexport::init]
fn with_result() -> u32 {
    0
}

#[wasmexport::init]
async fn not_async() {}

#[wasmexport::init(now)]
fn with_args() {}

struct S;

impl S {
    #[wasmexport::init]
    fn in_impl() {}
}

fn main() {}
