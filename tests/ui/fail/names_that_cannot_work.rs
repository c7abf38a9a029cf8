use wasmexport::wasmexport;

// Every module exports its linear memory as `memory`.
#[wasmexport]
fn memory() -> u32 {
    0
}

// wasi-libc's allocator: the link would fail with "duplicate symbol"; the error says how to
// export libc's own for a host that calls them.
#[wasmexport(malloc)]
fn alloc(size: u32) -> *mut u8 {
    std::ptr::null_mut::<u8>().wrapping_add(size as usize)
}

#[wasmexport("free")]
fn release(_ptr: *mut u8) {}

#[wasmexport("realloc")]
fn grow(_ptr: *mut u8, _size: u32) -> *mut u8 {
    std::ptr::null_mut()
}

// Named after the fn: the hint about the name ends the first line, before the recipe.
#[wasmexport]
fn calloc(_count: u32, _size: u32) -> *mut u8 {
    std::ptr::null_mut()
}

// These link, but replace the function that std and libc call.
#[wasmexport]
fn getenv(_key: *const u8) -> *const u8 {
    std::ptr::null()
}

#[wasmexport("write")]
fn write_out(_fd: i32, _buf: *const u8, _len: u32) -> i32 {
    0
}

// The linker's and the runtime's own symbols.
#[wasmexport("__heap_base")]
fn heap() {}

#[wasmexport("__main_void")]
fn main_void() -> i32 {
    0
}

// A bin's `main` symbol is rustc's C entry point (trybuild builds each case as a bin).
#[wasmexport("main")]
fn entry() -> i32 {
    0
}

fn main() {}
