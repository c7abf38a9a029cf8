//! Export names that cannot work. On wasm a function's symbol name is its export name (stable
//! Rust has no way to set them apart: LLVM's `wasm-export-name` attribute is reachable from C's
//! `__attribute__((export_name))` only), so an export is also a definition of that symbol in the
//! final link.
//!
//! - `memory`: every module exports its linear memory under that name; a function export of the
//!   same name makes engines reject the module ("duplicate export name").
//! - The symbols of the toolchain's own libraries (wasi-libc, its start files, Rust's standard
//!   library): `malloc` or `exit` fail to link ("duplicate symbol"), and `getenv`, `write` or
//!   `memcpy` link but silently replace the function that std and libc call. The list is
//!   generated from the sysroot and checked against it by a test (`reserved_symbols.rs`). For
//!   `malloc`, `free`, `calloc` and `realloc`, which hosts do call, the error gives the link
//!   argument that exports libc's own.
//! - The symbols wasm-ld synthesizes (`__heap_base`, `__wasm_call_ctors`, ...).
//! - `main` in a `bin`: rustc defines it as the program's C entry point.

#[path = "reserved_symbols.rs"]
mod generated;

/// Symbols wasm-ld defines itself (lld/wasm/Symbols.h and Driver.cpp); a definition of one in
/// an object file is a "symbol type mismatch" or replaces the linker's.
const LINKER: &[&str] = &[
    "__data_end",
    "__dso_handle",
    "__global_base",
    "__heap_base",
    "__heap_end",
    "__indirect_function_table",
    "__memory_base",
    "__stack_high",
    "__stack_low",
    "__stack_pointer",
    "__table_base",
    "__tls_align",
    "__tls_base",
    "__tls_size",
    "__wasm_apply_data_relocs",
    "__wasm_apply_global_relocs",
    "__wasm_call_ctors",
    "__wasm_first_page_end",
    "__wasm_init_memory",
    "__wasm_init_memory_flag",
    "__wasm_init_tls",
];

/// Why `name` cannot be an export name, or `None` if it can. `in_bin`: the crate is a `bin`.
pub fn why(name: &str, in_bin: bool) -> Option<String> {
    let why = match name {
        "_start" | "_initialize" => {
            format!("`{name}` is reserved: the runtime defines it for the WASI host")
        }
        "memory" => "`memory` is reserved: every module exports its linear memory under that \
                     name, and engines reject a module with two exports of one name"
            .to_string(),
        "main" if in_bin => "`main` is reserved in a bin: rustc defines the program's C entry \
                             point under that symbol name"
            .to_string(),
        "malloc" | "free" | "calloc" | "realloc" => format!(
            "`{name}` is wasi-libc's allocator, which Rust's global allocator calls on \
             wasm32-wasip1, and on wasm an export's name is also its symbol name: this export \
             would be a second `{name}` (a duplicate symbol)\n\
             For a host that calls the guest's `{name}` (wazero's examples, TinyGo's \
             convention), export libc's own from the cdylib's build script (build.rs):\n    \
             println!(\"cargo:rustc-link-arg-cdylib=--export={name}\");\n\
             or in .cargo/config.toml: [target.wasm32-wasip1] rustflags = \
             [\"-C\", \"link-arg=--export={name}\"]"
        ),
        _ if LINKER.contains(&name) => format!(
            "`{name}` is reserved: the linker defines it (on wasm an export's name is also \
             its symbol name)"
        ),
        _ if generated::SYMBOLS.binary_search(&name).is_ok() => format!(
            "`{name}` is a symbol of the toolchain's own libraries (wasi-libc or Rust's standard \
             library), and on wasm an export's name is also its symbol name: the link would fail \
             with a duplicate symbol, or the export would silently replace the `{name}` that \
             libc and std call; export it under another name, such as \"plugin_{}\"",
            name.trim_start_matches('_')
        ),
        _ => return None,
    };
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_for_binary_search_and_name_what_breaks() {
        assert!(generated::SYMBOLS.windows(2).all(|w| w[0] < w[1]));
        for name in ["exit", "getenv", "write", "memcpy", "__main_void", "aligned_alloc"] {
            assert!(why(name, false).unwrap().contains("toolchain's own libraries"), "{name}");
        }
        // The allocator a host may call: the message says how to export libc's own.
        for name in ["malloc", "free", "calloc", "realloc"] {
            assert!(generated::SYMBOLS.contains(&name), "{name} is libc's");
            let why = why(name, false).unwrap();
            assert!(why.contains(&format!("cargo:rustc-link-arg-cdylib=--export={name}")), "{why}");
            assert!(why.contains(&format!("link-arg=--export={name}\"]")), "{why}");
        }
        assert!(why("memory", false).unwrap().contains("linear memory"));
        assert!(why("__heap_base", false).unwrap().contains("the linker"));
        assert_eq!(why("main", false), None);
        assert!(why("main", true).is_some());
        for fine in ["add", "handle", "wasi:http/incoming-handler@0.2.0#handle", "getpid"] {
            assert_eq!(why(fine, false), None, "{fine}");
        }
    }
}
