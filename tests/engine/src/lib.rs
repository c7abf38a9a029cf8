//! Runs guest modules on wasmtime: builds the guests in `tests/guests` for wasm32-wasip1 once
//! per test process, instantiates them with a WASI preview 1 context whose stderr is captured,
//! and calls their exports. [`wasmi_host`] does the same on wasmi.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use wasmtime::error::Context as _;
use wasmtime::{
    Caller, Config, Engine, Instance, Linker, Module, Result, Store, WasmParams, WasmResults, bail,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `cargo build --target wasm32-wasip1` on the workspace or package of `manifest`, into
/// `target_dir`, with `args` added. `cargo` is the one running the tests (`$CARGO`), so the
/// pinned toolchain is used.
pub fn cargo_build_wasm(
    manifest: &Path,
    target_dir: &Path,
    args: &[&str],
) -> std::io::Result<std::process::Output> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(["build", "--target", "wasm32-wasip1", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .args(args)
        .output()
}

/// Builds a guest workspace for wasm32-wasip1 in release mode, into `target/wasm`.
pub fn build_guests(manifest: &Path) -> Result<PathBuf> {
    let target_dir = root().join("target/wasm");
    let out = cargo_build_wasm(manifest, &target_dir, &["--release", "--quiet"])
        .context("running cargo to build the guests")?;
    if !out.status.success() {
        bail!("building {} failed:\n{}", manifest.display(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(target_dir.join("wasm32-wasip1/release"))
}

/// The path of guest `name`'s module (from `tests/guests`), building all guests the first time.
pub fn guest_path(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        build_guests(&root().join("tests/guests/Cargo.toml")).unwrap_or_else(|e| panic!("{e:#}"))
    });
    dir.join(format!("{name}.wasm"))
}

/// The path of guest `name`'s module (from `tests/guests`) built in debug mode (into
/// `target/wasm`, like the release guests), building that one guest the first time.
pub fn debug_guest_path(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let target_dir = root().join("target/wasm");
    if !built.iter().any(|b| b == name) {
        let manifest = root().join("tests/guests/Cargo.toml");
        let out = cargo_build_wasm(&manifest, &target_dir, &["-p", name, "--quiet"])
            .expect("running cargo to build a debug guest");
        assert!(
            out.status.success(),
            "building guest {name} (debug) failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        built.push(name.to_string());
    }
    target_dir.join("wasm32-wasip1/debug").join(format!("{name}.wasm"))
}

/// The path of command guest `name`'s module (from `tests/commands`).
pub fn command_path(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        build_guests(&root().join("tests/commands/Cargo.toml")).unwrap_or_else(|e| panic!("{e:#}"))
    });
    dir.join(format!("{name}.wasm"))
}

/// Builds the fixture crate in `tests/fixtures/NAME` for wasm32-wasip1 (into its own target
/// directory under `target/fixtures`) and returns whether it built and the compiler's stderr.
pub fn build_fixture(name: &str) -> (bool, String) {
    let manifest = root().join("tests/fixtures").join(name).join("Cargo.toml");
    let out = cargo_build_wasm(&manifest, &root().join("target/fixtures"), &["--release"])
        .expect("running cargo");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Builds package `package` of the fixture workspace `tests/fixtures/names` for wasm32-wasip1
/// (`release` or debug); returns the module path if it built, else the compiler's stderr.
pub fn build_names_fixture(package: &str, release: bool) -> std::result::Result<PathBuf, String> {
    let manifest = root().join("tests/fixtures/names/Cargo.toml");
    let target_dir = root().join("target/fixtures");
    let args: &[&str] = if release { &["-p", package, "--release"] } else { &["-p", package] };
    let out = cargo_build_wasm(&manifest, &target_dir, args).expect("running cargo");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let profile = if release { "release" } else { "debug" };
    Ok(target_dir.join("wasm32-wasip1").join(profile).join(format!("{package}.wasm")))
}

/// The engine shared by tests that need no special configuration.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(Engine::default)
}

/// The compiled module of guest `name` for the default engine (compiled once per process).
pub fn module(name: &str) -> Module {
    static MODULES: OnceLock<Mutex<HashMap<String, Module>>> = OnceLock::new();
    let mut modules = MODULES.get_or_init(Default::default).lock().unwrap();
    modules
        .entry(name.to_string())
        .or_insert_with(|| {
            Module::from_file(engine(), guest_path(name)).unwrap_or_else(|e| panic!("{e:#}"))
        })
        .clone()
}

/// A new engine with `config` adjusted by `f`.
pub fn engine_with(f: impl FnOnce(&mut Config)) -> Engine {
    let mut config = Config::new();
    f(&mut config);
    Engine::new(&config).expect("engine config")
}

/// The store's data: WASI plus whatever a test's imports keep.
pub struct Host {
    /// WASI preview 1.
    pub wasi: WasiP1Ctx,
    /// How deep the re-entrant host imports are now, and the deepest they have been.
    pub depth: u32,
    /// See `depth`.
    pub max_depth: u32,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("depth", &self.depth)
            .field("max_depth", &self.max_depth)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest").field("host", self.store.data()).finish_non_exhaustive()
    }
}

/// An instance of a guest with its stderr captured.
pub struct Guest {
    /// The store; public so that tests can set fuel or call funcs directly.
    pub store: Store<Host>,
    /// The instance.
    pub instance: Instance,
    stderr: MemoryOutputPipe,
    stdout: MemoryOutputPipe,
}

impl Guest {
    /// Instantiates guest `name` on the shared engine, with WASI only. `_initialize` is not called.
    pub fn new(name: &str) -> Result<Guest> {
        Guest::with_imports(engine(), &module(name), |_| Ok(()))
    }

    /// Instantiates guest `name` and calls `_initialize`.
    pub fn init(name: &str) -> Result<Guest> {
        Guest::init_with_imports(engine(), &module(name), |_| Ok(()))
    }

    /// Instantiates `module` with WASI plus the imports `add` defines, and calls `_initialize`.
    pub fn init_with_imports(
        engine: &Engine,
        module: &Module,
        add: impl FnOnce(&mut Linker<Host>) -> Result<()>,
    ) -> Result<Guest> {
        let mut g = Guest::with_imports(engine, module, add)?;
        g.call::<(), ()>("_initialize", ())?;
        Ok(g)
    }

    /// Instantiates `module` with WASI plus the imports `add` defines.
    pub fn with_imports(
        engine: &Engine,
        module: &Module,
        add: impl FnOnce(&mut Linker<Host>) -> Result<()>,
    ) -> Result<Guest> {
        let stderr = MemoryOutputPipe::new(1 << 20);
        let stdout = MemoryOutputPipe::new(1 << 20);
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).stdout(stdout.clone()).build_p1();
        let mut store = Store::new(engine, Host { wasi, depth: 0, max_depth: 0 });
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |h: &mut Host| &mut h.wasi)?;
        add(&mut linker)?;
        // Imports a test does not provide trap if called, so one guest serves many tests.
        linker.define_unknown_imports_as_traps(module)?;
        let instance = linker.instantiate(&mut store, module)?;
        Ok(Guest { store, instance, stderr, stdout })
    }

    /// Calls export `name` with typed params and results.
    pub fn call<P: WasmParams, R: WasmResults>(&mut self, name: &str, params: P) -> Result<R> {
        let f = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .with_context(|| format!("export {name:?}"))?;
        f.call(&mut self.store, params)
    }

    /// Everything the guest wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// Everything the guest wrote to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.contents()).into_owned()
    }

    /// The size of the guest's linear memory in bytes.
    pub fn memory_size(&mut self) -> usize {
        let memory = self.instance.get_memory(&mut self.store, "memory").expect("memory export");
        memory.data_size(&self.store)
    }
}

