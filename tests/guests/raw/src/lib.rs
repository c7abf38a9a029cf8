//! The floor the others are measured against: plain `extern "C"` exports.

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
