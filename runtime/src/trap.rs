//! Traps this crate causes on purpose: one `wasmexport:` line on stderr, then `unreachable`.

use std::fmt;
use std::io::Write;

/// Writes `wasmexport: {msg}` to fd 2 in one write, then traps.
///
/// On targets other than wasm (the crate's own host-side tests) it panics with the same text
/// instead, so that tests can observe it.
#[cold]
#[inline(never)]
pub(crate) fn trap(msg: fmt::Arguments<'_>) -> ! {
    let line = format!("wasmexport: {msg}\n");
    #[cfg(target_family = "wasm")]
    {
        let _ = std::io::stderr().write_all(line.as_bytes());
        core::arch::wasm32::unreachable()
    }
    #[cfg(not(target_family = "wasm"))]
    {
        let _ = std::io::stderr().flush();
        panic!("{}", line.trim_end())
    }
}

/// Writes one `wasmexport:` line without trapping (the panic hook's message; std traps after it).
pub(crate) fn report(msg: fmt::Arguments<'_>) {
    let line = format!("wasmexport: {msg}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}
