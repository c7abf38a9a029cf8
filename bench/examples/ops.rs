//! Wasm instructions per call, by wasmtime fuel, of the exports named on the command line, in
//! each guest that has them (the floors, ours, Go's):
//! `cargo run --release -p wasmexport-bench --example ops -- add roundtrip roundtrip_oneshot`.
//! `add` is called as `add(1, 2)`, `wasmexport_drive` as `wasmexport_drive()`, every other
//! export as `name(41)`.

use wasmexport_bench::{guests, ops_per_call};

fn main() {
    let gs = guests();
    let all = [
        ("floor", Some(gs.raw.as_path())),
        ("round-trip floor", Some(gs.floor_tasks.as_path())),
        ("wasmexport", Some(gs.ours.as_path())),
        ("go", gs.go_add.as_deref()),
        ("go tasks", gs.go_tasks.as_deref()),
    ];
    for name in std::env::args().skip(1) {
        for (guest, path) in all {
            let Some(path) = path else { continue };
            let ops = if name == "add" {
                ops_per_call::<(i32, i32), i32>(path, &name, (1, 2))
            } else if name == "wasmexport_drive" {
                ops_per_call::<(), i32>(path, &name, ())
            } else {
                ops_per_call::<i32, i32>(path, &name, 41)
            };
            if let Ok(ops) = ops {
                println!("{name}, {guest}: {ops} wasm instructions per call");
            }
        }
    }
}
