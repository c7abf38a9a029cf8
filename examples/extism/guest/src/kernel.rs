//! Extism's kernel, the `extism:host/env` imports every Extism host provides, declared with
//! `#[wasmimport]`, and safe wrappers over the few this plugin uses. No extism-pdk.
//!
//! The kernel keeps its own memory: an Extism offset (`u64`) names a block there, not a place
//! in this module's memory, so bytes cross one `load`/`store` call per 8 bytes.

use wasmexport::wasmimport;

#[wasmimport(module = "extism:host/env", name = "input_length")]
fn input_length() -> u64;
#[wasmimport(module = "extism:host/env", name = "input_load_u8")]
fn input_load_u8(offset: u64) -> u32;
#[wasmimport(module = "extism:host/env", name = "input_load_u64")]
fn input_load_u64(offset: u64) -> u64;
#[wasmimport(module = "extism:host/env", name = "alloc")]
fn alloc(len: u64) -> u64;
#[wasmimport(module = "extism:host/env", name = "free")]
fn free(offset: u64);
#[wasmimport(module = "extism:host/env", name = "length")]
fn length(offset: u64) -> u64;
#[wasmimport(module = "extism:host/env", name = "load_u8")]
fn load_u8(offset: u64) -> u32;
#[wasmimport(module = "extism:host/env", name = "load_u64")]
fn load_u64(offset: u64) -> u64;
#[wasmimport(module = "extism:host/env", name = "store_u8")]
fn store_u8(offset: u64, byte: u32);
#[wasmimport(module = "extism:host/env", name = "store_u64")]
fn store_u64(offset: u64, word: u64);
#[wasmimport(module = "extism:host/env", name = "output_set")]
fn output_set(offset: u64, len: u64);
#[wasmimport(module = "extism:host/env", name = "error_set")]
fn error_set(offset: u64);
#[wasmimport(module = "extism:host/env", name = "config_get")]
fn config_get(key: u64) -> u64;
#[wasmimport(module = "extism:host/env", name = "log_info")]
fn log_info(offset: u64);
#[wasmimport(module = "extism:host/env", name = "log_warn")]
fn log_warn(offset: u64);
#[wasmimport(module = "extism:host/env", name = "log_error")]
fn log_error(offset: u64);

/// Copies `bytes` into a new kernel block and returns its offset. Allocates nothing in this
/// module, so the trap reporter can use it.
fn store(bytes: &[u8]) -> u64 {
    // SAFETY: the kernel functions take and return plain integers; an offset the kernel
    // returned is valid for `bytes.len()` bytes.
    unsafe {
        let block = alloc(bytes.len() as u64);
        let mut words = bytes.chunks_exact(8);
        let mut at = block;
        for word in &mut words {
            let mut w = [0; 8];
            w.copy_from_slice(word);
            store_u64(at, u64::from_le_bytes(w));
            at += 8;
        }
        for &b in words.remainder() {
            store_u8(at, u32::from(b));
            at += 1;
        }
        block
    }
}

/// Reads `len` bytes starting at `offset` with the given 8-byte and 1-byte loads.
fn load_with(len: u64, word: impl Fn(u64) -> u64, byte: impl Fn(u64) -> u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len as usize);
    let mut at = 0;
    while at + 8 <= len {
        out.extend_from_slice(&word(at).to_le_bytes());
        at += 8;
    }
    while at < len {
        out.push(byte(at) as u8);
        at += 1;
    }
    out
}

/// The call's input.
pub fn input() -> Vec<u8> {
    // SAFETY: plain integers; offsets below `input_length()` are the input's bytes.
    unsafe { load_with(input_length(), |at| input_load_u64(at), |at| input_load_u8(at)) }
}

/// Sets the call's output.
pub fn output(bytes: &[u8]) {
    let block = store(bytes);
    // SAFETY: `block` is a kernel block of `bytes.len()` bytes.
    unsafe { output_set(block, bytes.len() as u64) }
}

/// Sets the call's error: the host's call fails with `message`.
pub fn set_error(message: &str) {
    let block = store(message.as_bytes());
    // SAFETY: `block` is a kernel block holding the message.
    unsafe { error_set(block) }
}

/// The host's config value for `key`, if set (and UTF-8).
pub fn config(key: &str) -> Option<String> {
    let key_block = store(key.as_bytes());
    // SAFETY: plain integers; a non-zero result is a kernel block of `length(value)` bytes,
    // which this call owns and frees.
    unsafe {
        let value = config_get(key_block);
        free(key_block);
        if value == 0 {
            return None;
        }
        let bytes = load_with(length(value), |at| load_u64(value + at), |at| load_u8(value + at));
        free(value);
        String::from_utf8(bytes).ok()
    }
}

/// Extism's log levels this plugin uses.
#[derive(Clone, Copy)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// Logs `message` through the host's logger.
pub fn log(level: Level, message: &str) {
    let block = store(message.as_bytes());
    // SAFETY: `block` is a kernel block holding the message; the logger reads it during the
    // call, after which it is ours to free.
    unsafe {
        match level {
            Level::Info => log_info(block),
            Level::Warn => log_warn(block),
            Level::Error => log_error(block),
        }
        free(block);
    }
}
