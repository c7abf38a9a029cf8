use wasmexport::wasmimport;

#[wasmimport(module = "host")]
fn with_body(x: i32) -> i32 {
    x
}

#[wasmimport(name = "lookup")]
fn no_module(key: i32) -> i32;

#[wasmimport(module = "host", colour = "blue")]
fn unknown_key(key: i32) -> i32;

#[wasmimport(module = "host")]
fn bad_types(key: u8, name: &str) -> String;

#[wasmimport(module = "host")]
async fn not_async(key: i32) -> i32;

#[wasmimport(module = "host")]
fn patterns(mut key: i32, (a, b): (i32, i32), _: i32);

fn main() {}
