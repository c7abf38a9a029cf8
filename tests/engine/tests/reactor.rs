//! Reactor modules (names, types, exports, initialization, panics) on wasmtime with the `basic` guest.

use wasmexport_engine_tests::{Guest, export_names, function_names, guest_path, module, trap_text};

#[test]
fn exports_exactly_the_users_functions_memory_and_initialize() {
    let mut names = export_names(&module("basic"));
    names.sort();
    let mut want = vec![
        "_initialize",
        "add",
        "alias",
        "boom",
        "id_f32",
        "id_f64",
        "id_i32",
        "id_i64",
        "id_u32",
        "id_u64",
        "init_order",
        "init_runs",
        "is_null",
        "memory",
        "not",
        "nothing",
        "ptr_add",
        "read_u32",
        "renamed",
        "scratch",
        "type",
        "unit",
        "wasi:http/incoming-handler@0.2.0#handle",
    ];
    want.sort();
    assert_eq!(names, want);
    assert!(!names.contains(&"_start".to_string()));
}

#[test]
fn no_command_export_shims() {
    let wasm = std::fs::read(guest_path("basic")).unwrap();
    let names = function_names(&wasm).unwrap().expect("release guests keep a name section");
    assert!(names.iter().any(|n| n == "add"), "the name section lists functions: {names:?}");
    let shims: Vec<_> = names.iter().filter(|n| n.contains(".command_export")).collect();
    assert!(shims.is_empty(), "wasm-ld wrapped exports: {shims:?}");
}

#[test]
fn integers_at_their_edges() {
    let mut g = Guest::init("basic").unwrap();
    for x in [0, 1, -1, i32::MIN, i32::MAX] {
        assert_eq!(g.call::<i32, i32>("id_i32", x).unwrap(), x);
    }
    for x in [0u32, 1, u32::MAX, 1 << 31] {
        // wasmtime passes u32 params as i32 bit patterns.
        assert_eq!(g.call::<u32, u32>("id_u32", x).unwrap(), x);
    }
    for x in [0, -1, i64::MIN, i64::MAX] {
        assert_eq!(g.call::<i64, i64>("id_i64", x).unwrap(), x);
    }
    for x in [0u64, u64::MAX, 1 << 63] {
        assert_eq!(g.call::<u64, u64>("id_u64", x).unwrap(), x);
    }
    assert_eq!(g.call::<(i32, i32), i32>("add", (i32::MAX, 1)).unwrap(), i32::MIN);
    assert_eq!(g.call::<(i32, i32), i32>("add", (2, 40)).unwrap(), 42);
}

#[test]
fn floats_keep_their_bits() {
    let mut g = Guest::init("basic").unwrap();
    for x in [0.0f32, -0.0, f32::MIN, f32::MAX, f32::INFINITY, f32::NEG_INFINITY, f32::MIN_POSITIVE]
    {
        assert_eq!(g.call::<f32, f32>("id_f32", x).unwrap().to_bits(), x.to_bits());
    }
    assert!(g.call::<f32, f32>("id_f32", f32::NAN).unwrap().is_nan());
    for x in [0.0f64, -0.0, f64::MIN, f64::MAX, f64::INFINITY, f64::EPSILON] {
        assert_eq!(g.call::<f64, f64>("id_f64", x).unwrap().to_bits(), x.to_bits());
    }
    assert!(g.call::<f64, f64>("id_f64", f64::NAN).unwrap().is_nan());
}

#[test]
fn bools_are_i32_and_any_nonzero_is_true() {
    let mut g = Guest::init("basic").unwrap();
    assert_eq!(g.call::<i32, i32>("not", 0).unwrap(), 1);
    assert_eq!(g.call::<i32, i32>("not", 1).unwrap(), 0);
    assert_eq!(g.call::<i32, i32>("not", 2).unwrap(), 0);
    assert_eq!(g.call::<i32, i32>("not", -1).unwrap(), 0);
    assert_eq!(g.call::<(u32, i32), u32>("alias", (41, 1)).unwrap(), 42);
    assert_eq!(g.call::<(u32, i32), u32>("alias", (41, 0)).unwrap(), 41);
}

#[test]
fn pointers_null_and_not() {
    let mut g = Guest::init("basic").unwrap();
    assert_eq!(g.call::<i32, i32>("is_null", 0).unwrap(), 1);
    assert_eq!(g.call::<i32, i32>("is_null", 1024).unwrap(), 0);
    assert_eq!(g.call::<(i32, u32), i32>("ptr_add", (1000, 3)).unwrap(), 1012);
    let p = g.call::<(), i32>("scratch", ()).unwrap();
    assert_ne!(p, 0);
    let memory = g.instance.get_memory(&mut g.store, "memory").unwrap();
    memory.write(&mut g.store, p as usize, &0xdead_beef_u32.to_le_bytes()).unwrap();
    assert_eq!(g.call::<i32, u32>("read_u32", p).unwrap(), 0xdead_beef);
}

#[test]
fn names_of_every_form() {
    let mut g = Guest::init("basic").unwrap();
    assert_eq!(g.call::<(), i32>("type", ()).unwrap(), 7);
    assert_eq!(g.call::<(), i32>("renamed", ()).unwrap(), 8);
    let handle = "wasi:http/incoming-handler@0.2.0#handle";
    assert_eq!(g.call::<(u32, u32), u32>(handle, (4, 2)).unwrap(), 42);
    g.call::<(), ()>("nothing", ()).unwrap();
    g.call::<(), ()>("unit", ()).unwrap();
}

#[test]
fn call_before_initialize_traps_with_the_m3_line() {
    let mut g = Guest::new("basic").unwrap();
    let err = g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert!(err.downcast_ref::<wasmtime::Trap>().is_some(), "a trap: {err:?}");
    assert_eq!(
        g.stderr(),
        "wasmexport: export \"add\" called before runtime initialization: call _initialize first\n"
    );
}

#[test]
fn init_hooks_run_once_in_declaration_order() {
    let mut g = Guest::init("basic").unwrap();
    g.call::<(), ()>("_initialize", ()).unwrap();
    g.call::<(), ()>("_initialize", ()).unwrap();
    assert_eq!(g.call::<(), u64>("init_order", ()).unwrap(), 123);
    assert_eq!(g.call::<(), u32>("init_runs", ()).unwrap(), 3);
}

#[test]
fn panic_prints_traps_and_poisons() {
    let mut g = Guest::init("basic").unwrap();
    assert_eq!(g.call::<i32, i32>("boom", 0).unwrap(), 0);
    let err = g.call::<i32, i32>("boom", 7).unwrap_err();
    assert!(err.downcast_ref::<wasmtime::Trap>().is_some(), "a trap: {}", trap_text(&err));
    let stderr = g.stderr();
    assert!(
        stderr.starts_with("wasmexport: panic in export \"boom\": boom with code 7 at "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");

    let err = g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert!(err.downcast_ref::<wasmtime::Trap>().is_some());
    let last = g.stderr().lines().last().unwrap().to_string();
    assert_eq!(
        last,
        "wasmexport: module poisoned by an earlier panic: export \"add\" cannot run; create a new instance"
    );
}
