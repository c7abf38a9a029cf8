//! Initialization: `_initialize` (or a command's `_start`) runs the static constructors once,
//! keeps the user's panic hook behind the runtime's, then runs every `#[wasmexport::init]` fn
//! once, a crate's after those of the crates it uses, within a crate by file, line and column.
//! An initialization cut short by a trap is never resumed: every later call traps.

use crate::gate::{self, current_export};
use crate::trap::report;
use std::cell::Cell;
use std::cmp::Ordering;
use std::panic::PanicHookInfo;

/// One `#[wasmexport::init]` fn, registered by a static constructor that the macro emits.
#[doc(hidden)]
#[derive(Debug)]
pub struct InitHook {
    /// The fn to run.
    pub run: fn(),
    /// The crates that the declaring crate uses directly, by name.
    pub deps: &'static [&'static str],
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
/// Calling it again after it returned does nothing. If it did not return (a trap or a panic cut
/// it short), every later call, this one included, traps: what already ran cannot be told apart
/// from what did not, and running a constructor or an init hook twice is no better than
/// skipping one.
#[cfg(all(target_family = "wasm", not(feature = "command")))]
#[unsafe(export_name = "_initialize")]
extern "C" fn _initialize() {
    initialize();
}

/// Runs the module's initialization once; see `_initialize`, which calls it. Host-side tests
/// (where there is no `_initialize` export) may call it directly.
pub fn initialize() {
    if !gate::begin_init("_initialize") {
        return;
    }
    run_ctors();
    init_runtime();
}

/// A command's `main` (`#[wasmexport::main]`): `_start` has run the constructors already; this
/// runs the init hooks, then main as a task on the executor, then marks the command exited so
/// that later export calls trap with a clear message.
pub fn run_main<F>(main: F) -> F::Output
where
    F: std::future::Future + 'static,
    F::Output: 'static,
{
    started_by_start();
    if gate::begin_init("_start") {
        init_runtime();
    }
    let out = crate::call::call_async("main", main);
    gate::mark_exited();
    out
}

/// After the constructors: the user's panic hook behind the runtime's, then the init hooks.
fn init_runtime() {
    keep_user_panic_hook();
    run_hooks_in_order();
    gate::finish_init();
}

thread_local! {
    /// The runtime's static constructor has run.
    static CONSTRUCTED: Cell<bool> = const { Cell::new(false) };
}

/// The runtime's own static constructor, run before the user's: it installs the runtime's panic
/// hook (so that a hook a user's constructor installs is seen, and kept, afterwards) and notes
/// that the constructors ran.
///
/// Priority 100 puts it before constructors of the default priority (Rust's, inventory's) and
/// of the priorities C and C++ leave to applications (101 and up); wasm-ld runs constructors by
/// priority, then in link order.
#[cfg(target_family = "wasm")]
#[used]
#[unsafe(link_section = ".init_array.100")]
static CONSTRUCTOR: extern "C" fn() = constructor;

extern "C" fn constructor() {
    CONSTRUCTED.set(true);
    set_panic_hook(None);
}

/// A command's main runs only from `_start`, which runs the constructors first. rustc also
/// exports `__main_void`, which runs main without them (and so without the init hooks, which
/// constructors register): called that way, trap before any user code runs.
fn started_by_start() {
    if !CONSTRUCTED.get() {
        #[cfg(target_family = "wasm")]
        crate::trap::trap(format_args!(
            "main called without the static constructors (the host called __main_void or main \
             instead of _start): call _start, the command's entry point"
        ));
        // Off wasm nothing runs constructors for the runtime: do it here.
        #[cfg(not(target_family = "wasm"))]
        constructor();
    }
}

/// wasm-ld synthesizes `__wasm_call_ctors` to run static constructors (including the ones that
/// register init hooks). Referencing it from an export also tells wasm-ld that the module runs
/// its constructors itself, so it does not wrap every export in a `NAME.command_export` shim.
///
/// wit-bindgen-rt's `run_ctors_once` does the same in ten lines, but every version of that crate
/// (checked 0.24 to 0.44) also defines `#[no_mangle] cabi_realloc` symbols, which rustc exports
/// from every cdylib that links it, adding exports the user did not write. So the call is made
/// here; `gate::begin_init` guards it to run once.
fn run_ctors() {
    #[cfg(target_family = "wasm")]
    {
        unsafe extern "C" {
            fn __wasm_call_ctors();
        }
        // SAFETY: the linker's own constructor runner; `initialize` calls this at most once per
        // instance, before any other code of the module has run.
        unsafe { __wasm_call_ctors() }
    }
    #[cfg(not(target_family = "wasm"))]
    constructor();
}

