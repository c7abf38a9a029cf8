//! Exports libc's `malloc` and `free` under their own names, for hosts that allocate in the
//! guest through them (wazero's examples, TinyGo's convention). `#[wasmexport]` cannot define
//! them: on wasm an export's name is also its symbol name, and wasi-libc already defines both.
//! `-arg-cdylib`: the flags go to the module's link only, not to a test or build-script binary.

fn main() {
    println!("cargo:rustc-link-arg-cdylib=--export=malloc");
    println!("cargo:rustc-link-arg-cdylib=--export=free");
}
