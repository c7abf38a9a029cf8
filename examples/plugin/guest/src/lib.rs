//! The example plugin; the request filter replaces this first version.

use wasmexport::wasmexport;

#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}