/// Runs every init hook once: crate by crate, each crate's after those of every crate it uses
/// (Go's package order), within a crate by `file!()` path, then line, then column.
///
/// The macro records with each hook the crates that its crate uses directly (from the command
/// line of rustc, see the macro). A crate's depth is 0 if it uses no crate with hooks, else one
/// more than the deepest such crate it uses; crates run by depth, crates of equal depth in the
/// order of inventory's registry. Link order cannot stand in for this: wasm-ld loads a library's
/// object files in the order it needs their symbols, and the `--export` list that pulls in the
/// objects of a library used only for its exports (`use the_lib as _;`) is a hash set.
///
/// No `Vec` and no sort: both would add about 20 KB of generic code to every module, and
/// selecting the next hook each round is quick for the few hooks a module has.
fn run_hooks_in_order() {
    let hooks = || inventory::iter::<InitHook>.into_iter();
    // A crate's first hook in the registry stands for the crate.
    let firsts = || {
        hooks()
            .enumerate()
            .filter(move |&(i, first)| !hooks().take(i).any(|h| same_crate(h, first)))
    };
    let deepest = firsts().map(|(_, first)| depth(first)).max().unwrap_or(0);
    for level in 0..=deepest {
        for (_, first) in firsts().filter(|&(_, first)| depth(first) == level) {
            let mut last: Option<&InitHook> = None;
            while let Some(hook) = hooks()
                .filter(|h| same_crate(h, first) && last.is_none_or(|l| order(h, l).is_gt()))
                .min_by(|a, b| order(a, b))
            {
                last = Some(hook);
                (hook.run)();
            }
        }
    }
}

/// The depth of `hook`'s crate: 0 if it uses no crate with init hooks, else one more than the
/// deepest such crate it uses.
fn depth(hook: &InitHook) -> usize {
    // Crates form no cycles; the bound only keeps a malformed registry from recursing forever.
    fn depth_within(hook: &InitHook, bound: usize) -> usize {
        let Some(bound) = bound.checked_sub(1) else { return 0 };
        let hooks = || inventory::iter::<InitHook>.into_iter();
        hook.deps
            .iter()
            .filter_map(|dep| hooks().find(|h| crate_name(h) == dep.as_bytes()))
            .map(|dep| 1 + depth_within(dep, bound))
            .max()
            .unwrap_or(0)
    }
    depth_within(hook, inventory::iter::<InitHook>.into_iter().count())
}

/// The crate a hook was declared in: the first segment of its module path.
fn crate_name(h: &InitHook) -> &[u8] {
    // A byte scan: `str::split_once` would bring a substring searcher, slower and larger.
    let module = h.module.as_bytes();
    let end = module.iter().position(|&b| b == b':').unwrap_or(module.len());
    module.get(..end).unwrap_or_default()
}

/// Whether two hooks were declared in one crate.
fn same_crate(a: &InitHook, b: &InitHook) -> bool {
    // Hooks of one module share the `module_path!()` string.
    std::ptr::eq(a.module, b.module) || crate_name(a) == crate_name(b)
}

/// The order of one crate's hooks: file, line, column, then address. Hooks of one file share
/// the `file!()` string, so its address is compared first: comparing its bytes for every pair
/// would cost more than the rest of the initialization.
fn order(a: &InitHook, b: &InitHook) -> Ordering {
    let file = if std::ptr::eq(a.file, b.file) { Ordering::Equal } else { a.file.cmp(b.file) };
    file.then(a.line.cmp(&b.line))
        .then(a.column.cmp(&b.column))
        .then((&raw const *a).cmp(&(&raw const *b)))
}

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

thread_local! {
    /// The address of the panic hook the runtime installed last, to tell whether code that ran
    /// since replaced it.
    static RUNTIME_HOOK: Cell<usize> = const { Cell::new(0) };
    /// The runtime's hook is running the user's: a call back into the runtime's (a user's hook
    /// that chains with `take_hook`) must not report the panic again.
    static IN_USER_HOOK: Cell<bool> = const { Cell::new(false) };
}

fn address(hook: &PanicHook) -> usize {
    (&raw const **hook).cast::<()>() as usize
}

/// Installs the runtime's panic hook, which reports the panic, then runs `user`'s.
fn set_panic_hook(user: Option<PanicHook>) {
    // Capturing the `Option` makes the closure non-zero-sized, so its box has an address of its
    // own for `keep_user_panic_hook` to compare.
    let hook: PanicHook = Box::new(move |info| {
        if !IN_USER_HOOK.get() {
            report_panic(info);
        }
        if let Some(user) = &user {
            IN_USER_HOOK.set(true);
            user(info);
            IN_USER_HOOK.set(false);
        }
    });
    RUNTIME_HOOK.set(address(&hook));
    std::panic::set_hook(hook);
}

/// After the constructors: a panic hook one of them installed (replacing the runtime's, or
/// wrapping it with `take_hook`) runs after the runtime's, which reports and poisons first.
/// Hooks installed later follow std's rules: one that chains with `take_hook` keeps the
/// runtime's, one that does not replaces it (calls after a panic still trap, as one that did
/// not return, without the panic's line).
fn keep_user_panic_hook() {
    let current = std::panic::take_hook();
    if address(&current) == RUNTIME_HOOK.get() {
        std::panic::set_hook(current);
    } else {
        set_panic_hook(Some(current));
    }
}

/// The runtime's part of the panic hook: one `wasmexport:` line naming the export, and the
/// instance poisoned; std then aborts, which traps (wasm32-wasip1 builds with panic=abort).
fn report_panic(info: &PanicHookInfo<'_>) {
    gate::poison_by_panic();
    let msg = info.payload_as_str().unwrap_or("Box<dyn Any>");
    let place = crate::executor::panic_place(current_export());
    match info.location() {
        Some(at) => report(format_args!(
            "panic {place}: {msg} at {}:{}:{}; the instance is poisoned and later calls trap",
            at.file(),
            at.line(),
            at.column()
        )),
        None => report(format_args!(
            "panic {place}: {msg}; the instance is poisoned and later calls trap"
        )),
    }
}
