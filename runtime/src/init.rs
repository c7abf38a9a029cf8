//! `_initialize` (SPEC M1, M2): constructors once, the panic hook, then every
//! `#[wasmexport::init]` fn once, in declaration order within a crate.

use crate::call::{self, current_export};
use crate::trap::report;

/// One `#[wasmexport::init]` fn, registered by a static constructor that the macro emits.
#[doc(hidden)]
pub struct InitHook {
    /// The fn to run.
    pub run: fn(),
    /// `module_path!()` where it was declared; its first segment is the crate.
    pub module: &'static str,
    /// `file!()`, `line!()` and `column!()` of the declaration: the order within a crate.
    pub file: &'static str,
    /// See `file`.
    pub line: u32,
    /// See `file`.
    pub column: u32,
}

inventory::collect!(InitHook);

/// The reactor's `_initialize` export.
///
/// Calling it again does nothing, as does calling it from inside an init hook.
#[cfg(all(target_family = "wasm", not(feature = "command")))]
#[unsafe(export_name = "_initialize")]
extern "C" fn _initialize() {
    initialize();
}

/// Runs the module's initialization once; later calls return at once. `_initialize` calls it;
/// host-side tests (where there is no `_initialize` export) call it directly.
pub fn initialize() {
    if call::initialized() {
        return;
    }
    run_ctors_once();
    init_runtime();
}

/// A command's `main` (`#[wasmexport::main]`): `_start` has run the constructors already; this
/// runs the init hooks, then main as a task on the executor, then marks the command exited so
/// that later export calls trap with a clear message (M4).
pub fn run_main<F>(main: F) -> F::Output
where
    F: std::future::Future + 'static,
    F::Output: 'static,
{
    init_runtime();
    let out = crate::call::call_async("main", main);
    call::mark_exited();
    out
}

/// The panic hook and the init hooks, once.
fn init_runtime() {
    if call::initialized() {
        return;
    }
    install_panic_hook();
    call::initializing(run_hooks_in_order);
}

/// wasm-ld synthesizes `__wasm_call_ctors` to run static constructors (including the ones that
/// register init hooks). Referencing it from an export also tells wasm-ld that the module runs
/// its constructors itself, so it does not wrap every export in a `NAME.command_export` shim.
///
/// wit-bindgen-rt's `run_ctors_once` does the same in ten lines, but every version of that crate
/// (checked 0.24 to 0.44) also defines `#[no_mangle] cabi_realloc` symbols, which rustc exports
/// from every cdylib that links it: that breaks SPEC M1 (no exports but the user's, `memory`
/// and `_initialize`). So the call is made here; `initialize` guards it to run once.
fn run_ctors_once() {
    #[cfg(target_family = "wasm")]
    {
        unsafe extern "C" {
            fn __wasm_call_ctors();
        }
        // SAFETY: the linker's own constructor runner; `initialize` calls this at most once per
        // instance, before any other code of the module has run.
        unsafe { __wasm_call_ctors() }
    }
}

/// Runs every init hook once, ordered by (crate, file, line, column), ties by address.
///
/// A selection of the next hook each round, O(n^2) in the number of hooks, which is small: it
/// needs no `Vec` and no sort, which would add about 20 KB of generic sorting and string
/// searching code to every module (issue 7's size figure).
fn run_hooks_in_order() {
    fn key(h: &'static InitHook) -> (&'static [u8], &'static str, u32, u32, usize) {
        let module = h.module.as_bytes();
        let end = module.iter().position(|&b| b == b':').unwrap_or(module.len());
        let crate_name = module.get(..end).unwrap_or_default();
        (crate_name, h.file, h.line, h.column, h as *const InitHook as usize)
    }
    let mut last = None;
    loop {
        let mut next: Option<&'static InitHook> = None;
        for hook in inventory::iter::<InitHook> {
            let k = key(hook);
            if last.is_none_or(|l| k > l) && next.is_none_or(|n| k < key(n)) {
                next = Some(hook);
            }
        }
        let Some(hook) = next else { return };
        last = Some(key(hook));
        (hook.run)();
    }
}

/// E8: a panic prints one `wasmexport:` line naming the export and poisons the instance; std then
/// aborts, which traps (wasm32-wasip1 builds with panic=abort).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        call::poison_by_panic();
        let msg = info.payload_as_str().unwrap_or("Box<dyn Any>");
        let export = current_export();
        let (place, quote) =
            if export.is_empty() { ("outside any export", "") } else { ("in export \"", "\"") };
        match info.location() {
            Some(at) => report(format_args!(
                "panic {place}{export}{quote}: {msg} at {}:{}:{}; the instance is poisoned and \
                 later calls trap",
                at.file(),
                at.line(),
                at.column()
            )),
            None => report(format_args!(
                "panic {place}{export}{quote}: {msg}; the instance is poisoned and later calls trap"
            )),
        }
    }));
}
