//! `add` alone, for the size of a module without WASI (bench/README.md).

use wasmexport::wasmexport;

/// Adds two integers, wrapping.
#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}
