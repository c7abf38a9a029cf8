//! Command modules on wasmtime: commands export `_start` and never `_initialize`; their exports
//! run re-entrantly while `_start` runs and trap clearly after main returned.

use wasmexport_engine_tests::{
    Guest, build_fixture, command_path, engine, export_names, guest_path,
};
use wasmtime::{Caller, Linker, Module};

fn command() -> Guest {
    let module = Module::from_file(engine(), command_path("cmd")).unwrap();
    Guest::with_imports(engine(), &module, |linker: &mut Linker<_>| {
        linker.func_wrap(
            "test",
            "callback",
            |mut caller: Caller<'_, wasmexport_engine_tests::Host>,
             x: i32|
             -> wasmtime::Result<i32> {
                let export = |caller: &mut Caller<'_, _>, name| {
                    caller.get_export(name).and_then(|e| e.into_func()).unwrap()
                };
                let add = export(&mut caller, "add").typed::<(i32, i32), i32>(&caller)?;
                let sum = add.call(&mut caller, (x, 1))?;
                let double = export(&mut caller, "double_later").typed::<i32, i32>(&caller)?;
                double.call(&mut caller, sum)
            },
        )?;
        Ok(())
    })
    .unwrap()
}

fn is_trap(err: &wasmtime::Error) -> bool {
    err.downcast_ref::<wasmtime::Trap>().is_some()
}

#[test]
fn a_command_exports_start_memory_and_the_users_exports() {
    let module = Module::from_file(engine(), command_path("cmd")).unwrap();
    let mut names = export_names(&module);
    names.sort();
    // rustc exports `__main_void` from every wasm bin that exports symbols, and no linker flag
    // takes it out; calling it traps (the next test).
    assert_eq!(names, ["__main_void", "_start", "add", "double_later", "init_ran", "memory"]);
}

#[test]
fn main_void_traps_before_any_user_code_runs() {
    let mut g = command();
    let err = g.call::<(), i32>("__main_void", ()).unwrap_err();
    assert!(is_trap(&err), "{err:?}");
    assert_eq!(g.stdout(), "");
    assert_eq!(
        g.stderr(),
        "wasmexport: main called without the static constructors (the host called __main_void \
         or main instead of _start): call _start, the command's entry point\n"
    );
    // Nothing ran: exports still wait for `_start`.
    g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert!(g.stderr().ends_with("called before runtime initialization: call _start first\n"));
}

#[test]
fn a_reactor_exports_initialize_and_never_start() {
    let module = Module::from_file(engine(), guest_path("basic")).unwrap();
    let names = export_names(&module);
    assert!(names.contains(&"_initialize".to_string()) && !names.contains(&"_start".to_string()));
}

#[test]
fn exports_run_while_start_runs_and_trap_after_main_returned() {
    let mut g = command();
    g.call::<(), ()>("_start", ()).unwrap();
    assert_eq!(g.stdout(), "main: callback 42, task 5, init true\n");
    let err = g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert!(is_trap(&err), "{err:?}");
    assert_eq!(
        g.stderr(),
        "wasmexport: export \"add\" called after the command's main returned: a command's exports \
         run only while _start runs (called from a host import); to call exports again and again, \
         build a reactor (crate-type = [\"cdylib\"], without the `command` feature)\n"
    );
}

#[test]
fn exports_before_start_trap() {
    let mut g = command();
    let err = g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert!(is_trap(&err), "{err:?}");
    assert_eq!(
        g.stderr(),
        "wasmexport: export \"add\" called before runtime initialization: call _start first\n"
    );
}

#[test]
fn a_wasm_bin_with_exports_needs_wasmexport_main() {
    let (ok, stderr) = build_fixture("bin_without_main");
    assert!(!ok, "built without #[wasmexport::main]");
    assert!(stderr.contains("__add_wasmexport_main_to_fn_main"), "{stderr}");
}

#[test]
fn wasmexport_main_needs_the_command_feature() {
    let (ok, stderr) = build_fixture("main_without_feature");
    assert!(!ok, "built a command without the command feature");
    assert!(
        stderr.contains(
            "#[wasmexport::main] builds a command: enable wasmexport's `command` feature"
        ),
        "{stderr}"
    );
}
