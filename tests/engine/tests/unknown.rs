//! A wasm32-unknown-unknown reactor (`tests/unknown/guest`) on wasmtime with no WASI at all: a
//! plain `Linker` that defines only the guest's own imports. Instantiation, plain and async
//! exports, tasks, the init hook, a panic reported through a host import, re-entry, a pending
//! export woken by a host completion and then by a timer on the host's clock (which this host
//! moves by hand), and the traps of timers that cannot work without WASI.

use std::process::Command;
use std::sync::OnceLock;
use wasmexport_engine_tests::root;
use wasmtime::{Caller, Engine, Instance, Linker, Module, Store, WasmParams, WasmResults};

const WAIT: i32 = 2;

/// What the guest sees of the host, and what the host saw of the guest.
#[derive(Default)]
struct State {
    /// The answer of `host.config`: bit 0, wire the clock.
    config: u32,
    /// The host's clock, in nanoseconds, moved by the test.
    now_ns: u64,
    /// The lines the trap reporter handed to `host.report`.
    lines: Vec<String>,
    /// `(what, token)` of each operation the guest started.
    started: Vec<(u32, u32)>,
    /// `(call id, result)` of each `[task-return]fetch_then_sleep`.
    returned: Vec<(i32, i32)>,
}

/// The engine and the guest module, built once per test process into `target/unknown` and
/// compiled once.
fn module() -> &'static (Engine, Module) {
    static MODULE: OnceLock<(Engine, Module)> = OnceLock::new();
    MODULE.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--target", "wasm32-unknown-unknown"])
            .arg("--manifest-path")
            .arg(root().join("tests/unknown/Cargo.toml"))
            .arg("--target-dir")
            .arg(root().join("target/unknown"))
            .output()
            .expect("running cargo to build tests/unknown");
        assert!(
            out.status.success(),
            "building tests/unknown for wasm32-unknown-unknown failed (is the target installed? \
             `cargo xtask test` adds it):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = root().join("target/unknown/wasm32-unknown-unknown/release/unknown_guest.wasm");
        let engine = Engine::default();
        let module = Module::from_file(&engine, path).unwrap();
        (engine, module)
    })
}

/// The guest's imports, and nothing else.
fn linker(engine: &Engine) -> Linker<State> {
    let mut l = Linker::new(engine);
    l.func_wrap("host", "config", |c: Caller<'_, State>| c.data().config).unwrap();
    l.func_wrap("host", "now_ns", |c: Caller<'_, State>| c.data().now_ns).unwrap();
    l.func_wrap("host", "report", |mut c: Caller<'_, State>, ptr: u32, len: u32| {
        let memory = c.get_export("memory").unwrap().into_memory().unwrap();
        let mut bytes = vec![0; len as usize];
        memory.read(&c, ptr as usize, &mut bytes).unwrap();
        c.data_mut().lines.push(String::from_utf8(bytes).unwrap());
    })
    .unwrap();
    l.func_wrap("host", "visit", |mut c: Caller<'_, State>, depth: u32| -> u32 {
        let leaf = c.get_export("leaf").unwrap().into_func().unwrap();
        leaf.typed::<u32, u32>(&c).unwrap().call(&mut c, depth * 2).unwrap()
    })
    .unwrap();
    l.func_wrap("host", "start", |mut c: Caller<'_, State>, what: u32| -> u32 {
        let token = 1000 + c.data().started.len() as u32;
        c.data_mut().started.push((what, token));
        token
    })
    .unwrap();
    l.func_wrap(
        "wasmexport",
        "[task-return]fetch_then_sleep",
        |mut c: Caller<'_, State>, id, r| {
            c.data_mut().returned.push((id, r));
        },
    )
    .unwrap();
    l
}

struct Guest {
    store: Store<State>,
    instance: Instance,
}

impl Guest {
    /// A new instance, initialized; `clock`: the init hook wires the clock to `host.now_ns`.
    fn new(clock: bool) -> Guest {
        let (engine, module) = module();
        let state = State { config: u32::from(clock), now_ns: 5_000_000_000, ..State::default() };
        let mut store = Store::new(engine, state);
        let instance = linker(engine).instantiate(&mut store, module).unwrap();
        let mut g = Guest { store, instance };
        g.call::<(), ()>("_initialize", ()).unwrap();
        g
    }

    fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &str,
        params: P,
    ) -> wasmtime::Result<R> {
        let f = self.instance.get_typed_func::<P, R>(&mut self.store, name).unwrap();
        f.call(&mut self.store, params)
    }

    fn state(&mut self) -> &mut State {
        self.store.data_mut()
    }

    fn advance_ms(&mut self, ms: u64) {
        self.state().now_ns += ms * 1_000_000;
    }
}

