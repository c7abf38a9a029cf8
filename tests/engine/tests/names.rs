//! Export names: duplicates, exports defined in library crates and `main`, with the
//! fixtures in tests/fixtures/names. Fixtures are built one at a time, so the tests in this
//! file share one lock on the fixture target directory through cargo.

use wasmexport_engine_tests::{Guest, build_names_fixture, engine, export_names};
use wasmtime::Module;

#[test]
fn a9_a_librarys_exports_and_init_hooks_reach_the_module_debug_and_release() {
    for release in [false, true] {
        let path = build_names_fixture("app_uses_lib", release).unwrap_or_else(|e| panic!("{e}"));
        let module = Module::from_file(engine(), &path).unwrap();
        let mut names = export_names(&module);
        names.sort();
        assert_eq!(
            names,
            ["_initialize", "memory", "own", "wasi:http/incoming-handler@0.2.0#handle"],
            "release: {release}"
        );
        let mut g = Guest::init_with_imports(engine(), &module, |_| Ok(())).unwrap();
        // 41 from the library's init hook, + 1.
        let handle = "wasi:http/incoming-handler@0.2.0#handle";
        assert_eq!(g.call::<u32, u32>(handle, 1).unwrap(), 42, "release: {release}");
    }
}

#[test]
fn a8_the_same_name_twice_in_one_crate_fails_naming_it() {
    let err = build_names_fixture("same_crate_twice", true).unwrap_err();
    assert!(err.contains("symbol `add` is already defined"), "{err}");
}

#[test]
fn a8_a_hand_written_no_mangle_fn_of_the_same_name_fails_naming_it() {
    let err = build_names_fixture("hand_written", true).unwrap_err();
    assert!(err.contains("symbol `add` is already defined"), "{err}");
}

#[test]
fn a8_two_crates_whose_objects_are_both_linked_fail_naming_it() {
    // In a debug build the app's calls pull both libraries' objects in, so wasm-ld sees both.
    let err = build_names_fixture("app_dups_used", false).unwrap_err();
    assert!(err.contains("duplicate symbol: add"), "{err}");
}

/// Known limit, documented in the README: when wasm-ld never loads one library's object file
/// (nothing else of that library is needed), it keeps the other `add` and says nothing. No
/// mechanism on stable Rust makes this an error without an extra export in every module (see
/// the README). This test pins the behaviour so that a toolchain change is noticed.
#[test]
fn a8_known_limit_two_otherwise_unneeded_crates_keep_one_add_silently() {
    for (package, release) in
        [("app_dups_unused", false), ("app_dups_unused", true), ("app_dups_used", true)]
    {
        let path = build_names_fixture(package, release).unwrap_or_else(|e| panic!("{e}"));
        let names = export_names(&Module::from_file(engine(), &path).unwrap());
        assert_eq!(
            names.iter().filter(|n| *n == "add").count(),
            1,
            "{package} {release}: {names:?}"
        );
    }
}

/// LLVM gives a function whose symbol is `main`, with no parameters and an `i32` result, C's
/// `main(argc, argv)` signature; the export keeps the declared `() -> i32` (also when declared
/// `-> usize`, an `i32` on wasm32).
#[test]
fn a2_an_export_named_main_keeps_its_declared_signature() {
    for (package, release) in [
        ("export_main", false),
        ("export_main", true),
        ("export_main_usize", false),
        ("export_main_usize", true),
    ] {
        let at = format!("{package}, release {release}");
        let path = build_names_fixture(package, release).unwrap_or_else(|e| panic!("{e}"));
        let module = Module::from_file(engine(), &path).unwrap();
        let ty = module.get_export("main").and_then(|e| e.func().cloned()).expect("a func main");
        let (params, results) = (ty.params().count(), ty.results().collect::<Vec<_>>());
        assert_eq!((params, results.len()), (0, 1), "{at}: main is {ty}");
        assert!(results[0].is_i32(), "{at}: main is {ty}");
        let mut g = Guest::init_with_imports(engine(), &module, |_| Ok(())).unwrap();
        assert_eq!(g.call::<(), i32>("main", ()).unwrap(), 42, "{at}");
    }
}
