//! The wasm-bindgen side of the pending round-trip benchmark: an async export that awaits one
//! host Promise, as `#[wasmexport(pending)]` awaits one host operation.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// The host's async operation: a Promise of a number (the bench defines `pendingBench.op`).
    #[wasm_bindgen(js_namespace = pendingBench)]
    fn op(x: i32) -> js_sys::Promise;
}

/// Awaits the host's Promise for `x` and returns its value plus one.
#[wasm_bindgen]
pub async fn round_trip(x: i32) -> i32 {
    let v = JsFuture::from(op(x)).await.ok().and_then(|v| v.as_f64()).unwrap_or(-1.0);
    v as i32 + 1
}
