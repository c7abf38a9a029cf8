//! Wasm instructions per call of the bench guest's `(i32) -> i32` exports, by wasmtime fuel:
//! `cargo run --release -p wasmexport-bench --example ops -- roundtrip spawn_many`.

use wasmexport_bench::{guests, ops_per_call};

fn main() {
    for name in std::env::args().skip(1) {
        let ops =
            ops_per_call::<i32, i32>(&guests().ours, &name, 41).expect("an (i32) -> i32 export");
        println!("{name}: {ops} wasm instructions per call");
    }
}
