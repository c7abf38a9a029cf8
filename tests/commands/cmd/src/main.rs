//! A command whose main calls the host, which calls back into the module's exports.

use std::cell::Cell;
use wasmexport::{spawn, wasmexport, wasmimport};

thread_local! {
    static INIT_RAN: Cell<bool> = const { Cell::new(false) };
}

#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}

#[wasmexport]
async fn double_later(x: i32) -> i32 {
    spawn(async move { x * 2 }).await
}

#[wasmexport]
fn init_ran() -> bool {
    INIT_RAN.get()
}

/// The host answers by calling `add(x, 1)`, then `double_later` on the sum.
#[wasmimport(module = "test", name = "callback")]
fn callback(x: i32) -> i32;

#[wasmexport::init]
fn setup() {
    INIT_RAN.set(true);
}

#[wasmexport::main]
async fn main() {
    // SAFETY: the test hosts implement `callback` by calling this module's exports.
    let called_back = unsafe { callback(20) };
    let from_task = spawn(async { 5 }).await;
    println!("main: callback {called_back}, task {from_task}, init {}", INIT_RAN.get());
}
