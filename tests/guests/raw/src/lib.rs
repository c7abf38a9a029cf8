//! The floor the others are measured against: plain `extern "C"` exports, in the leanest
//! reactor one can write by hand.

/// A hand-written reactor's `_initialize`: it runs the constructors itself. Without an export
/// that references `__wasm_call_ctors`, wasm-ld wraps every export in a `.command_export` shim
/// that runs constructors and destructors around each call, which would make the floor slower
/// than it need be.
#[unsafe(no_mangle)]
extern "C" fn _initialize() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    // SAFETY: the linker's constructor runner; hosts call `_initialize` once, first.
    unsafe { __wasm_call_ctors() }
}

#[unsafe(no_mangle)]
extern "C" fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}

#[link(wasm_import_module = "test")]
unsafe extern "C" {
    fn reenter(n: i32) -> i32;
}

/// Recurses through the host: `recurse(n)` calls the host's `test.reenter(n - 1)`, which calls
/// `recurse(n - 1)`. Returns the depth reached.
#[unsafe(no_mangle)]
extern "C" fn recurse(n: i32) -> i32 {
    if n <= 0 {
        return 0;
    }
    // SAFETY: the test host implements `reenter` by calling back into this export.
    1 + unsafe { reenter(n - 1) }
}
