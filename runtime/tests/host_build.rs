//! Host builds: on a target other than wasm, `#[wasmexport]` fns are plain Rust fns that define
//! no C symbol, and a `#[wasmimport]` fn panics naming the import, so that plugin logic can be
//! unit-tested with `cargo test` on the build machine.

use wasmexport::{wasmexport, wasmimport};

/// glibc's `getpid`, which `std::process::id()` calls (wasi-libc has none, so the export name is
/// allowed). A shim that defined the C symbol `getpid` would replace glibc's in this binary.
#[wasmexport]
fn getpid() -> i32 {
    7
}

#[wasmimport(module = "host", name = "lookup")]
fn lookup(key: i32) -> i32;

#[wasmimport(module = "wasi:keyvalue/store@0.2.0", name = "get")]
fn get(key: u32, out: *mut u8);

#[test]
fn an_export_is_a_plain_fn_and_replaces_no_platform_symbol() {
    assert_eq!(getpid(), 7);
    #[cfg(target_os = "linux")]
    {
        let proc_self = std::fs::read_link("/proc/self").unwrap();
        let pid: u32 = proc_self.to_str().unwrap().parse().unwrap();
        assert_eq!(std::process::id(), pid);
    }
    println!("still running after the export was called");
}

#[test]
#[should_panic(
    expected = "wasmexport: host import \"host\" \"lookup\" (#[wasmimport] fn lookup) called in a \
                build for a target other than wasm: only a wasm host provides it"
)]
fn an_import_panics_naming_the_import() {
    // SAFETY: the import has no preconditions; on this target it panics before any host call.
    unsafe { lookup(1) };
}

#[test]
#[should_panic(expected = "host import \"wasi:keyvalue/store@0.2.0\" \"get\"")]
fn an_import_without_a_result_panics_too() {
    // SAFETY: as above.
    unsafe { get(1, std::ptr::null_mut()) };
}
