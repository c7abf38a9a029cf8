//! The smallest wasmexport reactor, for the module-size figure.

#[wasmexport::wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}
