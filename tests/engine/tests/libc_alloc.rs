//! A host that allocates in the guest through the guest's `malloc` and `free` (wazero's
//! examples, TinyGo's convention), with the `libc_alloc` guest, on wasmtime. `#[wasmexport]`
//! refuses those names (wasi-libc defines them); the guest's build script exports libc's own
//! with `cargo:rustc-link-arg-cdylib=--export=malloc` (and `free`). Rust's global allocator on
//! wasm32-wasip1 is that same malloc, so host blocks and Rust's come from one heap and never
//! overlap.

use wasmexport_engine_tests::{Guest, module};
use wasmtime::ValType;

fn guest() -> Guest {
    Guest::init("libc_alloc").unwrap()
}

fn malloc(g: &mut Guest, len: u32) -> u32 {
    let ptr = g.call::<u32, u32>("malloc", len).unwrap();
    assert_ne!(ptr, 0, "malloc({len}) failed");
    ptr
}

fn free(g: &mut Guest, ptr: u32) {
    g.call::<u32, ()>("free", ptr).unwrap();
}

fn write(g: &mut Guest, ptr: u32, bytes: &[u8]) {
    let memory = g.instance.get_memory(&mut g.store, "memory").unwrap();
    memory.write(&mut g.store, ptr as usize, bytes).unwrap();
}

fn read(g: &mut Guest, ptr: u32, len: usize) -> Vec<u8> {
    let memory = g.instance.get_memory(&mut g.store, "memory").unwrap();
    let mut buf = vec![0; len];
    memory.read(&g.store, ptr as usize, &mut buf).unwrap();
    buf
}

/// Whether `[a, a + a_len)` and `[b, b + b_len)` share a byte.
fn overlap(a: u32, a_len: u32, b: u32, b_len: u32) -> bool {
    a < b + b_len && b < a + a_len
}

/// One round trip: malloc a block, write `text`, call `digest` with pointer and length, check
/// the result and that the guest's own allocation stayed out of the block, free it.
fn round_trip(g: &mut Guest, text: &str) {
    let len = text.len() as u32;
    let (ptr, out) = (malloc(g, len), malloc(g, 4));
    write(g, ptr, text.as_bytes());
    let sum = g.call::<(u32, u32, u32), u32>("digest", (ptr, len, out)).unwrap();
    assert_eq!(sum, text.bytes().map(u32::from).sum::<u32>());
    let copy = u32::from_le_bytes(read(g, out, 4).try_into().unwrap());
    assert!(!overlap(copy, 2 * len, ptr, len), "Rust's copy at {copy:#x} inside {ptr:#x}");
    assert_eq!(read(g, ptr, text.len()), text.as_bytes(), "the host's bytes as written");
    free(g, out);
    free(g, ptr);
}

#[test]
fn the_module_exports_libcs_malloc_and_free() {
    let module = module("libc_alloc");
    let sig = |name: &str| {
        let ty = module.get_export(name).unwrap_or_else(|| panic!("no export {name}"));
        let ty = ty.func().unwrap().clone();
        let i32s = |t: Vec<ValType>| t.iter().filter(|t| matches!(t, ValType::I32)).count();
        (i32s(ty.params().collect()), i32s(ty.results().collect()), ty.params().len())
    };
    // malloc(size: i32) -> i32 and free(ptr: i32): nothing but i32s.
    assert_eq!(sig("malloc"), (1, 1, 1));
    assert_eq!(sig("free"), (1, 0, 1));
}

#[test]
fn the_host_allocates_writes_calls_and_frees() {
    let mut g = guest();
    round_trip(&mut g, "héllo from the host, through libc's malloc");
    round_trip(&mut g, &"x".repeat(100_000));
    assert_eq!(g.stderr(), "");
}

#[test]
fn host_blocks_and_rust_blocks_come_from_one_heap() {
    let mut g = guest();
    // A block the host frees is the next one Rust's allocator hands out for that size: one
    // allocator, not two heaps that happen not to collide yet.
    let freed = malloc(&mut g, 48);
    free(&mut g, freed);
    assert_eq!(g.call::<u32, u32>("rust_block", 48).unwrap(), freed);
    // A block the host holds is never handed to Rust, and Rust's blocks stay out of it.
    let held = malloc(&mut g, 48);
    write(&mut g, held, &[0x5A; 48]);
    let mut rust = Vec::new();
    for len in (1..=200).map(|i| i * 7 % 160 + 1) {
        let block = g.call::<u32, u32>("rust_block", len).unwrap();
        assert!(!overlap(block, len, held, 48), "Rust's block {block:#x} inside {held:#x}");
        rust.push((block, len));
    }
    assert_eq!(read(&mut g, held, 48), [0x5A; 48]);
    for (block, len) in rust {
        assert!(g.call::<(u32, u32), i32>("rust_block_intact", (block, len)).unwrap() != 0);
    }
    free(&mut g, held);
}

#[test]
fn thousands_of_round_trips_keep_memory_flat() {
    let mut g = guest();
    let text = |i: usize| "wasm ".repeat(i * 37 % 800 + 1);
    for i in 0..100 {
        round_trip(&mut g, &text(i));
    }
    let warm = g.memory_size();
    for i in 0..5_000 {
        round_trip(&mut g, &text(i));
    }
    assert_eq!(g.memory_size(), warm, "memory grew over 5,000 malloc/free round trips");
}
