use wasmexport::wasmexport;

#[wasmexport]
extern "Rust" fn rust_abi(x: u32) -> u32 {
    x
}

#[wasmexport]
extern "system" fn system_abi(x: u32) -> u32 {
    x
}

#[wasmexport]
unsafe extern "C" fn variadic(x: u32, mut args: ...) -> u32 {
    x
}

fn main() {}
