//! Init hooks across crates run in dependency order (a crate's after those of every crate it
//! uses, like Go's package init), and within a crate by file path, then line. The fixture
//! workspace tests/fixtures/init_order is built in every profile that links differently.

use wasmexport_engine_tests::{Guest, cargo_build_wasm, engine, root};
use wasmtime::Module;

/// `app`'s init hooks' output, built with cargo profile `profile`.
fn init_output(profile: &str) -> String {
    let manifest = root().join("tests/fixtures/init_order/Cargo.toml");
    let target_dir = root().join("target/fixtures");
    let out = cargo_build_wasm(&manifest, &target_dir, &["-p", "app", "--profile", profile])
        .expect("running cargo");
    assert!(out.status.success(), "{profile}: {}", String::from_utf8_lossy(&out.stderr));
    let dir = if profile == "dev" { "debug" } else { profile };
    let path = target_dir.join("wasm32-wasip1").join(dir).join("app.wasm");
    let module = Module::from_file(engine(), &path).unwrap();
    let mut g = Guest::init_with_imports(engine(), &module, |_| Ok(())).unwrap();
    // Every library's hooks are linked (each sits beside an export) and ran.
    for (export, value) in
        [("zeta_value", 1), ("middle_value", 2), ("middle_a_value", 3), ("other_value", 4)]
    {
        assert_eq!(g.call::<(), u32>(export, ()).unwrap(), value, "{profile}: {export}");
    }
    g.stdout()
}

#[test]
fn a_crates_hooks_run_after_its_dependencies_then_by_file_and_line() {
    // `middle` and `other` do not depend on each other: either may go first.
    let middle = ["middle a.rs", "middle lib.rs"];
    let app = ["app early.rs", "app lib.rs first", "app lib.rs second"];
    let one: Vec<&str> = [&["zeta_lib"][..], &middle, &["other"], &app].concat();
    let other: Vec<&str> = [&["zeta_lib"][..], &["other"], &middle, &app].concat();
    for profile in ["dev", "release", "release-lto", "release-thin", "release-one-unit"] {
        let output = init_output(profile);
        let lines: Vec<&str> = output.lines().collect();
        assert!(lines == one || lines == other, "{profile}: hooks ran in the order {lines:?}");
    }
}
