//! The wasmexport side of the pending round-trip benchmark: a pending export that awaits one
//! host operation, as wasm-bindgen's async export awaits one host Promise.

use wasmexport::{pending, wasmexport, wasmimport};

wasmexport::async_abi!();

// The host starts its async operation for `x` and returns its token.
#[wasmimport(module = "host", name = "op")]
fn op(x: i32) -> u32;

/// Awaits the host's operation for `x` and returns its value plus one.
#[wasmexport(pending)]
async fn round_trip(x: i32) -> i32 {
    // SAFETY: the host's `op` takes and returns integers.
    pending::value(unsafe { op(x) }).await.wrapping_add(1)
}

/// A plain export, the unit of the instruction counts.
#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}