/// Defines the `test` imports through which a guest re-enters itself: `reenter(n)` calls the
/// guest's `recurse(n)`, `reenter_async(n)` its `recurse_async(n)`, `call_inner()` its
/// `inner_spawns()` and `call_nested_waker()` its `nested_wakes_outer()`. Each tracks the nesting depth in `Host`.
pub fn reentry_imports(linker: &mut Linker<Host>) -> Result<()> {
    for (import, export) in [
        ("reenter", "recurse"),
        ("reenter_async", "recurse_async"),
        ("call_inner", "inner_spawns"),
        ("call_nested_waker", "nested_wakes_outer"),
    ] {
        if import.starts_with("call_") {
            linker.func_wrap(
                "test",
                import,
                move |mut caller: Caller<'_, Host>| -> Result<i32> {
                    call_back::<(), i32>(&mut caller, export, ())
                },
            )?;
        } else {
            linker.func_wrap(
                "test",
                import,
                move |mut caller: Caller<'_, Host>, n: i32| -> Result<i32> {
                    call_back::<i32, i32>(&mut caller, export, n)
                },
            )?;
        }
    }
    Ok(())
}

/// Calls export `name` of the instance that called the host, one level deeper.
pub fn call_back<P: WasmParams, R: WasmResults>(
    caller: &mut Caller<'_, Host>,
    name: &str,
    params: P,
) -> Result<R> {
    let Some(func) = caller.get_export(name).and_then(|e| e.into_func()) else {
        bail!("the guest has no export {name:?}");
    };
    let func = func.typed::<P, R>(&*caller)?;
    let host = caller.data_mut();
    host.depth += 1;
    host.max_depth = host.max_depth.max(host.depth);
    let result = func.call(&mut *caller, params);
    caller.data_mut().depth -= 1;
    result
}

/// Runs `f` on a thread with a big native stack: wasmtime runs wasm on the caller's stack.
pub fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(512 << 20).spawn(f).unwrap().join().unwrap()
}

/// The export names of a module, in order.
pub fn export_names(module: &Module) -> Vec<String> {
    module.exports().map(|e| e.name().to_string()).collect()
}

/// The function names in a module's `name` custom section; `None` if it has none.
pub fn function_names(wasm: &[u8]) -> Result<Option<Vec<String>>> {
    use wasmtime::wasmparser::{Name, NameSectionReader, Parser, Payload};
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::CustomSection(section) = payload?
            && section.name() == "name"
        {
            let reader =
                NameSectionReader::new(wasmtime::wasmparser::BinaryReader::new(section.data(), 0));
            let mut names = Vec::new();
            for name in reader {
                if let Name::Function(map) = name? {
                    for naming in map {
                        names.push(naming?.name.to_string());
                    }
                }
            }
            return Ok(Some(names));
        }
    }
    Ok(None)
}

/// The message of a trap: the error's full chain as text.
pub fn trap_text(err: &wasmtime::Error) -> String {
    format!("{err:?}")
}

pub mod wasmi_host;
