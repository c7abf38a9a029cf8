//! The WASI functions a module imports. Each one costs every instantiation (under Node's
//! `node:wasi`, one import costs more than instantiating a whole hand-written module), so the
//! runtime's own imports come only with the features that need them.

use wasmexport_engine_tests::{Guest, module};

fn wasi_imports(guest: &str) -> Vec<String> {
    module(guest)
        .imports()
        .filter(|i| i.module() == "wasi_snapshot_preview1")
        .map(|i| i.name().to_string())
        .collect()
}

#[test]
fn a_module_that_never_sleeps_imports_neither_clock_nor_poll_oneoff() {
    // Async exports, spawned tasks and channels, but no timer.
    let imports = wasi_imports("bench");
    for name in ["clock_time_get", "poll_oneoff"] {
        assert!(!imports.iter().any(|i| i == name), "bench imports {name}: {imports:?}");
    }
    // And its tasks still run: a call that waits on a background task.
    let mut g = Guest::init("bench").unwrap();
    assert_eq!(g.call::<i32, i32>("roundtrip", 41).unwrap(), 42);
    assert_eq!(g.call::<i32, i32>("roundtrip_oneshot", 41).unwrap(), 42);
}

#[test]
fn a_module_that_sleeps_imports_both() {
    let imports = wasi_imports("exec");
    for name in ["clock_time_get", "poll_oneoff"] {
        assert!(imports.iter().any(|i| i == name), "exec does not import {name}: {imports:?}");
    }
}