#[test]
fn the_module_imports_only_what_the_user_declared() {
    let (_, module) = module();
    let mut imports: Vec<String> =
        module.imports().map(|i| format!("{}.{}", i.module(), i.name())).collect();
    imports.sort();
    assert_eq!(
        imports,
        [
            "host.config",
            "host.now_ns",
            "host.report",
            "host.start",
            "host.visit",
            "wasmexport.[task-return]fetch_then_sleep",
        ],
        "no WASI import, nothing the user did not ask for"
    );
    // The linker defines these and nothing else: instantiating works.
    let mut g = Guest::new(false);
    assert_eq!(g.call::<(), u32>("inits", ()).unwrap(), 1, "_initialize ran the init hook");
    // A second `_initialize` does nothing.
    g.call::<(), ()>("_initialize", ()).unwrap();
    assert_eq!(g.call::<(), u32>("inits", ()).unwrap(), 1);
}

#[test]
fn plain_and_async_exports_and_tasks() {
    let mut g = Guest::new(false);
    assert_eq!(g.call::<(i32, i32), i32>("add", (2, 3)).unwrap(), 5);
    assert_eq!(g.call::<u32, u64>("sum_tasks", 10).unwrap(), 45);
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1, "only the call itself");
    g.call::<(), ()>("spawn_yielder", ()).unwrap();
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 2, "the background task waits");
    g.call::<(), ()>("settle", ()).unwrap();
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1, "it ran during the waiting call");
    assert_eq!(g.state().lines, Vec::<String>::new());
}

#[test]
fn an_export_called_from_inside_an_import_runs_reentrantly() {
    let mut g = Guest::new(false);
    // root(5) -> visit(5) -> leaf(10) = 11 -> 111.
    assert_eq!(g.call::<u32, u32>("root", 5).unwrap(), 111);
    assert_eq!(g.call::<u32, u32>("root", 1).unwrap(), 103);
}

#[test]
fn a_panic_traps_poisons_and_reaches_the_reporter() {
    let mut g = Guest::new(false);
    assert!(g.call::<u32, u32>("boom", 7).is_err());
    let lines = std::mem::take(&mut g.state().lines);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("wasmexport: panic in export \"boom\": boom 7"), "{lines:?}");
    assert!(g.call::<(i32, i32), i32>("add", (1, 2)).is_err(), "poisoned: later calls trap");
    let lines = std::mem::take(&mut g.state().lines);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("module poisoned") && lines[0].contains("\"add\""), "{lines:?}");
}

#[test]
fn a_pending_export_waits_for_the_host_then_for_a_timer_on_the_hosts_clock() {
    let mut g = Guest::new(true);
    let status = g.call::<(u32, u32), i32>("fetch_then_sleep", (41, 30)).unwrap();
    assert_eq!(status & 3, WAIT, "status {status:#x}");
    let id = status >> 4;
    let started = g.state().started.clone();
    assert_eq!(started, [(41, 1000)]);
    // The host completes its operation: the guest now sleeps 30 ms on the host's clock.
    let next = g.call::<(i32, i32), i32>("wasmexport_complete", (1000, 41)).unwrap();
    assert_eq!(next, 30, "the milliseconds to the timer");
    assert!(g.state().returned.is_empty());
    g.advance_ms(29);
    assert_eq!(g.call::<(), i32>("wasmexport_drive", ()).unwrap(), 1, "1 ms to go");
    assert!(g.state().returned.is_empty(), "the timer is not due");
    g.advance_ms(1);
    assert_eq!(g.call::<(), i32>("wasmexport_drive", ()).unwrap(), -1, "no timer left");
    assert_eq!(g.state().returned, [(id, 42)]);
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
    assert_eq!(g.state().lines, Vec::<String>::new());
}

#[test]
fn background_timers_fire_through_drives() {
    let mut g = Guest::new(true);
    g.call::<(u32, u32), ()>("start_ticker", (10, 3)).unwrap();
    assert_eq!(g.call::<(), i32>("wasmexport_drive", ()).unwrap(), 10);
    for tick in 1..=3 {
        g.advance_ms(10);
        let next = g.call::<(), i32>("wasmexport_drive", ()).unwrap();
        assert_eq!(next, if tick < 3 { 10 } else { -1 });
        assert_eq!(g.call::<(), u32>("ticks", ()).unwrap(), tick);
    }
}

#[test]
fn a_sleep_without_a_clock_traps_saying_to_set_one() {
    let mut g = Guest::new(false);
    assert!(g.call::<u32, ()>("nap", 10).is_err());
    let lines = std::mem::take(&mut g.state().lines);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("wasmexport: timers need a clock")
            && lines[0].contains("wasmexport::time::set_clock"),
        "{lines:?}"
    );
    assert!(g.call::<(i32, i32), i32>("add", (1, 2)).is_err(), "poisoned");
}

#[test]
fn a_call_that_must_block_for_a_timer_traps_naming_the_way_out() {
    let mut g = Guest::new(true);
    assert!(g.call::<u32, ()>("nap", 10).is_err());
    let lines = std::mem::take(&mut g.state().lines);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert!(line.starts_with("wasmexport: export \"nap\" waits for a timer"), "{line}");
    assert!(line.contains("cannot block"), "{line}");
    assert!(line.contains("wasmexport::drive()"), "{line}");
    assert!(line.contains("#[wasmexport(pending)]"), "{line}");
}
