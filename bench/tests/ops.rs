//! Wasm instructions per call, counted by wasmtime's fuel: noise-free, so unlike times they can
//! be checked on every test run. These hold what the benchmark table shows.

use wasmexport_bench::ops_per_call;
use wasmexport_engine_tests::guest_path;

#[test]
fn a_plain_fn_export_costs_four_instructions_over_a_raw_one() {
    let raw = ops_per_call::<(i32, i32), i32>(&guest_path("raw"), "add", (1, 2)).unwrap();
    let ours = ops_per_call::<(i32, i32), i32>(&guest_path("bench"), "add", (1, 2)).unwrap();
    // The entry check: the gate's flag byte loaded and tested, one branch.
    assert!(ours <= raw + 4, "add: {ours} wasm instructions per call, the raw export {raw}");
}

#[test]
fn the_round_trip_floor_hands_the_value_to_a_task_and_back() {
    let engine = wasmexport_engine_tests::engine();
    let pre = wasmexport_bench::prepare(engine, &guest_path("floor_tasks")).unwrap();
    let (mut store, instance) = wasmexport_bench::instantiate(&pre).unwrap();
    let f = instance.get_typed_func::<i32, i32>(&mut store, "roundtrip").unwrap();
    for x in [41, -1, i32::MAX - 1] {
        assert_eq!(f.call(&mut store, x).unwrap(), x + 1);
    }
    // The floor allocates nothing per call: the same instructions every call, memory flat.
    let a = ops_per_call::<i32, i32>(&guest_path("floor_tasks"), "roundtrip", 41).unwrap();
    let b = ops_per_call::<i32, i32>(&guest_path("floor_tasks"), "roundtrip", 7).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_hosts_idle_drive_costs_at_most_twice_the_floors_add() {
    let raw = ops_per_call::<(i32, i32), i32>(&guest_path("raw"), "add", (1, 2)).unwrap();
    let drive = ops_per_call::<(), i32>(&guest_path("bench"), "wasmexport_drive", ()).unwrap();
    // One load of the marks beside the gate and a branch.
    assert!(drive <= 2 * raw, "wasmexport_drive: {drive} wasm instructions, the raw add {raw}");
}

#[test]
fn the_runtime_takes_wasm32_wasip1_for_a_target_with_one_thread() {
    // Its build script decides (the `atomics` feature is invisible to cfg on stable Rust).
    let engine = wasmexport_engine_tests::engine();
    let pre = wasmexport_bench::prepare(engine, &guest_path("bench")).unwrap();
    let (mut store, instance) = wasmexport_bench::instantiate(&pre).unwrap();
    let f = instance.get_typed_func::<(), u32>(&mut store, "one_thread").unwrap();
    assert_eq!(f.call(&mut store, ()).unwrap(), 1);
}
