//! Runs guest modules on wasmi, a WebAssembly interpreter written in Rust, with wasi-common's
//! WASI preview 1 (through `wasmi_wasi`): the same guests as on wasmtime, on an engine and a
//! WASI implementation that share no code with wasmtime's.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use wasmi::{
    Caller, Engine, Error, Extern, Instance, Linker, Module, Store, WasmParams, WasmResults,
};
use wasmi_wasi::WasiCtx;
use wasmi_wasi::wasi_common::pipe::WritePipe;

/// Results of the wasmi harness.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The engine shared by the wasmi tests.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(Engine::default)
}

/// The module at `path`, compiled for the shared engine (once per process).
pub fn module(path: &Path) -> Module {
    static MODULES: OnceLock<Mutex<HashMap<std::path::PathBuf, Module>>> = OnceLock::new();
    let mut modules = MODULES.get_or_init(Default::default).lock().unwrap();
    modules
        .entry(path.to_path_buf())
        .or_insert_with(|| {
            let wasm = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            Module::new(engine(), &wasm).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .clone()
}

/// The store's data: WASI plus what a test's imports keep.
pub struct Host<T = ()> {
    /// WASI preview 1 (wasi-common).
    pub wasi: WasiCtx,
    /// How deep the re-entrant host imports are now, and the deepest they have been.
    pub depth: u32,
    /// See `depth`.
    pub max_depth: u32,
    /// Whatever else a test's imports keep.
    pub data: T,
}

impl<T> std::fmt::Debug for Host<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("depth", &self.depth)
            .field("max_depth", &self.max_depth)
            .finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for Guest<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest").field("host", self.store.data()).finish_non_exhaustive()
    }
}

/// An instance of a guest on wasmi with its stderr captured.
pub struct Guest<T = ()> {
    /// The store.
    pub store: Store<Host<T>>,
    /// The instance.
    pub instance: Instance,
    stderr: Arc<RwLock<Vec<u8>>>,
}

impl Guest {
    /// Instantiates guest `name` (from `tests/guests`) with WASI and the re-entry imports, and
    /// calls `_initialize`.
    pub fn init(name: &str) -> Result<Guest> {
        let module = module(&crate::guest_path(name));
        Guest::init_with_imports(&module, (), reentry_imports)
    }
}

impl<T: Send + 'static> Guest<T> {
    /// Instantiates `module` with WASI plus the imports `add` defines, and calls `_initialize`.
    pub fn init_with_imports(
        module: &Module,
        data: T,
        add: impl FnOnce(&mut Linker<Host<T>>) -> Result<()>,
    ) -> Result<Guest<T>> {
        let mut g = Guest::with_imports(module, data, add)?;
        g.call::<(), ()>("_initialize", ())?;
        Ok(g)
    }

    /// Instantiates `module` with WASI plus the imports `add` defines.
    pub fn with_imports(
        module: &Module,
        data: T,
        add: impl FnOnce(&mut Linker<Host<T>>) -> Result<()>,
    ) -> Result<Guest<T>> {
        let stderr = Arc::new(RwLock::new(Vec::new()));
        let wasi = wasmi_wasi::WasiCtxBuilder::new()
            .stderr(Box::new(WritePipe::from_shared(stderr.clone())))
            .build();
        let mut store = Store::new(engine(), Host { wasi, depth: 0, max_depth: 0, data });
        let mut linker = Linker::new(engine());
        wasmi_wasi::add_to_linker(&mut linker, |h: &mut Host<T>| &mut h.wasi)
            .map_err(|e| Error::new(e.to_string()))?;
        add(&mut linker)?;
        let instance = linker.instantiate_and_start(&mut store, module)?;
        Ok(Guest { store, instance, stderr })
    }

    /// Calls export `name` with typed params and results.
    pub fn call<P: WasmParams, R: WasmResults>(&mut self, name: &str, params: P) -> Result<R> {
        let f = self.instance.get_typed_func::<P, R>(&self.store, name)?;
        f.call(&mut self.store, params)
    }

    /// Everything the guest wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.read().unwrap()).into_owned()
    }
}

/// Whether `err` is a wasm trap (not a host error or a link error).
pub fn is_trap(err: &Error) -> bool {
    err.as_trap_code().is_some()
}

/// Defines the `test` imports through which a guest re-enters itself, as
/// [`crate::reentry_imports`] does for wasmtime: `reenter(n)` calls `recurse(n)`,
/// `reenter_async(n)` `recurse_async(n)`, `call_inner()` `inner_spawns()` and
/// `call_nested_waker()` `nested_wakes_outer()`, tracking the depth in `Host`.
pub fn reentry_imports<T: Send + 'static>(linker: &mut Linker<Host<T>>) -> Result<()> {
    for (import, export) in [("reenter", "recurse"), ("reenter_async", "recurse_async")] {
        linker.func_wrap("test", import, move |mut caller: Caller<'_, Host<T>>, n: i32| {
            call_back::<T, i32, i32>(&mut caller, export, n)
        })?;
    }
    for (import, export) in
        [("call_inner", "inner_spawns"), ("call_nested_waker", "nested_wakes_outer")]
    {
        linker.func_wrap("test", import, move |mut caller: Caller<'_, Host<T>>| {
            call_back::<T, (), i32>(&mut caller, export, ())
        })?;
    }
    Ok(())
}

/// Calls export `name` of the instance that called the host, one level deeper.
pub fn call_back<T, P: WasmParams, R: WasmResults>(
    caller: &mut Caller<'_, Host<T>>,
    name: &str,
    params: P,
) -> Result<R> {
    let Some(func) = caller.get_export(name).and_then(Extern::into_func) else {
        return Err(Error::new(format!("the guest has no export {name:?}")));
    };
    let func = func.typed::<P, R>(&*caller)?;
    let host = caller.data_mut();
    host.depth += 1;
    host.max_depth = host.max_depth.max(host.depth);
    let result = func.call(&mut *caller, params);
    caller.data_mut().depth -= 1;
    result
}
