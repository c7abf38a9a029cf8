//! Tells the crate whether its target runs one thread: wasm without the `atomics` feature,
//! where per-thread state can be a plain static and wakers need no thread check.
//!
//! `cfg(target_feature = "atomics")` cannot say so on stable Rust: `atomics` is an unstable wasm
//! feature there, left out of the cfgs even where it is on, so `wasm32-wasip1-threads` would
//! look single-threaded to the code itself, and threads would share its statics. Cargo tells a
//! build script the target's name, which says `threads`, and on nightly the full feature list.

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(wasmexport_one_thread)");
    println!("cargo::rerun-if-changed=build.rs");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let wasm = var("CARGO_CFG_TARGET_FAMILY").split(',').any(|f| f == "wasm");
    let atomics = var("CARGO_CFG_TARGET_FEATURE").split(',').any(|f| f == "atomics");
    if wasm && !atomics && !var("TARGET").contains("threads") {
        println!("cargo::rustc-cfg=wasmexport_one_thread");
    }
}
