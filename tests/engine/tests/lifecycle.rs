//! Initialization on wasmtime with the `lifecycle` guest: an `_initialize` cut short by a trap
//! at any instruction never leaves a module that runs exports half-initialized, and panic hooks
//! the user installs are kept behind the runtime's.

use wasmexport_engine_tests::{Guest, Host, engine_with, guest_path};
use wasmtime::{Engine, Instance, InstancePre, Linker, Module, Store, Trap, WasmResults};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// Every hook ran once.
const ALL_HOOKS_ONCE: u64 = 11_111_111_111;
const INIT_FAILED: &str = "wasmexport: initialization failed: _initialize did not finish (a trap \
     or a panic cut it short), so \"_initialize\" cannot run; create a new instance\n";
const EXPORT_REFUSED: &str = "wasmexport: initialization failed: _initialize did not finish (a \
     trap or a panic cut it short), so \"hook_runs\" cannot run; create a new instance\n";

/// One instance per cut-off point: the linker is set up once, as instantiating must be cheap.
struct Sweep {
    pre: InstancePre<Host>,
}

/// An instance with its stderr.
struct Run {
    store: Store<Host>,
    instance: Instance,
    stderr: MemoryOutputPipe,
}

impl Run {
    fn call<R: WasmResults>(&mut self, name: &str) -> wasmtime::Result<R> {
        let f = self.instance.get_typed_func::<(), R>(&mut self.store, name)?;
        f.call(&mut self.store, ())
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// Constructor and hook runs, if the exports that count them run.
    fn runs(&mut self) -> (wasmtime::Result<u32>, wasmtime::Result<u64>) {
        (self.call::<u32>("constructor_runs"), self.call::<u64>("hook_runs"))
    }
}

impl Sweep {
    fn new(engine: &Engine) -> Sweep {
        let module = Module::from_file(engine, guest_path("lifecycle")).unwrap();
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |h: &mut Host| &mut h.wasi).unwrap();
        Sweep { pre: linker.instantiate_pre(&module).unwrap() }
    }

    fn run(&self, fuel: u64) -> Run {
        let stderr = MemoryOutputPipe::new(1 << 16);
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build_p1();
        let mut store =
            Store::new(self.pre.module().engine(), Host { wasi, depth: 0, max_depth: 0 });
        store.set_fuel(fuel).unwrap();
        let instance = self.pre.instantiate(&mut store).unwrap();
        Run { store, instance, stderr }
    }

    /// Runs `_initialize` with `fuel`, then again with plenty, then an export; `Err` says what
    /// went wrong.
    fn cut_short_at(&self, fuel: u64) -> Result<Outcome, String> {
        let mut g = self.run(fuel);
        let first = g.call::<()>("_initialize");
        g.store.set_fuel(PLENTY).unwrap();
        let Err(err) = first else {
            let runs = g.runs();
            if !matches!(runs, (Ok(1), Ok(ALL_HOOKS_ONCE))) {
                return Err(format!("finished, but ran {runs:?}"));
            }
            return Ok(Outcome::Finished);
        };
        assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::OutOfFuel), "{err:?}");
        let before = g.stderr();
        match g.call::<()>("_initialize") {
            // Nothing had begun: the retry ran everything, once.
            Ok(()) => {
                let runs = g.runs();
                if !matches!(runs, (Ok(1), Ok(ALL_HOOKS_ONCE))) {
                    return Err(format!("the retry returned; constructor and hooks ran {runs:?}"));
                }
                Ok(Outcome::Retried)
            }
            Err(_) => {
                let printed = g.stderr()[before.len()..].to_string();
                if printed != INIT_FAILED {
                    return Err(format!("the retry trapped, printing {printed:?}"));
                }
                let runs = g.call::<u64>("hook_runs");
                let printed = g.stderr()[before.len() + INIT_FAILED.len()..].to_string();
                if runs.is_ok() || printed != EXPORT_REFUSED {
                    return Err(format!("then an export returned {runs:?}, printing {printed:?}"));
                }
                Ok(Outcome::Refused)
            }
        }
    }
}

const PLENTY: u64 = 1 << 40;

/// What an `_initialize` with some amount of fuel led to.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// It had enough.
    Finished,
    /// It trapped before it had begun anything; a retry ran everything once.
    Retried,
    /// It trapped; the retry and an export trapped, saying that initialization failed.
    Refused,
}

#[test]
fn initialize_cut_short_at_every_instruction_never_runs_exports_half_initialized() {
    let engine = engine_with(|c| {
        c.consume_fuel(true);
    });
    let sweep = Sweep::new(&engine);
    let mut whole = sweep.run(PLENTY);
    whole.call::<()>("_initialize").unwrap();
    let needed = PLENTY - whole.store.get_fuel().unwrap();
    assert!(needed > 100, "_initialize took only {needed} fuel");
    let (mut retried, mut refused) = (0, 0);
    // Wasmtime checks fuel at function entries and loop headers, so the last few units of
    // `needed` may not be needed: the sweep ends where `_initialize` first finishes.
    for fuel in 0..=needed {
        match sweep.cut_short_at(fuel) {
            Ok(Outcome::Finished) => break,
            Ok(Outcome::Retried) => retried += 1,
            Ok(Outcome::Refused) => refused += 1,
            Err(e) => panic!("_initialize cut short with {fuel} of {needed} fuel: {e}"),
        }
    }
    assert!(refused > 0, "no amount of fuel cut _initialize short after it began");
    eprintln!(
        "_initialize needs {needed} fuel; cut short with less, it had begun nothing {retried} \
         times (a retry ran everything once) and left every call trapping {refused} times"
    );
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
