//! Initialization on wasmtime with the `lifecycle` guest: an `_initialize` cut short by a trap
//! at any instruction never leaves a module that runs exports half-initialized, and panic hooks
//! the user installs are kept behind the runtime's.

use wasmexport_engine_tests::{Guest, engine_with, guest_path};
use wasmtime::{Module, Trap};

/// Every hook ran once.
const ALL_HOOKS_ONCE: u64 = 11_111_111_111;
const INIT_FAILED: &str = "wasmexport: initialization failed: _initialize did not finish (a trap \
     or a panic cut it short), so \"_initialize\" cannot run; create a new instance\n";
const EXPORT_REFUSED: &str = "wasmexport: initialization failed: _initialize did not finish (a \
     trap or a panic cut it short), so \"hook_runs\" cannot run; create a new instance\n";

/// Runs `_initialize` with `fuel`, then again with plenty, then an export. `Ok(true)` if the
/// first call finished; `Ok(false)` if it trapped and what followed holds; `Err` says how not.
fn cut_short_at(module: &Module, fuel: u64) -> Result<bool, String> {
    let mut g = Guest::with_imports(module.engine(), module, |_| Ok(())).unwrap();
    g.store.set_fuel(fuel).unwrap();
    let first = g.call::<(), ()>("_initialize", ());
    g.store.set_fuel(u64::MAX / 2).unwrap();
    let Err(err) = first else {
        let runs = (g.call::<(), u32>("constructor_runs", ()), g.call::<(), u64>("hook_runs", ()));
        if !matches!(runs, (Ok(1), Ok(ALL_HOOKS_ONCE))) {
            return Err(format!("finished, but ran {runs:?}"));
        }
        return Ok(true);
    };
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::OutOfFuel), "{err:?}");
    let before = g.stderr();
    match g.call::<(), ()>("_initialize", ()) {
        // Nothing had begun: the retry ran everything, once.
        Ok(()) => {
            let runs =
                (g.call::<(), u32>("constructor_runs", ()), g.call::<(), u64>("hook_runs", ()));
            if !matches!(runs, (Ok(1), Ok(ALL_HOOKS_ONCE))) {
                return Err(format!("the retry returned; constructor and hooks ran {runs:?}"));
            }
        }
        Err(_) => {
            let printed = g.stderr()[before.len()..].to_string();
            if printed != INIT_FAILED {
                return Err(format!("the retry trapped, printing {printed:?}"));
            }
            let runs = g.call::<(), u64>("hook_runs", ());
            let printed = g.stderr()[before.len() + INIT_FAILED.len()..].to_string();
            if runs.is_ok() || printed != EXPORT_REFUSED {
                return Err(format!("then an export returned {runs:?}, printing {printed:?}"));
            }
        }
    }
    Ok(false)
}

#[test]
fn initialize_cut_short_at_every_instruction_never_runs_exports_half_initialized() {
    let engine = engine_with(|c| {
        c.consume_fuel(true);
    });
    let module = Module::from_file(&engine, guest_path("lifecycle")).unwrap();
    let mut bad = Vec::new();
    let mut fuel = 0;
    while !cut_short_at(&module, fuel).unwrap_or_else(|e| {
        bad.push(format!("fuel {fuel}: {e}"));
        false
    }) {
        fuel += 1;
    }
    assert!(fuel > 100, "_initialize took only {fuel} fuel");
    assert!(
        bad.is_empty(),
        "{} of {fuel} cut-off points misbehave; the first: {:#?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    eprintln!("_initialize needs {fuel} fuel; every cut-off point below that was checked");
}

#[test]
fn a_constructors_panic_hook_runs_after_the_runtimes_and_an_init_hooks_chains() {
    let mut g = Guest::init("lifecycle").unwrap();
    // Calling `_initialize` again does nothing.
    g.call::<(), ()>("_initialize", ()).unwrap();
    assert_eq!(g.call::<(), u32>("constructor_runs", ()).unwrap(), 1);
    assert_eq!(g.call::<(), u64>("hook_runs", ()).unwrap(), ALL_HOOKS_ONCE);
    let err = g.call::<(), ()>("boom", ()).unwrap_err();
    assert!(err.downcast_ref::<Trap>().is_some(), "{err:?}");
    let stderr = g.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    // The hook the init hook installed runs first and calls the one before it: the runtime's,
    // which reports, then runs the hook the constructor installed.
    assert_eq!(lines[0], "init hook's hook: boom");
    assert!(lines[1].starts_with("wasmexport: panic in export \"boom\": boom at "), "{stderr}");
    assert_eq!(lines[2], "constructor's hook: boom");
    let err = g.call::<(), u64>("hook_runs", ()).unwrap_err();
    assert!(err.downcast_ref::<Trap>().is_some(), "{err:?}");
    assert!(g.stderr().ends_with(
        "wasmexport: module poisoned by an earlier panic: export \"hook_runs\" cannot run; \
         create a new instance\n"
    ));
}
