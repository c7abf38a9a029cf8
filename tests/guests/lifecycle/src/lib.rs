//! Initialization: a static constructor of the user's and eleven init hooks, each counting its
//! runs (the test cuts `_initialize` short at every instruction), and panic hooks the user
//! installs from the constructor and from an init hook.

use std::cell::Cell;
use wasmexport::wasmexport;

thread_local! {
    static CONSTRUCTOR_RUNS: Cell<u32> = const { Cell::new(0) };
    /// Decimal digit `i` counts the runs of init hook `i`.
    static HOOK_RUNS: Cell<u64> = const { Cell::new(0) };
}

/// A static constructor, as C code or a crate like `ctor` would register one.
#[used]
#[unsafe(link_section = ".init_array")]
static CONSTRUCTOR: extern "C" fn() = constructor;

extern "C" fn constructor() {
    CONSTRUCTOR_RUNS.set(CONSTRUCTOR_RUNS.get() + 1);
    // Replaces the hook installed before, as `set_hook` does.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("constructor's hook: {}", info.payload_as_str().unwrap_or("?"));
    }));
}

fn ran(hook: u32) {
    HOOK_RUNS.set(HOOK_RUNS.get() + 10u64.pow(hook));
}

macro_rules! hooks {
    ($($name:ident = $i:literal),*) => {$(
        #[wasmexport::init]
        fn $name() {
            ran($i);
        }
    )*};
}

hooks!(h0 = 0, h1 = 1, h2 = 2, h3 = 3, h4 = 4, h5 = 5, h6 = 6, h7 = 7, h8 = 8, h9 = 9);

/// The eleventh hook also installs a panic hook that chains to the one before it.
#[wasmexport::init]
fn chain_panic_hook() {
    ran(10);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        eprintln!("init hook's hook: {}", info.payload_as_str().unwrap_or("?"));
        previous(info);
    }));
}

/// How many times the constructor ran.
#[wasmexport]
fn constructor_runs() -> u32 {
    CONSTRUCTOR_RUNS.get()
}

/// Digit `i` is how many times init hook `i` ran: 11111111111 when each ran once.
#[wasmexport]
fn hook_runs() -> u64 {
    HOOK_RUNS.get()
}

#[wasmexport]
fn boom() {
    panic!("boom");
}
